package client

import (
	"context"
	"net"
	"sync"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/status"
)

// Conn is a client connection to one target. It is safe for concurrent use
// by any number of goroutines; their calls share one HTTP/2 connection.
type Conn struct {
	target string
	opts   options
	ct     string // content-type of requests

	mu     sync.Mutex
	cc     *connection.Conn   // the current connection; nil when none
	old    []*connection.Conn // replaced ones still finishing their calls
	closed bool
}

// Dial connects to target ("host:port") over prior-knowledge h2c. The
// connection is made before Dial returns; if it is lost later, the next
// call makes a new one.
func Dial(target string, opts ...Option) (*Conn, error) {
	c := &Conn{target: target, opts: defaultOptions()}
	for _, o := range opts {
		o.apply(&c.opts)
	}
	if c.opts.authority == "" {
		c.opts.authority = target
	}
	c.ct = "application/grpc"
	if name := c.opts.codec.Name(); name != "proto" {
		c.ct += "+" + name
	}
	if _, err := c.conn(); err != nil {
		return nil, err
	}
	return c, nil
}

// conn returns the current connection, making a new one if there is none
// or the last one ended or is going away.
func (c *Conn) conn() (*connection.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, status.New(status.Canceled, "grpc: the client connection is closing")
	}
	if c.cc != nil && c.cc.Usable() {
		return c.cc, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.dialTimeout)
	defer cancel()
	dial := c.opts.dial
	if dial == nil {
		var d net.Dialer
		dial = func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	nc, err := dial(ctx, c.target)
	if err != nil {
		return nil, status.Newf(status.Unavailable, "connection error: %v", err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	cc, err := connection.NewClientConn(nc, c.opts.conn)
	if err != nil {
		return nil, status.Newf(status.Unavailable, "connection error: %v", err)
	}
	// A connection replaced here has ended, or is going away and closes
	// itself once its last stream ends; Close ends it sooner.
	if c.cc != nil {
		live := c.old[:0]
		for _, o := range append(c.old, c.cc) {
			select {
			case <-o.Done():
			default:
				live = append(live, o)
			}
		}
		c.old = live
	}
	c.cc = cc
	return cc, nil
}

// Close closes the connection; calls in progress end with UNAVAILABLE.
func (c *Conn) Close() error {
	c.mu.Lock()
	cc, old := c.cc, c.old
	c.cc, c.old, c.closed = nil, nil, true
	c.mu.Unlock()
	for _, o := range old {
		o.Close()
	}
	if cc != nil {
		return cc.Close()
	}
	return nil
}

// Target returns the address the Conn dials.
func (c *Conn) Target() string { return c.target }
