package connection

import (
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// lockWrite takes the write side. Writers announce themselves before
// waiting so that the one in front knows not to flush yet. While a flush
// is writing and a buffer's worth is already waiting, it waits for the
// flush: what writers may pile up behind a slow socket stays bounded.
func (c *Conn) lockWrite() {
	c.wpending.Add(1)
	c.wmu.Lock()
	for c.bw.busy && c.bw.Buffered() >= c.cfg.WriteBufferSize && c.werr == nil {
		c.wcond.Wait()
	}
}

// unlockWrite releases the write side. The last writer of a burst flushes
// for all of them, unless a flush is already writing: that one will take
// what was added meanwhile.
//
// A lone sender streaming back to back flushes each message itself. Handing
// its flush to the control writer, as grpc-go's writer goroutine does, was
// measured (2026-12-02, server stream of 16 KiB): three messages to a write
// instead of one, but the handoffs cost more than the syscalls saved
// (server CPU 21-31 µs a message against 16-18 µs, throughput lower).
func (c *Conn) unlockWrite() {
	if c.wpending.Add(-1) == 0 && !c.bw.busy && c.werr == nil && c.bw.Buffered() > 0 {
		c.flushOut()
	}
	failed := c.werr != nil && c.werr != errWriteShut
	c.wmu.Unlock()
	if failed {
		// The reader will see the socket fail and tear the connection down.
		c.closeNC()
	}
}

// maxFlushRounds bounds the writes one writer's flush makes for others
// that kept adding frames while it wrote; then the control writer takes
// over, so that a caller is not held up indefinitely by other streams'
// traffic.
const maxFlushRounds = 4

// flushOut writes what is buffered, with wmu held on entry and return but
// let go during each write, so that other writers fill the next batch
// meanwhile instead of waiting: writers share syscalls (group commit),
// and a writer hands its frames off without a goroutine switch. It writes
// until nothing is left, for at most maxFlushRounds writes.
func (c *Conn) flushOut() {
	c.bw.busy = true
	// Let the goroutines ready to run here go first: other senders add
	// their frames to this write instead of making their own. With
	// nothing else ready this costs a trip through the scheduler, well
	// under a syscall, and often a second thread woken for nothing (the
	// runtime wakes one for the yielding goroutine): with one stream open
	// nobody else sends on it, and the yield is skipped.
	c.mu.Lock()
	alone := c.active <= 1
	c.mu.Unlock()
	if !alone {
		c.wmu.Unlock()
		runtime.Gosched()
		c.wmu.Lock()
	}
	for round := 0; c.bw.Buffered() > 0 && c.werr == nil; round++ {
		if round == maxFlushRounds {
			c.mu.Lock()
			c.wakeWriterLocked()
			c.mu.Unlock()
			break
		}
		c.bw.take()
		c.wmu.Unlock()
		err := c.bw.writeOut()
		c.wmu.Lock()
		if err != nil && c.werr == nil {
			c.werr = err
		}
	}
	c.bw.busy = false
	c.wcond.Broadcast()
}

// waitFlushed waits until no flush is writing; wmu must be held, and is
// let go while waiting, so the caller must be between frames.
func (c *Conn) waitFlushed() {
	for c.bw.busy {
		c.wcond.Wait()
	}
}

// ctrlFrame is a control frame the reader wants written.
type ctrlFrame struct {
	kind   ctrlKind
	stream uint32
	code   http2.ErrCode
	n      uint32
	data   [8]byte
	debug  string // GOAWAY's debug data
}

type ctrlKind uint8

const (
	ctrlWindowUpdate ctrlKind = iota
	ctrlRST
	ctrlPing
	ctrlPingAck
	ctrlSettingsAck
	ctrlGoAway
)

// queueCtrl hands a control frame to the control writer, starting one if
// none runs; c.mu must be held.
// A peer that makes us queue too many (a flood) loses the connection.
func (c *Conn) queueCtrl(f ctrlFrame) {
	if c.closeAfter {
		return
	}
	if len(c.ctrl) >= c.cfg.MaxControlFrames {
		c.ctrl = append(c.ctrl[:0], ctrlFrame{kind: ctrlGoAway, stream: c.lastPeerID, code: http2.ErrCodeEnhanceYourCalm})
		c.closeSoonLocked()
	} else {
		c.ctrl = append(c.ctrl, f)
	}
	c.wakeWriterLocked()
}

// queueFatal queues GOAWAY with code and closes the connection once it is
// written; c.mu must be held.
func (c *Conn) queueFatal(code http2.ErrCode, cause error) {
	if c.err == nil {
		c.err = cause
	}
	f := ctrlFrame{kind: ctrlGoAway, stream: c.lastPeerID, code: code}
	if cause == errTooManyPings {
		f.debug = tooManyPings
	}
	c.queueCtrl(f)
	c.closeSoonLocked()
}

// tooManyPings is the GOAWAY debug data gRFC A8 names for a client whose
// keepalive pings the server refuses; the client backs off on it.
const tooManyPings = "too_many_pings"

var errTooManyPings = errors.New("h2grpc: too many pings (keepalive enforcement)")

// closeSoonLocked has the control writer close the socket once the queued
// frames are out, and bounds every write from now on (closeWriteTimeout):
// a writer blocked on a peer that stopped reading would otherwise hold wmu,
// keep the control writer out and the connection alive for ever.
// c.mu must be held.
func (c *Conn) closeSoonLocked() {
	if !c.closeAfter {
		c.closeAfter = true
		c.nc.SetWriteDeadline(time.Now().Add(closeWriteTimeout))
	}
	c.wakeWriterLocked()
}

// errWriteShut is the sticky write error once the final GOAWAY of a
// closing connection is written: nothing more is sent, though the socket
// may stay open a while (Conn.linger).
var errWriteShut = errors.New("h2grpc: connection closing after GOAWAY")

// closeWriteTimeout is how long a closing connection may still spend
// writing its last frames.
const closeWriteTimeout = time.Second

// wakeWriterLocked has the control writer run: it starts one unless one
// is running, which sees the wake-up before it exits, or the connection
// is past its last write (writeDone). The control writer exists only while
// there is work, so an idle connection has no goroutine but its reader.
// c.mu must be held.
func (c *Conn) wakeWriterLocked() {
	c.wake = true
	if !c.writing && !c.writeDone {
		c.writing = true
		go c.writeLoopFn()
	}
}

// writeLoop is the control writer: it writes what the reader queued, and
// takes over a flush that has made its rounds (flushOut), until no
// wake-up is left. Whether to go on is decided under c.mu, where
// wakeWriterLocked decides whether to start a writer: no wake-up is lost.
func (c *Conn) writeLoop() {
	for {
		c.mu.Lock()
		if !c.wake || c.writeDone {
			c.writerExitLocked()
			c.mu.Unlock()
			return
		}
		c.wake = false
		c.mu.Unlock()
		c.lockWrite()
		closeAfter, linger := c.writeCtrlQueue()
		c.unlockWrite()
		if closeAfter {
			if !linger {
				c.closeNC()
			}
			c.mu.Lock()
			c.writeDone = true
			c.writerExitLocked()
			c.mu.Unlock()
			return
		}
	}
}

// writerExitLocked records that the control writer exits; c.mu must be
// held.
func (c *Conn) writerExitLocked() {
	c.writing = false
	if c.writerWaited {
		c.writerWaited = false
		c.cond.Broadcast()
	}
}

// waitWriter waits until no control writer runs. After teardown has set
// writeDone none starts again, so the connection leaves no goroutine
// behind.
func (c *Conn) waitWriter() {
	c.mu.Lock()
	for c.writing {
		c.writerWaited = true
		c.cond.Wait()
	}
	c.mu.Unlock()
}

// writeCtrlQueue writes the queued control frames; wmu must be held. The
// control writer calls it, and so does a stream about to write DATA, so
// that control frames the reader queued go first: the SETTINGS ACK before
// DATA that the new SETTINGS allowed, say. It reports whether the
// connection is to close once they are written (closeAfter), and whether
// the reader lingers before it closes the socket (Conn.linger).
func (c *Conn) writeCtrlQueue() (closeAfter, linger bool) {
	c.mu.Lock()
	q := c.ctrl
	closeAfter, linger = c.closeAfter, c.lingering
	c.ctrl, c.ctrlSpare = c.ctrlSpare[:0], q
	c.mu.Unlock()
	for i := range q {
		if c.werr != nil {
			break
		}
		c.werr = c.writeCtrl(&q[i])
	}
	if closeAfter && c.werr == nil {
		// The GOAWAY leaves now, even with other writers waiting (the
		// last writer would flush), and nothing after it: the socket is
		// about to close, and a frame cut short by the close would end
		// the peer's reading with a framing error.
		c.waitFlushed()
		if c.werr == nil {
			c.werr = c.bw.Flush()
		}
		if c.werr == nil {
			c.werr = errWriteShut
			if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && linger {
				// The reader lingers, then closes the socket.
				cw.CloseWrite()
			}
		}
	}
	return closeAfter, linger
}

func (c *Conn) writeCtrl(f *ctrlFrame) error {
	switch f.kind {
	case ctrlWindowUpdate:
		return c.fr.WriteWindowUpdate(f.stream, f.n)
	case ctrlRST:
		return c.fr.WriteRSTStream(f.stream, f.code)
	case ctrlPing:
		return c.fr.WritePing(false, f.data)
	case ctrlPingAck:
		return c.fr.WritePing(true, f.data)
	case ctrlSettingsAck:
		if f.n != 0 {
			c.hencLimit = uint16(f.n - 1)
			c.encoder().SetMaxDynamicTableSizeLimit(f.n - 1)
		}
		return c.fr.WriteSettingsAck()
	case ctrlGoAway:
		return c.fr.WriteGoAway(f.stream, f.code, []byte(f.debug))
	}
	return nil
}

// writeHeaderBlock encodes h and writes it as HEADERS plus CONTINUATIONs,
// as one step under wmu so no other frame lands inside the block.
func (c *Conn) writeHeaderBlock(id uint32, h *stream.Header, end bool, maxFrame uint32) error {
	c.sentResponse.Store(true)
	block := c.encodeHeader(h)
	first := true
	for first || len(block) > 0 {
		frag := block[:min(len(block), int(maxFrame))]
		block = block[len(frag):]
		var err error
		if first {
			err = c.fr.WriteHeaders(http2.HeadersFrameParam{
				StreamID: id, BlockFragment: frag, EndStream: end, EndHeaders: len(block) == 0,
			})
			first = false
		} else {
			err = c.fr.WriteContinuation(id, len(block) == 0, frag)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeDataFrame writes one DATA frame carrying pfx (part of a message
// prefix, copied next to the frame header) then data, straight into the
// buffered writer: the message is not copied into a frame buffer first.
func (c *Conn) writeDataFrame(id uint32, end bool, pfx, data []byte) error {
	// Each frame a server sends forgives its client's pings, as grpc-go
	// counts them (gRFC A8): a client's BDP pings follow the data.
	c.sentResponse.Store(true)
	n := len(pfx) + len(data)
	h := append(c.fhdr[:0], byte(n>>16), byte(n>>8), byte(n), byte(http2.FrameData), 0, 0, 0, 0, 0)
	if end {
		h[4] = byte(http2.FlagDataEndStream)
	}
	binary.BigEndian.PutUint32(h[5:], id)
	h = append(h, pfx...)
	if _, err := c.bw.Write(h); err != nil {
		return err
	}
	_, err := c.bw.Write(data)
	return err
}

// writeBatch writes b for s; wmu must be held, and is held again on return,
// but is let go while the batch waits for flow-control credit.
func (c *Conn) writeBatch(s *Stream, b stream.Batch) error {
	if c.werr != nil {
		return c.streamEndError(c.werr)
	}
	c.mu.Lock()
	if err := s.sendErrLocked(); err != nil {
		c.mu.Unlock()
		return err
	}
	maxFrame := c.peer.maxFrameSize
	limit := c.peer.maxHeaderListSize
	if b.Header != nil {
		// Checked before a client stream takes its id: a refused block
		// must not leave an id the peer never saw (a later RST_STREAM on
		// it would be a connection error).
		if err := checkHeaderListSize(b.Header, limit); err != nil {
			c.mu.Unlock()
			return err
		}
	}
	if s.id == 0 {
		if err := c.openStreamLocked(s); err != nil {
			c.mu.Unlock()
			return err
		}
	}
	c.mu.Unlock()

	dataEnd := b.End && b.Trailer == nil
	if b.Header != nil {
		if c.werr = c.writeHeaderBlock(s.id, b.Header, dataEnd && !b.HasMessage, maxFrame); c.werr != nil {
			return c.streamEndError(c.werr)
		}
	}
	if b.HasMessage {
		plen := stream.PrefixLen
		if b.Raw {
			plen = 0
		}
		if err := c.writeMessage(s, b.Prefix, plen, b.Data, dataEnd); err != nil {
			return err
		}
	} else if dataEnd && b.Header == nil {
		if c.werr = c.writeDataFrame(s.id, true, nil, nil); c.werr != nil {
			return c.streamEndError(c.werr)
		}
	}
	if b.Trailer != nil {
		if err := checkHeaderListSize(b.Trailer, limit); err != nil {
			return err
		}
		if c.werr = c.writeHeaderBlock(s.id, b.Trailer, true, maxFrame); c.werr != nil {
			return c.streamEndError(c.werr)
		}
	}
	if b.End {
		c.onLocalEnd(s)
	}
	return nil
}

// writeMessage writes the first plen bytes of prefix, then data, as DATA
// frames, as far as the windows allow at a time, waiting (without wmu) for
// credit in between. The prefix travels by value so it never escapes.
func (c *Conn) writeMessage(s *Stream, pfx [stream.PrefixLen]byte, plen int, data []byte, end bool) error {
	prefix := pfx[:plen]
	remaining := len(prefix) + len(data)
	direct := vectored(c.nc)
	for {
		c.mu.Lock()
		n, maxFrame, err := c.reserveLocked(s, remaining)
		ctrl := len(c.ctrl) > 0
		c.mu.Unlock()
		if err != nil {
			return err
		}
		if ctrl && n > 0 {
			c.writeCtrlQueue()
			if c.werr != nil {
				c.refund(s, n)
				return c.streamEndError(c.werr)
			}
		}
		if n == 0 && remaining > 0 {
			c.unlockWrite()
			err := c.waitCredit(s)
			c.lockWrite()
			if err != nil {
				return err
			}
			if c.werr != nil {
				return c.streamEndError(c.werr)
			}
			continue
		}
		for first := true; first || n > 0; first = false {
			if direct && n >= directMin && !c.bw.busy {
				// Large: the frames go out in one vectored write, straight
				// from data, instead of being copied into the buffers
				// and written a buffer at a time.
				k := min(n, directMax)
				a := prefix[:min(k, len(prefix))]
				prefix = prefix[len(a):]
				bb := data[:k-len(a)]
				data = data[len(bb):]
				n -= k
				remaining -= k
				if c.werr = c.writeDirect(s.id, end && remaining == 0, a, bb, int(maxFrame)); c.werr != nil {
					return c.streamEndError(c.werr)
				}
				if n > 0 {
					// wmu was let go during the write: a reset may have
					// come in (see below).
					c.mu.Lock()
					err := s.sendErrLocked()
					c.mu.Unlock()
					if err != nil {
						c.refund(s, n)
						return err
					}
				}
				continue
			}
			k := min(n, int(maxFrame))
			if c.bw.busy {
				// Copied into the chained buffers while a flush writes:
				// frames no larger than a buffer keep that bounded.
				k = min(k, max(c.cfg.WriteBufferSize, 1<<14))
			}
			a := prefix[:min(k, len(prefix))]
			prefix = prefix[len(a):]
			bb := data[:k-len(a)]
			data = data[len(bb):]
			n -= k
			remaining -= k
			if c.werr = c.writeDataFrame(s.id, end && remaining == 0, a, bb); c.werr != nil {
				return c.streamEndError(c.werr)
			}
			if n > 0 && (c.wpending.Load() > 1 || (c.bw.busy && c.bw.Buffered() >= c.cfg.WriteBufferSize)) {
				// Another writer is waiting: let its frames in between
				// ours, so a large message does not hold up small ones.
				// sync.Mutex does not hand over to a waiter, so step
				// aside (Gosched) or we would just take it back. Or a
				// flush is writing and a buffer's worth waits already:
				// lockWrite waits for it.
				others := c.wpending.Load() > 1
				c.unlockWrite()
				if others {
					runtime.Gosched()
				}
				c.lockWrite()
				if c.werr != nil {
					return c.streamEndError(c.werr)
				}
				// A reset may have come in meanwhile: nothing more may
				// follow our RST_STREAM, and the unused credit goes back.
				c.mu.Lock()
				err := s.sendErrLocked()
				c.mu.Unlock()
				if err != nil {
					c.refund(s, n)
					return err
				}
			}
		}
		if remaining == 0 {
			return nil
		}
	}
}

// A run of DATA frames of at least directMin bytes is written by
// writeDirect, at most directMax bytes per write.
const (
	directMin = 64 << 10
	directMax = 256 << 10
)

// vectored reports whether nc writes net.Buffers in one syscall (writev).
// Elsewhere (TLS) each of writeDirect's pieces would be a write of its own.
func vectored(nc net.Conn) bool {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

// frameHeaders holds the frame headers of a writeDirect while it writes:
// one per frame, 9 bytes, the first followed by a message prefix.
var frameHeaders = sync.Pool{New: func() any {
	b := make([]byte, 0, (directMax>>14+1)*9+stream.PrefixLen)
	return &b
}}

// writeDirect writes what is buffered, then pfx and data as DATA frames of
// at most maxFrame bytes, in one vectored write from data itself; wmu must
// be held, and is held again on return, but is let go during the write
// (busy, as in flushOut): other writers buffer their frames meanwhile, and
// the last of them flushes (unlockWrite).
func (c *Conn) writeDirect(id uint32, end bool, pfx, data []byte, maxFrame int) error {
	c.sentResponse.Store(true)
	hp := frameHeaders.Get().(*[]byte)
	hdrs := (*hp)[:0]
	c.bw.take()
	for n := len(pfx) + len(data); n > 0; {
		k := min(n, maxFrame)
		n -= k
		i := len(hdrs)
		// Should hdrs outgrow its array, append copies it: the headers
		// vec points to stay where they are, in the old one.
		hdrs = append(hdrs, byte(k>>16), byte(k>>8), byte(k), byte(http2.FrameData), 0, 0, 0, 0, 0)
		if end && n == 0 {
			hdrs[i+4] = byte(http2.FlagDataEndStream)
		}
		binary.BigEndian.PutUint32(hdrs[i+5:], id)
		a := pfx[:min(k, len(pfx))]
		pfx = pfx[len(a):]
		hdrs = append(hdrs, a...)
		c.bw.vec = append(c.bw.vec, hdrs[i:len(hdrs):len(hdrs)])
		if b := data[:k-len(a)]; len(b) > 0 {
			c.bw.vec = append(c.bw.vec, b)
			data = data[len(b):]
		}
	}
	c.bw.busy = true
	c.wmu.Unlock()
	err := c.bw.writeOut()
	c.wmu.Lock()
	c.bw.busy = false
	c.wcond.Broadcast()
	*hp = hdrs[:0]
	frameHeaders.Put(hp)
	return err
}

// reserveLocked takes up to want bytes of send credit for s from both
// windows; c.mu must be held.
func (c *Conn) reserveLocked(s *Stream, want int) (n int, maxFrame uint32, err error) {
	if err := s.sendErrLocked(); err != nil {
		return 0, 0, err
	}
	n = int(min(int64(want), c.send.n, s.send.n))
	if n < 0 {
		n = 0
	}
	c.send.n -= int64(n)
	s.send.n -= int64(n)
	return n, c.peer.maxFrameSize, nil
}

// refund gives back n bytes of send credit that s reserved and did not
// use.
func (c *Conn) refund(s *Stream, n int) {
	c.mu.Lock()
	c.send.n += int64(n)
	s.send.n += int64(n)
	c.cond.Broadcast()
	c.mu.Unlock()
}

// waitCredit blocks until s may send again: credit arrived, or the stream
// or the connection ended (an error then).
func (c *Conn) waitCredit(s *Stream) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.send.n <= 0 || s.send.n <= 0 {
		if err := s.sendErrLocked(); err != nil {
			return err
		}
		c.cond.Wait()
	}
	return nil
}

// checkHeaderListSize refuses a block the peer said it would not accept
// (SETTINGS_MAX_HEADER_LIST_SIZE) before any of it is encoded.
func checkHeaderListSize(h *stream.Header, limit uint32) error {
	if limit == 0 {
		return nil
	}
	if size := headerListSize(h); size > uint64(limit) {
		return headerListError{status.Newf(status.Internal,
			"header list of %d bytes exceeds the peer's limit of %d", size, limit)}
	}
	return nil
}

// headerListError is a header block refused by checkHeaderListSize: the
// stream cannot go on, and an open one is reset with INTERNAL_ERROR (as
// grpc-go does) so the peer learns why.
type headerListError struct{ st *status.Error }

func (e headerListError) Error() string { return e.st.Error() }
func (e headerListError) Unwrap() error { return e.st }
