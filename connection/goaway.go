package connection

import (
	"context"
	"errors"

	"golang.org/x/net/http2"
)

// shutdownPing is the payload of the PING a graceful shutdown sends between
// its two GOAWAYs.
var shutdownPing = [8]byte{'h', '2', 'g', 'r', 'p', 'c', 's', 'd'}

// Shutdown ends a server connection gracefully: GOAWAY(2^31-1) and a PING
// tell the client to open no more streams; once the PING's ACK shows the
// client has seen that, GOAWAY with the last stream id we took fixes what
// will be processed. Streams already open finish; when ctx ends first, the
// rest are cancelled. Shutdown returns once the connection is closed, with
// ctx's error if it had to cancel streams.
func (c *Conn) Shutdown(ctx context.Context) error { return c.Drain(ctx, "") }

// Drain is Shutdown with debug data in both GOAWAYs, which says why the
// connection ends: gRFC A9's "max_idle" and "max_age", say. If the
// connection is already ending, Drain waits for that, bounded by ctx.
func (c *Conn) Drain(ctx context.Context, debug string) error {
	c.mu.Lock()
	if c.err != nil || c.goAwaySent || c.shutdownAck != nil {
		// Ended or shutting down already: wait for that to finish, or
		// for ctx, whichever comes first.
		c.mu.Unlock()
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ack := make(chan struct{})
	c.shutdownAck = ack
	c.queueCtrl(ctrlFrame{kind: ctrlGoAway, stream: 1<<31 - 1, code: http2.ErrCodeNo, debug: debug})
	c.queueCtrl(ctrlFrame{kind: ctrlPing, data: shutdownPing})
	c.mu.Unlock()

	select {
	case <-ack:
	case <-ctx.Done():
	case <-c.done:
	}

	c.mu.Lock()
	c.goAwaySent = true
	c.goAwayLast = c.lastPeerID
	c.queueCtrl(ctrlFrame{kind: ctrlGoAway, stream: c.lastPeerID, code: http2.ErrCodeNo, debug: debug})
	err := c.waitCond(ctx, func() bool { return c.active == 0 || c.err != nil })
	if c.err == nil {
		c.err = errShutdown
	}
	c.closeSoonLocked()
	c.mu.Unlock()
	<-c.done
	return err
}

type shutdownError struct{}

func (shutdownError) Error() string { return "server shutting down" }

var errShutdown error = shutdownError{}

var errGoneAway = errors.New("h2grpc: the server sent GOAWAY and every stream has ended")
