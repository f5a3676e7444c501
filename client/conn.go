package client

import (
	"context"
	"math/rand/v2"
	"net"
	"sync"
	"time"

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
	c.opts.unaryInt = chainUnary(c.opts.unaryInt, c.opts.unaryChain)
	c.opts.streamInt = chainStream(c.opts.streamInt, c.opts.streamChain)
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

// connFor returns the connection for a new call. A call that waits for
// ready (grpc.WaitForReady(true)) keeps trying to connect, backing off as
// gRPC's connection backoff says, until it connects or ctx ends; others
// fail at once with UNAVAILABLE.
func (c *Conn) connFor(ctx context.Context, waitForReady bool) (*connection.Conn, error) {
	delay := backoffBase
	for {
		cc, err := c.conn()
		if err == nil || !waitForReady || status.CodeOf(err) != status.Unavailable {
			return cc, err
		}
		t := time.NewTimer(jitter(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, contextStatus(ctx.Err())
		case <-t.C:
		}
		delay = min(time.Duration(float64(delay)*backoffMultiplier), backoffMax)
	}
}

// gRPC's connection backoff (doc/connection-backoff.md).
const (
	backoffBase       = time.Second
	backoffMultiplier = 1.6
	backoffJitter     = 0.2
	backoffMax        = 120 * time.Second
)

func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 + backoffJitter*(2*rand.Float64()-1)))
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
