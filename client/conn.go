package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/grpccompat"
	"github.com/h2grpc/h2grpc/status"
)

// Conn is a client connection to one target. It is safe for concurrent use
// by any number of goroutines; their calls share one HTTP/2 connection.
//
// It keeps that connection as gRPC's connectivity states say: idle until a
// call (or an eager Dial) needs it, connecting, ready once the server's
// SETTINGS arrived, and after a failed attempt in transient failure, from
// which it tries again after a backoff (doc/connection-backoff.md). A
// connection that is lost or goes away is replaced when the next call
// finds it so.
type Conn struct {
	target  string
	network string // "tcp" or "unix"
	addr    string // what is dialled
	opts    options
	ct      string // content-type of requests
	scheme  string // "http", or "https" with transport credentials

	// Owned by mu.
	mu      sync.Mutex
	state   connState
	cc      *connection.Conn   // the connection while ready
	old     []*connection.Conn // replaced ones still finishing their calls
	lastErr error              // why the last attempt failed
	changed chan struct{}      // closed at the next change of state
	delay   time.Duration      // the backoff before the next attempt
	timer   *time.Timer        // the pending retry in transient failure
	attempt context.CancelFunc // cancels the attempt in progress
	wg      sync.WaitGroup     // attempts and retries in progress
	kwg     sync.WaitGroup     // keepalive goroutines, which end with their connection
	kaTime  time.Duration      // under mu: keepalive Time, doubled on "too_many_pings"
}

// connState is gRPC's connectivity state of a Conn.
type connState int

const (
	stateIdle connState = iota
	stateConnecting
	stateReady
	stateTransientFailure
	stateShutdown
)

// Dial returns a Conn for target: "host:port" (also as "dns:///host:port"
// or "passthrough:///host:port"), or a Unix socket as "unix:///path" or
// "unix:path". The connection is h2c unless WithTransportCredentials or
// WithTLS is given.
//
// Dial connects before it returns and reports a failure to connect, unless
// WithLazyConnect is given: then the first call connects.
func Dial(target string, opts ...Option) (*Conn, error) {
	c := &Conn{target: target, opts: defaultOptions(), changed: make(chan struct{}), scheme: "http"}
	for _, o := range opts {
		o.apply(&c.opts)
	}
	c.opts.unaryInt = chainUnary(c.opts.unaryInt, c.opts.unaryChain)
	c.opts.streamInt = chainStream(c.opts.streamInt, c.opts.streamChain)
	var host string
	c.network, c.addr, host = parseTarget(target)
	if c.opts.creds != nil && c.opts.creds.Info().SecurityProtocol == "tls" {
		// As grpc-go: insecure.NewCredentials() and the like stay http.
		c.scheme = "https"
	}
	if c.opts.authority == "" {
		c.opts.authority = host
		// As in grpc-go, the server name of WithTLS's config is the
		// authority, so it is also the name the handshake verifies.
		if c.opts.serverName != "" {
			c.opts.authority = c.opts.serverName
		}
	}
	c.opts.backoff = c.opts.backoff.sane()
	c.delay = c.opts.backoff.BaseDelay
	c.kaTime = c.opts.keepalive.Time
	c.ct = "application/grpc"
	if name := c.opts.codec.Name(); name != "proto" {
		c.ct += "+" + name
	}
	if c.opts.lazy {
		return c, nil
	}
	c.mu.Lock()
	c.connectLocked()
	ch := c.changed
	c.mu.Unlock()
	<-ch
	c.mu.Lock()
	err := c.lastErr
	failed := c.state == stateTransientFailure
	c.mu.Unlock()
	if failed {
		c.Close()
		// Wrapped, so grpc-go's status package reads the code too.
		return nil, grpccompat.Wrap(status.Convert(err))
	}
	return c, nil
}

