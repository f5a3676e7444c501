package connection

import (
	"errors"
	"net"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/stream"
)

// NewServerConn prepares the server side of nc. handle is called on the
// reader goroutine for each new stream, once the read that brought its
// header block is parsed (batch.go), and must not block: it starts the
// stream's handler goroutine, which ends the stream (Send.Close or
// Stream.Cancel) and then calls Stream.Finish. Calling it synchronously
// lets the server count handlers before the connection can end.
func NewServerConn(nc net.Conn, cfg Config, handle func(*Stream)) *Conn {
	c := newConn(nc, cfg, true)
	c.handle = handle
	return c
}

// Serve runs the connection until it ends and returns why. The reader runs
// on the calling goroutine.
func (c *Conn) Serve() error {
	if err := c.start(); err != nil {
		c.nc.Close()
	}
	c.readLoop()
	return c.Err()
}

// onServerHeaders is a header block from the client: a new request
// (onRequestReceived) or the trailers of one (onTrailersReceived).
func (c *Conn) onServerHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	c.mu.Lock()
	s := c.streams[id]
	if s == nil && id <= c.lastPeerID {
		// Closed: ignored, or a connection error (closed.go).
		err := c.closedHeadersLocked(id)
		c.mu.Unlock()
		return err
	}
	c.mu.Unlock()
	if f.HasPriority() && f.Priority.StreamDep == id {
		// A stream cannot depend on itself (RFC 9113 §5.3.1).
		c.onStreamError(id, http2.ErrCodeProtocol)
		return nil
	}
	if s != nil {
		return c.onTrailersReceived(s, f)
	}
	c.mu.Lock()
	c.notePeerIDLocked(id)
	if c.goAwaySent || c.err != nil {
		c.mu.Unlock()
		return nil // past our final GOAWAY: ignored, the client retries it
	}
	if c.active >= int(c.cfg.MaxConcurrentStreams) {
		c.noteResetLocked(id)
		c.queueCtrl(ctrlFrame{kind: ctrlRST, stream: id, code: http2.ErrCodeRefusedStream})
		c.mu.Unlock()
		return nil
	}
	s = c.newStream()
	s.id = id
	s.send.n = int64(c.peer.initialWindow)
	s.recv.init(c.cfg.StreamWindow)
	s.inTable, s.counted = true, true
	c.addStreamLocked(s)
	c.active++
	c.mu.Unlock()
	return c.onRequestReceived(s, f)
}

// onRequestReceived starts a stream's handler once its request headers are
// known to be well formed.
func (c *Conn) onRequestReceived(s *Stream, f *http2.MetaHeadersFrame) error {
	var h stream.Header
	n, ok := c.decodeInto(f, &h)
	if !ok {
		return nil
	}
	if h.Method == "" || h.Scheme == "" || h.Path == "" || h.Status != 0 {
		c.onStreamError(s.id, http2.ErrCodeProtocol)
		return nil
	}
	s.lengthLeft = n
	if f.StreamEnded() && !s.takeLength(0, true) {
		// content-length announces a body that never comes (§8.1.1).
		c.onStreamError(s.id, http2.ErrCodeProtocol)
		return nil
	}
	// The stream's context (allocated with it) is not the child of a
	// context of the connection's: the connection ends every stream it
	// still holds (teardown), and Finish ends the rest. Its deadline
	// counts from now; a malformed grpc-timeout is the server's to
	// answer.
	if h.Timeout != "" {
		if d, err := metadata.DecodeTimeout(h.Timeout); err == nil {
			s.ctx.setTimeout(c.deadlineQueue(), d)
		}
	}
	s.Recv.OnHeader(&h)
	if f.StreamEnded() {
		c.onStreamEnded(s, nil)
	}
	c.mu.Lock()
	start := c.handlers < int(c.cfg.MaxConcurrentStreams)
	switch {
	case start:
		s.handling = true
		c.handlers++
	case len(c.pending) >= maxPendingFactor*int(c.cfg.MaxConcurrentStreams):
		c.queueFatal(http2.ErrCodeEnhanceYourCalm, errTooManyResets)
	default:
		c.pending = append(c.pending, s)
	}
	c.mu.Unlock()
	if start {
		c.queueStart(s)
	}
	return nil
}

// Handlers are bounded apart from streams: a stream's slot is free once it
// is closed (RFC 9113 §5.1.2), but its handler may still run. A peer that
// opens and resets streams at once (rapid reset, CVE-2023-44487) would
// otherwise start any number of handlers; instead, a stream that arrives
// while MaxConcurrentStreams handlers run waits in c.pending (a stream
// reset meanwhile never starts), and a peer that makes that queue longer
// than maxPendingFactor times the limit is disconnected.
const maxPendingFactor = 4

var errTooManyResets = errors.New("h2grpc: peer opened and reset too many streams (rapid reset)")

// nextPendingLocked takes the next waiting stream that is still open and
// counts its handler; c.mu must be held.
func (c *Conn) nextPendingLocked() *Stream {
	for len(c.pending) > 0 {
		s := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		if s.resetErr == nil {
			s.handling = true
			c.handlers++
			return s
		}
	}
	return nil
}

// onTrailersReceived is a second header block from the client: it must end
// the stream and carry no pseudo-headers (RFC 9113 §8.1).
func (c *Conn) onTrailersReceived(s *Stream, f *http2.MetaHeadersFrame) error {
	c.mu.Lock()
	ended := s.remoteEnded
	c.mu.Unlock()
	if ended {
		c.onStreamError(s.id, http2.ErrCodeStreamClosed)
		return nil
	}
	if !f.StreamEnded() || len(f.PseudoFields()) > 0 {
		c.onStreamError(s.id, http2.ErrCodeProtocol)
		return nil
	}
	var h stream.Header
	if _, ok := c.decodeInto(f, &h); !ok {
		return nil
	}
	c.onStreamEndedChecked(s, &h)
	return nil
}
