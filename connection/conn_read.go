package connection

import (
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// readLoop is the reader goroutine: it reads frames and dispatches them to
// the event handlers until the connection ends, then tears it down, or
// until it parks (awaitData), to be resumed by a new goroutine.
func (c *Conn) readLoop() {
	c.endRead(c.readFrames())
}

// endRead ends a reader's run, on whatever goroutine read: nothing when it
// parked, the connection's teardown when it failed or ended.
func (c *Conn) endRead(err error) {
	if err == errParked {
		return
	}
	c.flushDue()
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		// A connection error (RFC 9113 §5.4.1): GOAWAY with its code, and
		// the connection closes once that is written.
		c.mu.Lock()
		c.lingering = true
		c.queueFatal(http2.ErrCode(ce), err)
		c.mu.Unlock()
		c.waitWriter() // the control writer writes GOAWAY, then shuts our sending side
		c.teardown(err, true)
		return
	}
	c.teardown(err, false)
}

// linger reads and discards what the peer still sends after our final
// GOAWAY, until it closes the connection or lingerTimeout passes. Closing a
// TCP socket with unread data in it resets the connection (RST, not FIN),
// and a reset may drop what the peer has not received or read yet: the
// GOAWAY that says why the connection ended. x/net/http2's server waits
// the same way.
func (c *Conn) linger() {
	c.rd.idleArmed = false // the deadline is linger's now
	c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, &c.rd)
}

// lingerTimeout bounds linger, as x/net/http2's server bounds the wait for
// a client to close after GOAWAY.
const lingerTimeout = time.Second

func (c *Conn) readFrames() error {
	c.fillsAtStart = c.rd.fills
	if c.gotSettings {
		// A reader resumed after parking: the handshake is done.
	} else if d := c.cfg.HandshakeTimeout; d > 0 {
		c.nc.SetReadDeadline(time.Now().Add(d))
	}
	if c.server && !c.gotSettings {
		var preface [len(http2.ClientPreface)]byte
		if _, err := io.ReadFull(&c.rd, preface[:]); err != nil {
			return err
		}
		if string(preface[:]) != http2.ClientPreface {
			return fmt.Errorf("%w: bad client preface", http2.ConnectionError(http2.ErrCodeProtocol))
		}
	}
	for {
		if c.rd.rpos == c.rd.wpos {
			if err := c.awaitData(); err != nil {
				return err
			}
		}
		if c.caller != nil && !c.rd.holdsFrame() {
			// A caller reads only frames it has whole (callerread.go).
			return errYield
		}
		// The Framer reads every frame header, so that it checks the
		// frame size and the frame order (nothing but CONTINUATION inside
		// a header block) for all of them; DATA payloads are read here,
		// straight from the read buffer into the streams (readData),
		// everything else by the Framer.
		fh, err := c.fr.ReadFrameHeader()
		if err == nil && fh.Type == http2.FrameData && c.gotSettings {
			c.framesRead.Add(1)
			if err := c.readData(fh); err != nil {
				return err
			}
			continue
		}
		var f http2.Frame
		if err == nil {
			f, err = c.fr.ReadFrameForHeader(fh)
		}
		if hf, ok := f.(*http2.HeadersFrame); ok && err == nil {
			f, err = c.hdr.read(hf)
		}
		c.framesRead.Add(1)
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				c.mu.Lock()
				idle := !(c.server && se.StreamID%2 == 1) && c.isIdleLocked(se.StreamID)
				c.mu.Unlock()
				if idle {
					// A stream only we may open, and have not: resetting
					// it would be a connection error at the peer (§5.1).
					return http2.ConnectionError(http2.ErrCodeProtocol)
				}
				c.onStreamError(se.StreamID, se.Code)
				continue
			}
			if err == io.ErrUnexpectedEOF && !c.rd.eof {
				// Not the connection ending in the middle of a frame
				// but a frame too short for its own fields (a PADDED
				// flag and no pad length, say): RFC 9113 §4.2.
				return fmt.Errorf("%w: truncated %v frame", http2.ConnectionError(http2.ErrCodeFrameSize), err)
			}
			if errors.Is(err, http2.ErrFrameTooLarge) {
				// Over our SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2). The
				// Framer has not read the payload, so the frames after it
				// cannot be found: a connection error even for DATA.
				return fmt.Errorf("%w: %w", http2.ConnectionError(http2.ErrCodeFrameSize), err)
			}
			return err
		}
		if !c.gotSettings {
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				return http2.ConnectionError(http2.ErrCodeProtocol)
			}
			c.gotSettings = true
			if err := c.dispatch(f); err != nil {
				return err
			}
			if c.cfg.HandshakeTimeout > 0 {
				c.nc.SetReadDeadline(time.Time{})
			}
			c.setReady()
			continue
		}
		if err := c.dispatch(f); err != nil {
			return err
		}
	}
}

