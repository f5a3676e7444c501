package connection

// DeadlineTimerPending reports whether the stream's context still holds a
// deadline timer: tests check that none outlives its call.
func (s *Stream) DeadlineTimerPending() bool {
	s.ctx.mu.Lock()
	defer s.ctx.mu.Unlock()
	return s.ctx.timer != nil
}
