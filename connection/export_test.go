package connection

// ControlWriterRunning reports whether c has a control writer goroutine
// (wakeWriterLocked): tests check that an idle connection has none.
func (c *Conn) ControlWriterRunning() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writing
}