// Start runs a server connection as Serve does, but the reader may leave
// the calling goroutine: Start returns once the connection has finished or
// the client has been silent for a while (idleGrace). While it is silent
// no goroutine waits for it, on TCP and Unix sockets on Linux (the idle
// poller watches the socket); a new goroutine reads what it sends next.
// onEnd, if not nil, is called once the connection has finished, where
// Serve would return.
func (c *Conn) Start(onEnd func()) {
	c.onEnd = onEnd
	c.mayPark = c.rd.raw != nil && idlePollAvailable()
	if err := c.start(); err != nil {
		c.nc.Close()
	}
	c.readLoop()
}

// idleGrace is how long a reader waits on the socket before it parks
// (between one and two of it after the last read, see awaitData): a
// connection in use keeps its reader, and only one left alone pays for
// parking and resuming, a few microseconds.
var idleGrace = 50 * time.Millisecond

// errParked ends readFrames when the reader has parked: the connection
// goes on, its reader goroutine exits.
var errParked = errors.New("reader parked")

// awaitData is where the reader, having parsed all it has read, is about
// to read the socket again, and to wait there until the peer sends more:
// readFrames calls it (only) whenever nothing is left in the read buffer
// at a frame boundary, on every connection. Where it may park, it
// waits here, with the idle deadline armed, and parks when a whole
// idleGrace passes without data (errParked); elsewhere the Framer's read
// waits. The deadline is re-armed once per idleGrace, not at each wait,
// which would cost a timer update per read.
func (c *Conn) awaitData() error {
	if !c.mayPark || !c.gotSettings {
		return nil
	}
	if s := c.takeInline(); s != nil {
		c.flushDue()
		if c.runInline(s) {
			return errParked
		}
	}
	r := &c.rd
	for {
		if c.caller == nil && r.fills != c.fillsAtStart && c.idleClient() {
			// A client with no stream open: its next caller reads its
			// response itself (callerread.go). Not before this reader
			// has read something: the socket that started it is
			// readable, and parking again would only start another.
			c.flushDue()
			if c.park() {
				return errParked
			}
			return nil
		}
		if !r.idleArmed {
			r.armIdle(idleGrace)
		}
		if c.caller != nil && c.callerDone() {
			return errYield
		}
		n, timedOut, err := r.fillIdle()
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if !timedOut {
			continue
		}
		if r.fills != r.fillsAtArm {
			continue // data came since the deadline was armed: wait another idleGrace
		}
		if c.caller != nil {
			continue // a caller waits for its response here, or was interrupted
		}
		c.releaseIdle()
		if c.park() {
			return errParked
		}
		return nil // cannot park: the Framer's read waits
	}
}

// park stops the reader: the idle poller (or a Close) starts a new one
// once the socket is readable. It returns false when the socket cannot be
// watched: the reader waits on it as it is, without parking again.
func (c *Conn) park() bool {
	first, ok := registerIdle(c)
	if ok {
		// From here on another reader may start: this one touches
		// nothing of c that a reader writes, and of the socket only
		// its descriptor, which arm holds.
		c.parked.Store(true)
		if c.poller.arm(c, first) == nil {
			return true
		}
		if !c.parked.CompareAndSwap(true, false) {
			return true // a Close has started a new reader already
		}
	}
	c.mayPark = false
	c.rd.disarmIdle()
	return false
}

