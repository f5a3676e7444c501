package connection

// The reader batches what it hands to other goroutines: while it parses
// what one read from the socket brought, it starts no handler and wakes no
// waiting receiver, and does both once the buffer is parsed, just before it
// reads again (and may block). A unary request is a header block and a
// message, a unary response a header block, a message and trailers, mostly
// read at once: a handler started on the header block, or a caller woken on
// the message, would run on another thread, find the rest missing and
// sleep again, and every wake-up of a parked goroutine costs a scheduler
// round trip (often a futex call and a thread switch). Batched, each
// goroutine is woken once, with all of its frames in hand. The delay is
// bounded by the parsing of one read buffer.

// queueWake notes that s's receiving half may owe its waiters a wake-up
// (stream.ReceiveStream.Wake). Called by the reader after each On* call.
func (c *Conn) queueWake(s *Stream) {
	if !s.dueWake && !s.dueStart {
		c.due = append(c.due, s)
	}
	s.dueWake = true
}

// queueStart notes that s's handler is to be started (Conn.handle).
func (c *Conn) queueStart(s *Stream) {
	if !s.dueWake && !s.dueStart {
		c.due = append(c.due, s)
	}
	s.dueStart = true
}

// flushDue starts the handlers and delivers the wake-ups queued since the
// last flush. The reader calls it before each read from the socket and
// before it stops, so that nothing queued waits on a read that may block.
func (c *Conn) flushDue() {
	for i, s := range c.due {
		c.due[i] = nil
		if s.dueStart {
			s.dueStart = false
			// The handler reads the stream itself: it owes no wake-up.
			s.dueWake = false
			c.handle(s)
			continue
		}
		s.dueWake = false
		s.Recv.Wake()
	}
	c.due = c.due[:0]
}
