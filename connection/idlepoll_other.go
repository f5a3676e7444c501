//go:build !linux

package connection

// idlePoller is Linux-only (epoll): elsewhere a connection's reader waits
// on its goroutine.
type idlePoller struct{}

func idlePollAvailable() bool { return false }

func registerIdle(*Conn) (first, ok bool) { return false, false }

func (p *idlePoller) arm(*Conn, bool) error { panic("unreachable") }

func (p *idlePoller) disarm(*Conn) { panic("unreachable") }

func forgetIdle(*Conn) {}