// releaseIdle gives back what a connection that has gone quiet holds from
// its calls, made again by the next call that needs it: the header field
// slice, an empty stream table and control queue, the deadline timer, and,
// with no stream open, the HPACK encoder and its table. The reader calls
// it before it parks after idleGrace without data, so a connection that
// is busy keeps all of it, and one that has served calls and waits costs
// about what a new one does. The HPACK decoder stays: its table is the
// peer's to empty.
func (c *Conn) releaseIdle() {
	c.hdr.release()
	if len(c.due) == 0 {
		c.due = nil
	}
	if c.deadlines != nil && c.deadlines.release() {
		c.deadlines = nil
	}
	c.mu.Lock()
	open := len(c.streams) > 0
	if !open {
		c.streams = nil
	}
	if len(c.ctrl) == 0 && !c.writing {
		c.ctrl, c.ctrlSpare = nil, nil
	}
	c.mu.Unlock()
	if !open {
		c.wmu.Lock()
		c.dropEncoder()
		c.wmu.Unlock()
	}
}

// unpark starts a reader for a parked connection: its socket is readable,
// or closed.
func (c *Conn) unpark() {
	if c.parked.CompareAndSwap(true, false) {
		go c.readLoop()
	}
}

func (c *Conn) dispatch(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		if c.server {
			return c.onServerHeaders(f)
		}
		return c.onClientHeaders(f)
	case *http2.DataFrame:
		// Only before SETTINGS, which makes it a connection error in
		// readFrames; afterwards DATA takes readData's path.
		return http2.ConnectionError(http2.ErrCodeProtocol)
	case *http2.RSTStreamFrame:
		return c.onStreamReset(f)
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.PingFrame:
		return c.onPing(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdated(f)
	case *http2.GoAwayFrame:
		return c.onGoAway(f)
	case *http2.PushPromiseFrame:
		// We never enable push, and a client never receives one legally.
		return http2.ConnectionError(http2.ErrCodeProtocol)
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			c.onStreamError(f.StreamID, http2.ErrCodeProtocol)
		}
		return nil
	default:
		return nil // unknown frame types are ignored (RFC 9113 §5.5)
	}
}

// onStreamError answers a stream error (RFC 9113 §5.4.2) with RST_STREAM
// and ends the stream if we know it.
func (c *Conn) onStreamError(id uint32, code http2.ErrCode) {
	c.mu.Lock()
	if c.server && id%2 == 1 && id > c.lastPeerID {
		c.notePeerIDLocked(id) // a request refused while it was being opened
	}
	s := c.streams[id]
	if s != nil {
		s.resetErr = status.Newf(status.Internal, "stream error: %v", code)
		c.removeLocked(s)
	}
	c.noteResetLocked(id)
	c.queueCtrl(ctrlFrame{kind: ctrlRST, stream: id, code: code})
	c.mu.Unlock()
	if s != nil {
		s.endHalves(s.resetErr)
	}
}

// isIdleLocked reports whether id names a stream that was never opened,
// for which most frames are a connection error (RFC 9113 §5.1).
func (c *Conn) isIdleLocked(id uint32) bool {
	if c.server == (id%2 == 1) {
		return id > c.lastPeerID
	}
	return id >= c.nextIDLocked()
}

// nextIDLocked reads the next id we would open; only the client opens
// streams. Written under wmu and mu, so mu suffices to read it.
func (c *Conn) nextIDLocked() uint32 {
	if c.server {
		return 2
	}
	return c.nextID
}

