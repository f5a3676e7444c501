package connection

import (
	"context"
	"net"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/stream"
)

// NewServerConn prepares the server side of nc. handle is called on the
// reader goroutine for each new stream and must not block: it starts the
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
	if s := c.streams[id]; s != nil {
		c.mu.Unlock()
		return c.onTrailersReceived(s, f)
	}
	if id <= c.lastPeerID {
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeStreamClosed)
	}
	c.lastPeerID = id
	if c.goAwaySent || c.err != nil {
		c.mu.Unlock()
		return nil // past our final GOAWAY: ignored, the client retries it
	}
	if c.active >= int(c.cfg.MaxConcurrentStreams) {
		c.queueCtrl(ctrlFrame{kind: ctrlRST, stream: id, code: http2.ErrCodeRefusedStream})
		c.mu.Unlock()
		return nil
	}
	s := c.newStream()
	s.id = id
	s.send.n = int64(c.peer.initialWindow)
	s.recv.init(c.cfg.StreamWindow)
	s.inTable, s.counted = true, true
	c.streams[id] = s
	c.active++
	c.mu.Unlock()
	return c.onRequestReceived(s, f)
}

// onRequestReceived starts a stream's handler once its request headers are
// known to be well formed.
func (c *Conn) onRequestReceived(s *Stream, f *http2.MetaHeadersFrame) error {
	var h stream.Header
	if !c.decodeInto(f, &h) {
		return nil
	}
	if h.Method == "" || h.Scheme == "" || h.Path == "" || h.Status != 0 {
		c.onStreamError(s.id, http2.ErrCodeProtocol)
		return nil
	}
	s.ctx, s.cancel = context.WithCancelCause(c.base)
	s.Recv.OnHeader(&h)
	if f.StreamEnded() {
		c.onStreamEnded(s, nil)
	}
	c.handle(s)
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
	if !c.decodeInto(f, &h) {
		return nil
	}
	c.onStreamEnded(s, &h)
	return nil
}