// parseTarget splits a target into what to dial and the default
// :authority, as grpc-go reads the same targets.
func parseTarget(target string) (network, addr, authority string) {
	switch {
	case strings.HasPrefix(target, "unix://"):
		// unix:///abs/path; grpc-go's authority for Unix sockets is
		// "localhost".
		return "unix", strings.TrimPrefix(target, "unix://"), "localhost"
	case strings.HasPrefix(target, "unix:"):
		return "unix", strings.TrimPrefix(target, "unix:"), "localhost"
	case strings.HasPrefix(target, "dns:///"):
		target = strings.TrimPrefix(target, "dns:///")
	case strings.HasPrefix(target, "passthrough:///"):
		target = strings.TrimPrefix(target, "passthrough:///")
	}
	return "tcp", target, target
}

// connFor returns the connection for a new call. While the Conn is
// connecting, every call waits for the attempt's outcome. In transient
// failure a call fails at once with UNAVAILABLE, unless it waits for ready
// (grpc.WaitForReady(true)): then it waits, under ctx, for the retries to
// succeed.
func (c *Conn) connFor(ctx context.Context, waitForReady bool) (*connection.Conn, error) {
	for {
		c.mu.Lock()
		switch c.state {
		case stateReady:
			if c.cc.Usable() {
				cc := c.cc
				c.mu.Unlock()
				return cc, nil
			}
			// Lost, or going away: the calls on it finish there, new
			// ones need a new connection.
			if c.cc.GoAwayDebug() == "too_many_pings" {
				// gRFC A8: the server refused our keepalive pings; the
				// next connections ping half as often.
				c.kaTime = min(2*c.kaTime, maxKeepaliveTime)
			}
			c.old = append(c.old, c.cc)
			c.cc = nil
			c.connectLocked()
		case stateIdle:
			c.connectLocked()
		case stateShutdown:
			c.mu.Unlock()
			return nil, status.New(status.Canceled, "grpc: the client connection is closing")
		case stateTransientFailure:
			if !waitForReady {
				err := c.lastErr
				c.mu.Unlock()
				return nil, err
			}
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, contextStatus(ctx.Err())
		}
	}
}

// setStateLocked moves to state s and wakes whoever waits for a change.
func (c *Conn) setStateLocked(s connState) {
	c.state = s
	close(c.changed)
	c.changed = make(chan struct{})
}

// connectLocked starts an attempt to connect.
func (c *Conn) connectLocked() {
	c.setStateLocked(stateConnecting)
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.dialTimeout)
	c.attempt = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		cc, err := c.connect(ctx)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.attempt = nil
		if c.state == stateShutdown {
			if cc != nil {
				cc.Close()
			}
			return
		}
		c.prune()
		if err != nil {
			c.lastErr = err
			c.setStateLocked(stateTransientFailure)
			c.retryLocked()
			return
		}
		c.cc, c.lastErr = cc, nil
		c.opts.backoff = c.opts.backoff.sane()
		c.delay = c.opts.backoff.BaseDelay
		c.setStateLocked(stateReady)
	}()
}

// retryLocked schedules the next attempt after the backoff, which grows
// with each failure.
func (c *Conn) retryLocked() {
	b := &c.opts.backoff
	d := time.Duration(float64(c.delay) * (1 + b.Jitter*(2*rand.Float64()-1)))
	c.delay = min(time.Duration(float64(c.delay)*b.Multiplier), b.MaxDelay)
	c.wg.Add(1)
	c.timer = time.AfterFunc(d, func() {
		defer c.wg.Done()
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.state == stateTransientFailure {
			c.timer = nil
			c.connectLocked()
		}
	})
}

// prune forgets replaced connections that have ended.
func (c *Conn) prune() {
	live := c.old[:0]
	for _, o := range c.old {
		select {
		case <-o.Done():
		default:
			live = append(live, o)
		}
	}
	clear(c.old[len(live):])
	c.old = live
}