// readData reads the DATA frame whose header fh the Framer has read,
// applying the checks x/net's Framer (parseDataFrame) would, and feeds its
// payload to the stream from the read buffer, without the Framer's copy
// into a frame buffer of its own.
func (c *Conn) readData(fh http2.FrameHeader) error {
	if fh.StreamID == 0 {
		return fmt.Errorf("%w: DATA frame with stream ID 0", http2.ConnectionError(http2.ErrCodeProtocol))
	}
	size := fh.Length // what flow control charges: payload and padding
	n := size         // the payload without padding
	var pad uint32
	if fh.Flags.Has(http2.FlagDataPadded) {
		if size == 0 {
			// A frame too short for its pad length (RFC 9113 §4.2).
			return fmt.Errorf("%w: truncated DATA frame", http2.ConnectionError(http2.ErrCodeFrameSize))
		}
		p, err := c.rd.peek(1)
		if err != nil {
			return unexpectedEOF(err)
		}
		pad = uint32(p[0])
		c.rd.discard(1)
		if pad > size-1 {
			return fmt.Errorf("%w: pad size larger than DATA payload", http2.ConnectionError(http2.ErrCodeProtocol))
		}
		n = size - 1 - pad
	}
	ended := fh.Flags.Has(http2.FlagDataEndStream)
	if n > 0 || ended {
		c.emptyData = 0
	} else if c.emptyData++; int(c.emptyData) > c.cfg.MaxEmptyDataFrames {
		return fmt.Errorf("%w: more than %d empty DATA frames in a row", http2.ConnectionError(http2.ErrCodeEnhanceYourCalm), c.cfg.MaxEmptyDataFrames)
	}
	s, err := c.onDataReceived(fh.StreamID, size, n, ended)
	if err != nil {
		return err
	}
	// The payload, fed as it is in the buffer (s nil: discarded), then
	// the padding.
	credit := int(size - n) // padding
	for rest := n; rest > 0; {
		p, err := c.rd.peek(int(rest))
		if err != nil {
			return unexpectedEOF(err)
		}
		if s != nil {
			k, _ := s.Recv.OnData(p)
			credit += k
			c.queueWake(s)
		}
		c.rd.discard(len(p))
		rest -= uint32(len(p))
	}
	if err := c.skip(int(pad)); err != nil {
		return err
	}
	if s == nil {
		return nil
	}
	if ended {
		c.onStreamEnded(s, nil)
	}
	if credit > 0 {
		c.mu.Lock()
		s.creditLocked(credit)
		c.mu.Unlock()
	}
	return nil
}

// skip reads and drops n bytes (a DATA frame's padding).
func (c *Conn) skip(n int) error {
	for n > 0 {
		p, err := c.rd.peek(n)
		if err != nil {
			return unexpectedEOF(err)
		}
		c.rd.discard(len(p))
		n -= len(p)
	}
	return nil
}

