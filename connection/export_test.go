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
