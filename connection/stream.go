package connection

import (
	"context"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// Stream is one call on a connection: its sending and receiving halves, as
// nameko-grpc's SendStream and ReceiveStream, plus the connection's
// bookkeeping for it (id, windows, state).
//
// Send is used by one goroutine at a time and Recv by one goroutine at a
// time (they may be different); Cancel, Finish and Context by any.
type Stream struct {
	Send stream.SendStream
	Recv stream.ReceiveStream

	conn *Conn
	ctx  *streamContext // server: allocated with the stream (serverStream); nil on the client

	// id is set once: by the reader for a server stream, under wmu and mu
	// when a client stream's first header block is written.
	id uint32

	// The flags are together, after id, so that they share its word:
	// apart, they took the stream and its context past the 640-byte size
	// class.

	// Owned by the reader.
	gotHeader bool // a header block has arrived
	dueStart  bool // its handler waits to be started (batch.go)
	dueWake   bool // its receiving half may owe a wake-up (batch.go)

	// Owned by Conn.mu.
	inTable     bool // in Conn.streams, counted in Conn.active
	counted     bool // holds a concurrency slot
	handling    bool // server: its handler runs (counted in Conn.handlers)
	remoteEnded bool // END_STREAM received
	localEnded  bool // END_STREAM sent
	refused     bool // the peer never processed it: safe to retry
	cutShort    bool // server: END_STREAM is followed by RST_STREAM(CANCEL)

	// lengthLeft is the DATA the peer's content-length still allows, -1
	// without one. Owned by the reader.
	lengthLeft int64

	// Owned by Conn.mu.
	send     outflow
	recv     inflow
	resetErr error // set once the stream was reset or its connection ended
}

var (
	_ stream.Writer = (*Stream)(nil)
	_ stream.Flow   = (*Stream)(nil)
)

// newStream makes a server stream, with its context.
func (c *Conn) newStream() *Stream {
	ss := new(serverStream)
	s := &ss.Stream
	c.initStream(s)
	s.ctx = &ss.ctx
	return s
}

// initStream prepares the zero Stream s for c.
func (c *Conn) initStream(s *Stream) {
	s.conn, s.lengthLeft = c, -1
	s.Send.Init(s)
	s.Recv.Init(s, c.cfg.MaxRecvMsgSize)
	s.Recv.BatchWakeups()
}

// ID returns the stream id; 0 for a client stream that has sent nothing.
func (s *Stream) ID() uint32 {
	s.conn.mu.Lock()
	defer s.conn.mu.Unlock()
	return s.id
}

// Refused reports whether the stream ended without the peer having
// processed it: it was reset with REFUSED_STREAM, was above the
// last-stream-id of the peer's GOAWAY, or never reached the wire. Such a
// stream may be retried elsewhere (gRFC A6's transparent retry).
func (s *Stream) Refused() bool {
	s.conn.mu.Lock()
	defer s.conn.mu.Unlock()
	return s.refused
}

// Conn returns the stream's connection.
func (s *Stream) Conn() *Conn { return s.conn }

// Context returns, on the server, a context that ends when the stream is
// reset, the connection ends or the call finishes (its cause says which),
// or when the request's grpc-timeout, counted from the arrival of its
// headers, passes (its Err is then context.DeadlineExceeded). On the
// client it returns nil: the caller's context governs a client stream.
func (s *Stream) Context() context.Context {
	if s.ctx == nil {
		return nil
	}
	return s.ctx
}

// WriteBatch implements stream.Writer.
func (s *Stream) WriteBatch(b stream.Batch) error {
	c := s.conn
	c.lockWrite()
	err := c.writeBatch(s, b)
	c.unlockWrite()
	if err != nil {
		// A header block we refused to send says nothing about the
		// peer: such a stream is not "refused", and a retry would fail
		// the same way.
		_, local := err.(headerListError)
		s.failUnopened(err, !local)
		if local {
			s.reset(http2.ErrCodeInternal, err)
		}
	}
	return err
}

// failUnopened ends a client stream whose first write failed before it got
// an id: it is in no table, so neither GOAWAY nor teardown would ever end
// it, and its reader would wait for ever while it held a slot. refused
// says the server never saw it (the connection went away first).
func (s *Stream) failUnopened(err error, refused bool) {
	c := s.conn
	c.mu.Lock()
	unopened := s.id == 0 && s.resetErr == nil
	if unopened {
		s.resetErr, s.refused = err, refused
		c.removeLocked(s)
	}
	c.mu.Unlock()
	if unopened {
		s.endHalves(err)
	}
}

// Consumed implements stream.Flow: the application consumed n bytes, so
// the stream gets that credit back while the peer still sends on it (the
// connection had it back when the bytes arrived).
func (s *Stream) Consumed(n int) {
	c := s.conn
	c.mu.Lock()
	if c.err != nil || !s.inTable || s.remoteEnded {
		c.mu.Unlock()
		return
	}
	incr := s.recv.add(n)
	c.mu.Unlock()
	if incr == 0 {
		return
	}
	c.lockWrite()
	if c.werr == nil {
		c.werr = c.fr.WriteWindowUpdate(s.id, uint32(incr))
	}
	c.unlockWrite()
}

// sendErrLocked says why s can send no more, or nil; Conn.mu must be held.
func (s *Stream) sendErrLocked() error {
	if s.resetErr != nil {
		return s.resetErr
	}
	if s.conn.err != nil {
		return s.conn.streamEndError(s.conn.err)
	}
	return nil
}

// Cancel aborts the call: the peer gets RST_STREAM(CANCEL), both halves end
// with err (Recv returns it at once; queued messages are dropped), and a
// blocked Send returns it. It does nothing to a stream that has already
// ended both ways.
func (s *Stream) Cancel(err error) {
	s.reset(http2.ErrCodeCancel, err)
	s.conn.interruptCaller(s)
}

// CutShort says the call on a server stream is being ended before its
// time (its deadline passed): if the client has not ended its side, the
// RST_STREAM that follows our END_STREAM carries CANCEL instead of
// NO_ERROR. Once the client has ended its side the stream is closed with
// the trailers, and nothing may follow them (RFC 9113 §5.1).
func (s *Stream) CutShort() {
	s.conn.mu.Lock()
	s.cutShort = true
	s.conn.mu.Unlock()
}

// Finish tells the connection the call is over: a stream that has not ended
// both ways is cancelled, and flow-control credit still held by unread
// messages goes back to the connection. Call it once per stream, when the
// call layer is done with it.
func (s *Stream) Finish() {
	s.reset(http2.ErrCodeCancel, errFinished)
	if s.ctx != nil {
		// A call that ended both ways was not reset: its context ends
		// here (and its deadline timer stops), or it would outlive the
		// call.
		s.ctx.cancel(errFinished)
	}
	c := s.conn
	c.mu.Lock()
	var next *Stream
	if s.handling {
		s.handling = false
		c.handlers--
		next = c.nextPendingLocked()
	}
	c.mu.Unlock()
	if next != nil {
		c.handle(next)
	}
	if credit := s.Recv.Drain(errFinished); credit > 0 {
		s.Consumed(credit)
	}
}

// errFinished ends whatever is left of a stream whose call is over; one
// value for all, so finishing a call allocates nothing.
var errFinished = status.New(status.Canceled, "stream finished")

// reset ends s with RST_STREAM(code) unless it has already ended both ways.
func (s *Stream) reset(code http2.ErrCode, err error) {
	c := s.conn
	c.lockWrite()
	c.mu.Lock()
	if s.resetErr != nil || (s.localEnded && s.remoteEnded) {
		c.mu.Unlock()
		c.unlockWrite()
		return
	}
	s.resetErr = err
	id := s.id
	c.noteResetLocked(id)
	c.removeLocked(s)
	c.cond.Broadcast()
	c.mu.Unlock()
	if id != 0 && c.werr == nil {
		c.werr = c.fr.WriteRSTStream(id, code)
	}
	c.unlockWrite()
	s.endHalves(err)
	if credit := s.Recv.Drain(err); credit > 0 {
		s.Consumed(credit)
	}
}

// fail ends s because the peer reset it or the connection ended. Queued
// messages stay readable: a reset after the trailers changes nothing.
func (s *Stream) fail(err error) {
	c := s.conn
	c.mu.Lock()
	if s.resetErr == nil {
		s.resetErr = err
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	s.endHalves(err)
}

func (s *Stream) endHalves(err error) {
	s.Recv.Close(err)
	if s.ctx != nil {
		s.ctx.cancel(err)
	}
}

// addStreamLocked puts s in the stream table under its id; Conn.mu must
// be held.
func (c *Conn) addStreamLocked(s *Stream) {
	if c.streams == nil {
		c.streams = make(map[uint32]*Stream)
	}
	c.streams[s.id] = s
}

// removeLocked takes s out of the stream table and frees its slot; Conn.mu
// must be held.
func (c *Conn) removeLocked(s *Stream) {
	if s.inTable {
		delete(c.streams, s.id)
		s.inTable = false
	}
	if s.counted {
		s.counted = false
		c.active--
		if c.active == 0 {
			c.idleSince = monoNow()
		}
		c.cond.Broadcast()
		c.closeIfDrainedLocked()
	}
}

// closeIfDrainedLocked closes a client connection the server is sending
// away once its last stream has ended; Conn.mu must be held.
func (c *Conn) closeIfDrainedLocked() {
	if c.server || !c.goAwayRecv || c.active > 0 || c.closeAfter {
		return
	}
	if c.err == nil {
		c.err = errGoneAway
	}
	c.closeSoonLocked()
}

// onLocalEnd records that we sent END_STREAM on s; wmu must be held. A
// server that ends a stream the client has not ended follows with
// RST_STREAM(NO_ERROR), so the client stops sending (RFC 9113 §8.1), or
// CANCEL when the call was cut short.
func (c *Conn) onLocalEnd(s *Stream) {
	c.mu.Lock()
	s.localEnded = true
	rst := c.server && !s.remoteEnded && s.resetErr == nil
	code := http2.ErrCodeNo
	if s.cutShort {
		code = http2.ErrCodeCancel
	}
	if rst {
		s.resetErr = errFinished
		c.noteResetLocked(s.id)
	}
	if rst || s.remoteEnded {
		c.removeLocked(s)
	}
	c.mu.Unlock()
	if rst && c.werr == nil {
		c.werr = c.fr.WriteRSTStream(s.id, code)
	}
	if rst {
		s.Recv.Close(errFinished)
	}
}

// takeLength counts n more bytes of DATA against the content-length the
// peer announced (RFC 9113 §8.1.1), and reports whether they agree: never
// more, and at the end of the stream exactly as much. A disagreement
// makes the request or response malformed, a stream error of type
// PROTOCOL_ERROR.
func (s *Stream) takeLength(n int64, end bool) bool {
	if s.lengthLeft < 0 {
		return true // none announced
	}
	if n > s.lengthLeft {
		return false
	}
	s.lengthLeft -= n
	return !end || s.lengthLeft == 0
}

// onStreamEnded records that the peer sent END_STREAM on s, with trailer
// when it ended on a header block.
func (c *Conn) onStreamEnded(s *Stream, trailer *stream.Header) {
	c.mu.Lock()
	s.remoteEnded = true
	if s.localEnded {
		c.removeLocked(s)
	}
	c.mu.Unlock()
	s.Recv.OnEnd(trailer)
	c.queueWake(s)
}
