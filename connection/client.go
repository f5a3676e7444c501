package connection

import (
	"context"
	"net"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// NewClientConn starts the client side of nc: it writes the preface and
// starts the reader. The connection runs until Close or until the server
// or the network ends it.
func NewClientConn(nc net.Conn, cfg Config) (*Conn, error) {
	c := newConn(nc, cfg, false)
	c.mayPark = c.rd.raw != nil && idlePollAvailable() // the reader has goroutines of its own
	err := c.start()
	go c.readLoop()
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// NewStream returns a new client stream. It waits, under ctx, for a free
// slot when the server's SETTINGS_MAX_CONCURRENT_STREAMS is reached. The
// stream gets its id, and the server sees it, with its first write.
func (c *Conn) NewStream(ctx context.Context) (*Stream, error) {
	return c.newClientStream(ctx, nil)
}

// NewStreamIn is NewStream with the stream in s, a zero Stream the caller
// allocated (inside a larger object, to save an allocation); s must not be
// used for anything else, nor copied.
func (c *Conn) NewStreamIn(ctx context.Context, s *Stream) error {
	_, err := c.newClientStream(ctx, s)
	return err
}

// newClientStream opens a client stream in s, or in a new Stream if s is
// nil.
func (c *Conn) newClientStream(ctx context.Context, s *Stream) (*Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && !c.goAwayRecv && c.active >= int(c.peer.maxStreams) {
		err := c.waitCond(ctx, func() bool {
			return c.err != nil || c.goAwayRecv || c.active < int(c.peer.maxStreams)
		})
		if err != nil {
			return nil, err
		}
	}
	if err := c.openErrLocked(); err != nil {
		return nil, err
	}
	c.active++
	if s == nil {
		s = new(Stream)
	}
	c.initStream(s)
	s.counted = true
	return s, nil
}

// Usable reports whether new streams may be opened on the connection: it
// has not ended and the server has not sent GOAWAY.
func (c *Conn) Usable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.openErrLocked() == nil
}

// openErrLocked says why no new stream may be opened, or nil.
func (c *Conn) openErrLocked() error {
	switch {
	case c.err != nil:
		return status.Newf(status.Unavailable, "connection closed: %v", c.err)
	case c.goAwayRecv:
		return status.New(status.Unavailable, "connection is going away: stream not opened")
	case c.nextID > 1<<31-1:
		return status.New(status.Unavailable, "connection ran out of stream ids")
	}
	return nil
}

// openStreamLocked gives a client stream its id and puts it in the table,
// as its first header block is about to be written; wmu and mu must be
// held, so ids reach the wire in the order they are given.
func (c *Conn) openStreamLocked(s *Stream) error {
	if err := c.openErrLocked(); err != nil {
		return err
	}
	s.id = c.nextID
	c.nextID += 2
	s.send.n = int64(c.peer.initialWindow)
	s.recv.init(c.cfg.StreamWindow)
	s.inTable = true
	c.addStreamLocked(s)
	return nil
}

// onClientHeaders is a header block from the server: the response headers
// (onResponseReceived), or the trailers (onTrailersReceived), or both in one
// (trailers-only). Informational (1xx) blocks are skipped.
func (c *Conn) onClientHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	c.mu.Lock()
	s := c.streams[id]
	if s == nil {
		idle := c.isIdleLocked(id)
		c.mu.Unlock()
		if idle {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		// Closed: ignored, its HPACK state already decoded. A stream we
		// reset is certainly ignored (closed.go); on one that closed
		// normally RFC 9113 §5.1 allows a connection error, but a client
		// that took one for a reset it no longer remembers would end
		// every call on the connection, so it ignores them all, as
		// x/net's and grpc-go's clients do.
		return nil
	}
	c.mu.Unlock()
	if f.HasPriority() && f.Priority.StreamDep == id {
		// A stream cannot depend on itself (RFC 9113 §5.3.1).
		c.onStreamError(id, http2.ErrCodeProtocol)
		return nil
	}
	var h stream.Header
	n, ok := c.decodeInto(f, &h)
	if !ok {
		return nil
	}
	end := f.StreamEnded()
	if !s.gotHeader {
		if h.Status >= 100 && h.Status < 200 && !end {
			return nil
		}
		s.gotHeader = true
		if h.Status != 204 && h.Status != 304 {
			// Responses that have no content may announce a length
			// anyway (RFC 9113 §8.1.1); we never send HEAD.
			s.lengthLeft = n
		}
		if end {
			c.onStreamEndedChecked(s, &h)
		} else {
			s.Recv.OnHeader(&h)
			c.queueWake(s)
		}
		return nil
	}
	if !end {
		c.onStreamError(id, http2.ErrCodeProtocol)
		return nil
	}
	c.onStreamEndedChecked(s, &h)
	return nil
}
