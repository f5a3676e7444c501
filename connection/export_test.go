package connection

import "time"

// ControlWriterRunning reports whether c has a control writer goroutine
// (wakeWriterLocked): tests check that an idle connection has none.
func (c *Conn) ControlWriterRunning() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writing
}

// SetIdleGrace sets how long a reader waits before it parks, until the
// test ends.
func SetIdleGrace(t interface{ Cleanup(func()) }, d time.Duration) {
	old := idleGrace
	idleGrace = d
	t.Cleanup(func() { idleGrace = old })
}

// Parked reports whether c's reader is parked.
func (c *Conn) Parked() bool { return c.parked.Load() }

// IdlePollAvailable reports whether connections park here.
func IdlePollAvailable() bool { return idlePollAvailable() }

// Retained lists what c still holds from its calls of what releaseIdle
// gives back under c's locks; RetainedByReader the rest.
func (c *Conn) Retained() []string {
	var held []string
	c.mu.Lock()
	if c.streams != nil {
		held = append(held, "stream table")
	}
	if c.ctrl != nil || c.ctrlSpare != nil {
		held = append(held, "control queue")
	}
	c.mu.Unlock()
	c.wmu.Lock()
	if c.henc != nil {
		held = append(held, "HPACK encoder")
	}
	c.wmu.Unlock()
	return held
}

// RetainedByReader lists what c's reader still holds of what releaseIdle
// gives back. Only for a connection that has ended (after its onEnd):
// while it runs, a reader may start at any time.
func (c *Conn) RetainedByReader() []string {
	var held []string
	if c.hdr.fields != nil || c.hdr.frame.Fields != nil {
		held = append(held, "header fields")
	}
	if c.due != nil {
		held = append(held, "due streams")
	}
	if c.deadlines != nil {
		held = append(held, "deadlines")
	}
	return held
}
