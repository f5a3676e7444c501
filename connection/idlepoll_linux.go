package connection

import (
	"os"
	"sync"
	"syscall"
)

// The idle poller watches the sockets of parked connections (Conn.park):
// one epoll set, itself waited on through Go's poller, so that a
// connection whose peer is silent costs no goroutine and no stack while it
// waits. A socket that becomes readable (data, the peer's FIN or an
// error) starts a new reader goroutine for its connection. The poller
// runs while connections that have parked are open: the last one to
// finish stops it, and the next to park starts another.
type idlePoller struct {
	epfd  int
	file  *os.File         // epfd, pollable
	conns map[uint64]*Conn // under pollMu: connections that have parked, by Conn.pollID
}

var (
	pollMu     sync.Mutex
	pollCur    *idlePoller // under pollMu: nil until a connection parks
	pollNextID uint64      // under pollMu
)

// idlePollAvailable reports whether connections may park here.
func idlePollAvailable() bool { return true }

// newIdlePoller sets up an epoll set and its loop, or returns nil.
func newIdlePoller() *idlePoller {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil
	}
	// A non-blocking descriptor becomes a pollable File: the loop waits
	// for the epoll set to be readable in Go's poller rather than in a
	// blocking epoll_wait holding a thread.
	f := os.NewFile(uintptr(epfd), "h2grpc-idlepoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	p := &idlePoller{epfd: epfd, file: f, conns: map[uint64]*Conn{}}
	go p.loop(rc)
	return p
}

// registerIdle gives c, on its first park, its poller and its key, before
// it is parked. It reports whether this is the first park (the socket is
// not in the epoll set yet), and false for ok when there is no poller.
func registerIdle(c *Conn) (first, ok bool) {
	if c.poller != nil {
		return false, true
	}
	pollMu.Lock()
	defer pollMu.Unlock()
	if pollCur == nil {
		if pollCur = newIdlePoller(); pollCur == nil {
			return false, false
		}
	}
	pollNextID++
	c.poller, c.pollID = pollCur, pollNextID
	pollCur.conns[c.pollID] = c
	return true, true
}

// arm adds c's socket to the epoll set (first), or re-arms it:
// EPOLLONESHOT disarms it after one event. Level-triggered: a socket
// readable already reports at once, so data that came after the reader's
// last read is not missed. The reader calls it once c is parked, so it
// reads nothing of c that another reader may write.
func (p *idlePoller) arm(c *Conn, first bool) error {
	op := syscall.EPOLL_CTL_MOD
	if first {
		op = syscall.EPOLL_CTL_ADD
	}
	return p.epollCtl(c, op, syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLONESHOT)
}

// disarm stops watching c's socket for data, for a reader that runs again
// without having parked (runInline). The epoll set still reports an error
// or hang-up, which finds c with its reader and is ignored.
func (p *idlePoller) disarm(c *Conn) {
	p.epollCtl(c, syscall.EPOLL_CTL_MOD, syscall.EPOLLONESHOT)
}

// pollCtl is an epoll_ctl call with its arguments and its func for
// RawConn.Control, made once and pooled: a closure made at each call would
// be allocated at each park and each handler run on the reader. Not one
// per connection: once the socket is armed another reader may start and
// arm it while this one is still reading the result.
type pollCtl struct {
	epfd, op int
	ev       syscall.EpollEvent
	err      error
	fn       func(fd uintptr)
}

var pollCtls = sync.Pool{New: func() any {
	pc := new(pollCtl)
	pc.fn = func(fd uintptr) {
		pc.err = syscall.EpollCtl(pc.epfd, pc.op, int(fd), &pc.ev)
	}
	return pc
}}

// epollCtl runs epoll_ctl(op) with events for c's socket in p's set.
// Inside Control the descriptor cannot be closed (and its number reused)
// under us.
func (p *idlePoller) epollCtl(c *Conn, op int, events uint32) error {
	pc := pollCtls.Get().(*pollCtl)
	pc.epfd, pc.op, pc.err = p.epfd, op, nil
	pc.ev = syscall.EpollEvent{Events: events, Fd: int32(uint32(c.pollID)), Pad: int32(uint32(c.pollID >> 32))}
	err := c.rd.raw.rc.Control(pc.fn)
	if err == nil {
		err = pc.err
	}
	pollCtls.Put(pc)
	return err
}

// forgetIdle drops c, which has finished: its socket leaves the epoll set
// when it is closed. The last connection of a poller stops it.
func forgetIdle(c *Conn) {
	p := c.poller
	if p == nil {
		return
	}
	pollMu.Lock()
	defer pollMu.Unlock()
	delete(p.conns, c.pollID)
	if len(p.conns) == 0 {
		if pollCur == p {
			pollCur = nil
		}
		p.file.Close() // ends the loop
	}
}

func (p *idlePoller) loop(rc syscall.RawConn) {
	var events [128]syscall.EpollEvent
	var n int
	wait := func(fd uintptr) bool {
		var err error
		for {
			n, err = syscall.EpollWait(int(fd), events[:], 0)
			if err != syscall.EINTR {
				break
			}
		}
		if err != nil {
			n = 0
		}
		return n > 0 || err != nil
	}
	for {
		n = 0
		if err := rc.Read(wait); err != nil {
			return // closed by forgetIdle
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			pollMu.Lock()
			c := p.conns[id]
			pollMu.Unlock()
			if c != nil {
				c.unpark()
			}
		}
	}
}
