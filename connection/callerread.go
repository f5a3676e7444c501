package connection

import (
	"errors"
	"time"

	"golang.org/x/net/http2"
)

// A caller reads its own response. A client connection's reader hands each
// response to the goroutine waiting for it, and that wake-up is a short
// call's largest cost after the server's (inline.go): readying a parked
// goroutine makes the runtime wake a second thread, on a machine where
// the server's process wants the core too. So a client connection with no
// stream open parks its reader at once (awaitData), and a unary caller that
// has sent its request and finds no reader running reads the connection
// itself (Stream.ReadResponse) until its response has ended, dispatching
// whatever else comes as the reader would. Then it parks the reader again,
// or, when other streams are open, starts a reader goroutine for them.
// It parses only frames it has whole in the read buffer, and hands the
// reader on at the first it has only in part: a caller must be able to
// stop reading when its call is cancelled, and a frame half read lives on
// the reading goroutine's stack (the Framer's, readData's), where no other
// reader could take it over. A unary response normally arrives in one
// read; a larger one is finished by a reader goroutine.

// errYield ends readFrames on a caller's goroutine whose stream has
// ended: the connection goes on, read by a parked or a new reader.
var errYield = errors.New("caller has its response")

// ReadResponse is called by a client's caller that has sent its whole
// request and is about to wait for the response on s. If the connection's
// reader is parked, the calling goroutine reads the connection until s's
// response has ended (trailers, a reset, or the connection's end), s is
// cancelled (Cancel interrupts the read), its window is spent, or a frame
// arrives only in part; the caller then receives as usual, mostly without
// waiting. Otherwise it returns at once.
func (s *Stream) ReadResponse() {
	c := s.conn
	// parked is only ever set where the reader may park (mayPark, which
	// the reader may clear meanwhile: not read here).
	if c.server || !c.parked.CompareAndSwap(true, false) {
		return
	}
	// The reader's state is ours now, and the socket's: the poller may
	// still report it, and finds c with its reader.
	c.poller.disarm(c)
	c.caller = s
	c.callerStream.Store(s)
	err := c.readFrames()
	c.mu.Lock()
	c.callerStream.Store(nil) // no interrupt from here on
	c.mu.Unlock()
	c.caller = nil
	if r := &c.rd; r.interrupted.Load() {
		// Cancel's deadline is in the past: a reader, or linger, would
		// fail on it.
		r.interrupted.Store(false)
		r.disarmIdle()
	}
	if err == errYield {
		c.flushDue()
		c.yieldReader()
		return
	}
	if errors.As(err, new(http2.ConnectionError)) {
		// The connection's end after its error (the GOAWAY to write,
		// then what the peer still sends to read for up to
		// lingerTimeout) is a reader's, not the caller's: its call
		// fails in teardown and is to return at once.
		go c.endRead(err)
		return
	}
	c.endRead(err)
}

// callerDone reports whether the caller reading the connection has its
// response, or no longer waits for it, or must consume what it has before
// more can come: a server that sends a unary call more messages than the
// stream's window holds waits for credit that only the caller's receiving
// gives back (and the caller, receiving, fails the call).
func (c *Conn) callerDone() bool {
	s := c.caller
	c.mu.Lock()
	done := s.remoteEnded || s.resetErr != nil || c.err != nil || s.recv.avail <= 0
	c.mu.Unlock()
	return done
}

// yieldReader hands the reader on when a caller has read its response: to
// the idle poller when no stream is open, to a new reader goroutine when
// some are.
func (c *Conn) yieldReader() {
	c.mu.Lock()
	idle := c.active == 0
	c.mu.Unlock()
	if idle && c.park() {
		return
	}
	go c.readLoop()
}

// interruptCaller wakes the caller reading the connection for s, if one
// does, from its wait on the socket: s has been cancelled, and its caller
// is to return without waiting for the server. Called once s's state says
// so (callerDone), so that a caller that checks before the interrupt sees
// it, and one that checks after is interrupted.
// Under c.mu, so that the caller, once it has stopped reading, knows no
// interrupt follows.
func (c *Conn) interruptCaller(s *Stream) {
	if c.callerStream.Load() != s {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.callerStream.Load() == s {
		c.rd.interrupted.Store(true)
		c.nc.SetReadDeadline(time.Now())
	}
}

// idleClient reports whether c is a client connection with no stream open,
// whose reader parks at once: the next caller reads for itself.
func (c *Conn) idleClient() bool {
	if c.server {
		return false
	}
	c.mu.Lock()
	idle := c.active == 0
	c.mu.Unlock()
	return idle
}