// unexpectedEOF reports the end of the connection inside a frame as the
// Framer does (io.ReadFull's io.ErrUnexpectedEOF); sockReader.eof is set.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// onDataReceived charges a DATA frame of size bytes (n of them payload,
// the rest padding) to both receive windows, before its payload is read.
// It returns the stream to feed the payload to, or nil when the payload is
// to be dropped (closed or broken streams).
func (c *Conn) onDataReceived(id, size, n uint32, ended bool) (*Stream, error) {
	c.mu.Lock()
	if !c.recv.take(size) {
		c.mu.Unlock()
		return nil, http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	// The connection's credit goes back at once, whatever becomes of the
	// data: a stream's own window accounts for what it holds until its
	// application consumes it. Held back until consumption, it would let
	// streams nobody reads yet spend the connection window and stall every
	// other stream, even deadlock an application that reads its streams
	// one after another. What a connection holds stays bounded by its
	// streams' windows (README, "Defaults").
	c.creditLocked(int(size))
	s := c.streams[id]
	if s == nil || s.remoteEnded {
		// Not open for the peer: the data is dropped (RFC 9113 §6.9).
		switch {
		case s == nil && c.isIdleLocked(id):
			c.mu.Unlock()
			return nil, http2.ConnectionError(http2.ErrCodeProtocol)
		case s != nil:
			// DATA after END_STREAM, half-closed (remote) (§5.1, §6.1):
			// reset the stream and end it here too, so that nothing
			// more is sent on it.
			c.mu.Unlock()
			c.onStreamError(id, http2.ErrCodeStreamClosed)
			return nil, nil
		case c.ignoreClosedLocked(id):
			// Sent before the peer saw our RST_STREAM (closed.go).
		default:
			// Closed by END_STREAM both ways or by the peer's reset.
			c.noteResetLocked(id)
			c.queueCtrl(ctrlFrame{kind: ctrlRST, stream: id, code: http2.ErrCodeStreamClosed})
		}
		c.mu.Unlock()
		return nil, nil
	}
	if !s.recv.take(size) {
		c.mu.Unlock()
		c.onStreamError(id, http2.ErrCodeFlowControl)
		return nil, nil
	}
	if !c.server && !s.gotHeader {
		// A response's DATA before its HEADERS is malformed (RFC 9113 §8.1).
		c.mu.Unlock()
		c.onStreamError(id, http2.ErrCodeProtocol)
		return nil, nil
	}
	if !s.takeLength(int64(n), ended) {
		c.mu.Unlock()
		c.onStreamError(id, http2.ErrCodeProtocol)
		return nil, nil
	}
	c.mu.Unlock()
	return s, nil
}

// creditLocked returns n bytes of connection credit, queueing a
// WINDOW_UPDATE when it is worth one. Conn.mu must be held.
func (c *Conn) creditLocked(n int) {
	if incr := c.recv.add(n); incr > 0 {
		c.queueCtrl(ctrlFrame{kind: ctrlWindowUpdate, n: uint32(incr)})
	}
}

// creditLocked returns n bytes of s's credit while the peer still sends on
// it, through the control queue. Conn.mu must be held.
func (s *Stream) creditLocked(n int) {
	if s.inTable && !s.remoteEnded {
		if incr := s.recv.add(n); incr > 0 {
			s.conn.queueCtrl(ctrlFrame{kind: ctrlWindowUpdate, stream: s.id, n: uint32(incr)})
		}
	}
}

// onStreamReset ends a stream the peer reset.
func (c *Conn) onStreamReset(f *http2.RSTStreamFrame) error {
	c.mu.Lock()
	s := c.streams[f.StreamID]
	if s == nil {
		idle := c.isIdleLocked(f.StreamID)
		c.mu.Unlock()
		if idle {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil
	}
	err := status.Newf(status.FromHTTP2ErrCode(uint32(f.ErrCode)), "stream reset by peer: %v", f.ErrCode)
	s.resetErr = err
	s.refused = f.ErrCode == http2.ErrCodeRefusedStream
	c.removeLocked(s)
	c.cond.Broadcast()
	c.mu.Unlock()
	s.endHalves(err)
	return nil
}

// onWindowUpdated adds the peer's credit and wakes blocked senders.
func (c *Conn) onWindowUpdated(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	if f.StreamID == 0 {
		ok := c.send.grow(int64(f.Increment))
		c.cond.Broadcast()
		c.mu.Unlock()
		if !ok {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		return nil
	}
	s := c.streams[f.StreamID]
	if s == nil {
		idle := c.isIdleLocked(f.StreamID)
		c.mu.Unlock()
		if idle {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil
	}
	ok := s.send.grow(int64(f.Increment))
	c.cond.Broadcast()
	c.mu.Unlock()
	if !ok {
		c.onStreamError(f.StreamID, http2.ErrCodeFlowControl)
	}
	return nil
}

// onPing answers a PING; the ACK of our shutdown PING moves a graceful
// shutdown to its second GOAWAY.
func (c *Conn) onPing(f *http2.PingFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.IsAck() {
		if f.Data == shutdownPing && c.shutdownAck != nil {
			close(c.shutdownAck)
			c.shutdownAck = nil
		}
		if ack, ok := c.rare.pingAck(f.Data); ok {
			close(ack)
			delete(c.rare.pings, f.Data)
		}
		return nil
	}
	if c.server && c.cfg.MinPingInterval > 0 && c.pingRefused() {
		c.pingStrikes++
		if c.pingStrikes > maxPingStrikes {
			c.queueFatal(http2.ErrCodeEnhanceYourCalm, errTooManyPings)
			return nil
		}
	}
	c.queueCtrl(ctrlFrame{kind: ctrlPingAck, data: f.Data})
	return nil
}

// maxPingStrikes is how many refused pings a client gets before GOAWAY,
// as in gRFC A8 and grpc-go.
const maxPingStrikes = 2

// pingRefused applies the keepalive enforcement to a client PING arriving
// now; c.mu must be held.
func (c *Conn) pingRefused() bool {
	now := monoNow()
	last := c.lastPing
	c.lastPing = now
	if c.sentResponse.Swap(false) {
		c.pingStrikes = 0 // the client is waiting on a live call
		return false
	}
	minTime := c.cfg.MinPingInterval
	if !c.cfg.PingWithoutStreams && len(c.streams) == 0 {
		// No call to keep alive: as grpc-go, only a ping per two hours.
		minTime = max(minTime, idlePingInterval)
	}
	return last != 0 && time.Duration(now-last) < minTime
}

// idlePingInterval is how often a client may ping a connection without
// streams when the policy does not permit it, as in grpc-go.
const idlePingInterval = 2 * time.Hour

// onSettings applies the peer's SETTINGS and acknowledges them.
func (c *Conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ack := ctrlFrame{kind: ctrlSettingsAck}
	for i := range f.NumSettings() {
		s := f.Setting(i)
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingEnablePush:
			if !c.server && s.Val != 0 {
				return http2.ConnectionError(http2.ErrCodeProtocol)
			}
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - int64(c.peer.initialWindow)
			c.peer.initialWindow = int32(s.Val)
			for _, st := range c.streams {
				if !st.send.grow(delta) {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			c.cond.Broadcast()
		case http2.SettingMaxFrameSize:
			c.peer.maxFrameSize = s.Val
		case http2.SettingMaxConcurrentStreams:
			c.peer.maxStreams = s.Val
			c.cond.Broadcast()
		case http2.SettingMaxHeaderListSize:
			c.peer.maxHeaderListSize = s.Val
		case http2.SettingHeaderTableSize:
			// The encoder may use up to this much; the writer applies it
			// before it acknowledges, so every later block obeys it.
			// Stored plus one: zero means unchanged.
			ack.n = min(s.Val, 4096) + 1
		}
	}
	c.queueCtrl(ack)
	return nil
}

// onGoAway stops new streams; streams the peer will not process (above its
// last-stream-id) end with UNAVAILABLE and may be retried elsewhere, the
// others finish.
func (c *Conn) onGoAway(f *http2.GoAwayFrame) error {
	c.mu.Lock()
	c.goAwayRecv = true
	c.goAwayID = f.LastStreamID
	if d := f.DebugData(); len(d) > 0 {
		c.rareLocked().goAwayDebug = string(d)
	}
	var refused []*Stream
	if !c.server {
		for id, s := range c.streams {
			if id > f.LastStreamID {
				refused = append(refused, s)
			}
		}
	}
	err := status.Newf(status.Unavailable, "connection going away (%v): stream not processed", f.ErrCode)
	for _, s := range refused {
		s.resetErr, s.refused = err, true
		c.removeLocked(s)
	}
	c.closeIfDrainedLocked()
	c.cond.Broadcast()
	c.mu.Unlock()
	for _, s := range refused {
		s.endHalves(err)
	}
	return nil
}

// decodeInto decodes a header block into h, answering a malformed one with
// a stream error; ok false means the block was refused. contentLength is
// the block's content-length, -1 without one.
func (c *Conn) decodeInto(f *http2.MetaHeadersFrame, h *stream.Header) (contentLength int64, ok bool) {
	if f.Truncated {
		c.onStreamError(f.StreamID, http2.ErrCodeProtocol)
		return -1, false
	}
	if reason := decodeHeader(f.Fields, h); reason != "" {
		c.onStreamError(f.StreamID, http2.ErrCodeProtocol)
		return -1, false
	}
	contentLength, ok = parseContentLength(f.Fields)
	if !ok {
		c.onStreamError(f.StreamID, http2.ErrCodeProtocol)
		return -1, false
	}
	return contentLength, true
}

// onStreamEndedChecked is onStreamEnded for an END_STREAM the peer sent
// on a header block, after the content-length check (RFC 9113 §8.1.1): a
// body shorter than announced is malformed, a stream error.
func (c *Conn) onStreamEndedChecked(s *Stream, trailer *stream.Header) {
	if !s.takeLength(0, true) {
		c.onStreamError(s.id, http2.ErrCodeProtocol)
		return
	}
	c.onStreamEnded(s, trailer)
}