// connect makes one connection: dial, the TLS handshake if any, the HTTP/2
// preface. Its errors are UNAVAILABLE.
func (c *Conn) connect(ctx context.Context) (*connection.Conn, error) {
	dial := c.opts.dial
	if dial == nil {
		var d net.Dialer
		dial = func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, c.network, addr)
		}
	}
	nc, err := dial(ctx, c.addr)
	if err != nil {
		return nil, status.Newf(status.Unavailable, "connection error: %v", err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	var info credentials.AuthInfo
	if c.opts.creds != nil {
		if nc, info, err = c.handshake(ctx, nc); err != nil {
			return nil, status.Newf(status.Unavailable, "connection error: %v", err)
		}
	}
	cc, err := connection.NewClientConn(nc, c.opts.conn)
	if err != nil {
		return nil, status.Newf(status.Unavailable, "connection error: %v", err)
	}
	if info != nil {
		cc.SetInfo(info)
	}
	// Connected once the server has answered with its SETTINGS: a server
	// that accepts and closes, or does not speak HTTP/2, is a failed
	// attempt (and backs off), not a connection calls are sent to.
	select {
	case <-cc.Ready():
		if c.opts.keepalive.Time > 0 {
			c.kwg.Add(1)
			go c.keepalive(cc)
		}
		return cc, nil
	case <-cc.Done():
		return nil, status.Newf(status.Unavailable, "connection closed before the server's HTTP/2 SETTINGS: %v", cc.Err())
	case <-ctx.Done():
		cc.Close()
		return nil, status.Newf(status.Unavailable, "connection error: no HTTP/2 SETTINGS from the server: %v", ctx.Err())
	}
}

// handshake runs the transport credentials' handshake on nc and makes sure
// a TLS peer agreed to speak HTTP/2: one that did not negotiate h2 with
// ALPN may not be a gRPC server at all.
func (c *Conn) handshake(ctx context.Context, nc net.Conn) (net.Conn, credentials.AuthInfo, error) {
	authority := c.opts.authority
	if host, _, err := net.SplitHostPort(authority); err == nil {
		authority = host
	}
	// The handshake reads: without a deadline a silent peer would hold
	// it past ctx.
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	conn, info, err := c.opts.creds.ClientHandshake(ctx, authority, nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	conn.SetDeadline(time.Time{})
	if ti, ok := info.(credentials.TLSInfo); ok && ti.State.NegotiatedProtocol != "h2" {
		conn.Close()
		return nil, nil, errNoALPN
	}
	return conn, info, nil
}

var errNoALPN = errors.New("h2grpc: the TLS peer did not negotiate HTTP/2 (ALPN h2): not a gRPC server")

// Close closes the connection; calls in progress end with UNAVAILABLE and
// later ones with CANCELLED. It waits for an attempt to connect in progress
// to end; a dialer or credentials given as options must honour their
// context for that to be quick.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.state == stateShutdown {
		c.mu.Unlock()
		return nil
	}
	c.setStateLocked(stateShutdown)
	cc, old := c.cc, c.old
	c.cc, c.old = nil, nil
	if c.attempt != nil {
		c.attempt()
	}
	if c.timer != nil && c.timer.Stop() {
		c.wg.Done()
	}
	c.mu.Unlock()
	c.wg.Wait()
	for _, o := range old {
		o.Close()
	}
	var err error
	if cc != nil {
		err = cc.Close()
	}
	c.kwg.Wait()
	return err
}

// keepalive pings the server of cc when it has been silent for the
// keepalive Time, and closes cc when a ping goes unanswered for Timeout.
func (c *Conn) keepalive(cc *connection.Conn) {
	defer c.kwg.Done()
	p := c.opts.keepalive
	c.mu.Lock()
	p.Time = c.kaTime
	c.mu.Unlock()
	t := time.NewTimer(p.Time)
	defer t.Stop()
	last := cc.Activity()
	for {
		select {
		case <-cc.Done():
			return
		case <-t.C:
		}
		if a := cc.Activity(); a != last || (!p.PermitWithoutStream && cc.Streams() == 0) {
			last = a
			t.Reset(p.Time)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
		err := cc.Ping(ctx)
		cancel()
		if err != nil && ctx.Err() != nil {
			cc.CloseWithError(errKeepalive)
			return
		}
		last = cc.Activity()
		t.Reset(p.Time)
	}
}

var errKeepalive = errors.New("keepalive ping failed to receive ACK within timeout")

// maxKeepaliveTime bounds the doubling of the keepalive Time.
const maxKeepaliveTime = 24 * time.Hour

// Target returns the target the Conn was made for.
func (c *Conn) Target() string { return c.target }
