package connection

import "slices"

// Running a handler on the reader. A server connection with one call in
// flight hands each request to a handler goroutine, and that goroutine's
// wake-up is most of a short call's latency: readying it makes the runtime
// wake a second thread, which finds the goroutine already taken or spins
// for nothing, on a machine where the client's process wants that core
// too. When the reader has read all the peer sent and parsed a whole
// request for the only call the connection has, it may run the handler
// itself instead, as if it had parked (Conn.park): its socket waits in the
// idle poller meanwhile, so that whatever the peer sends before the
// handler returns (another call, a cancellation, the WINDOW_UPDATE a long
// response waits for) starts a new reader at once. Once the handler has
// returned, the goroutine is the reader again unless one has started.

// An InlineHandler runs some streams' handlers on the connection's reader
// goroutine (Conn.SetInline).
type InlineHandler interface {
	// MayRunInline reports whether s's handler, whose request has
	// arrived whole, is one that answers with one response (a unary
	// call): it is called on the reader and must not block. Once it has
	// said yes, s is the handler's as if handle had been called (a
	// server counts it there): the connection runs it with RunInline,
	// on the reader, or on a goroutine of its own where it cannot.
	MayRunInline(s *Stream) bool
	// RunInline does for s what the connection's handle func would
	// start, on the calling goroutine, and returns when it is done
	// (after Stream.Finish).
	RunInline(s *Stream)
}

// SetInline lets the reader run handlers that h accepts itself; call it
// before Start. It has no effect where the reader cannot park (Serve, TLS,
// sockets the idle poller cannot watch).
func (c *Conn) SetInline(h InlineHandler) { c.inline = h }

// takeInline removes from the reader's queue, and returns, the stream whose
// handler the reader is to run itself, or nil: the queue holds exactly one
// handler start, of the only handler the connection runs, for a request
// that has ended and that h accepts.
func (c *Conn) takeInline() *Stream {
	if c.inline == nil || !c.mayPark {
		return nil
	}
	at := -1
	for i, s := range c.due {
		if s.dueStart {
			if at >= 0 {
				return nil
			}
			at = i
		}
	}
	if at < 0 {
		return nil
	}
	s := c.due[at]
	c.mu.Lock()
	ok := c.handlers == 1 && s.remoteEnded && s.resetErr == nil
	c.mu.Unlock()
	if !ok || !c.inline.MayRunInline(s) {
		return nil
	}
	s.dueStart, s.dueWake = false, false
	c.due = slices.Delete(c.due, at, at+1)
	return s
}

// runInline runs s's handler on the reader goroutine, its socket watched
// by the idle poller meanwhile. It reports whether another reader has
// started since: then this goroutine is no longer the reader and must
// touch nothing of the reader's.
func (c *Conn) runInline(s *Stream) (replaced bool) {
	first, ok := registerIdle(c)
	if !ok {
		go c.inline.RunInline(s)
		return false
	}
	c.parked.Store(true)
	if err := c.poller.arm(c, first); err != nil {
		if c.parked.CompareAndSwap(true, false) {
			c.mayPark = false
			c.rd.disarmIdle()
			go c.inline.RunInline(s)
			return false
		}
		replaced = true // a Close has started a new reader already
	}
	c.inline.RunInline(s)
	if replaced || !c.parked.CompareAndSwap(true, false) {
		return true
	}
	// Still armed (a socket that became readable after the handler
	// returned has not been seen yet): an event now would wake the
	// poller to find the connection has its reader.
	c.poller.disarm(c)
	return false
}
