package connection

// DeadlinePending reports whether the stream's deadline is still in its
// connection's deadline heap: tests check that none outlives its call.
func (s *Stream) DeadlinePending() bool {
	dl := s.ctx.dl
	if dl == nil {
		return false
	}
	dl.q.mu.Lock()
	defer dl.q.mu.Unlock()
	return dl.index >= 0
}
