package connection

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// Conn is one HTTP/2 connection carrying gRPC calls, on the server or the
// client side. All its methods are safe for concurrent use.
type Conn struct {
	nc     net.Conn
	cfg    *Config       // shared by the connections of one configuration (internConfig)
	handle func(*Stream) // server: runs a new stream, in its own goroutine
	inline InlineHandler // server: may run a stream on the reader instead (inline.go)

	rd sockReader    // owned by the reader goroutine
	fr *http2.Framer // reads belong to the reader goroutine, writes to wmu's holder

	hdr headerReader // owned by the reader goroutine: decodes header blocks in place of the Framer's ReadMetaHeaders

	// Parking (Conn.park): a reader with nothing to read for idleGrace
	// exits, its socket watched by the idle poller, which starts a new
	// reader when the peer sends something.
	mayPark bool        // set before the reader starts: it runs on goroutines of its own
	server  bool        // never changes; here, where it shares a word
	parked  atomic.Bool // no reader runs: the first to clear it starts one
	poller  *idlePoller // set by the first park (registerIdle)
	pollID  uint64      // the poller's key for c
	onEnd   func()      // called once the connection has finished (Start)

	// A client's caller reading its own response (callerread.go).
	caller       *Stream                // owned by the reader: the stream whose caller reads
	fillsAtStart uint64                 // owned by the reader: rd.fills when this reader started
	callerStream atomic.Pointer[Stream] // caller, for Cancel to interrupt

	done chan struct{} // closed when the connection has finished

	// c.writeLoop as a func value, made once: go c.writeLoop() would
	// allocate its closure at each start of the control writer.
	writeLoopFn func()

	// Owned by whoever holds wmu.
	wmu      sync.Mutex
	wcond    sync.Cond                  // on wmu: a flush has finished (flushOut)
	wpending atomic.Int32               // writers holding or waiting for wmu
	bw       sockWriter                 // its busy flush writes without wmu (flushOut)
	henc     *headerEncoder             // made by encoder, with the first header block we send
	werr     error                      // sticky write error
	fhdr     [9 + stream.PrefixLen]byte // DATA frame header (+ message prefix) scratch
	nextID   uint32                     // client: the next stream id (also under mu)
	// sentResponse is set by writers of DATA or HEADERS, and cleared by
	// the reader at the client's PING (keepalive enforcement).
	sentResponse atomic.Bool
	// The encoder's table size (the peer's SETTINGS_HEADER_TABLE_SIZE, at
	// most 4096), for an encoder made again after dropEncoder; and
	// whether the peer's decoder may still hold entries of a dropped one.
	hencLimit uint16
	hencStale bool

	// Owned by the reader goroutine.
	deadlines   *deadlines // server streams' deadlines, made with the first (deadlineQueue)
	gotSettings bool
	emptyData   int32     // DATA frames without payload or END_STREAM in a row
	due         []*Stream // streams with a handler start or wake-up to deliver (batch.go)

	// Written by the reader under mu; read under mu.
	lastPeerID uint32 // highest stream id the peer opened

	// Under mu: the peer's first SETTINGS has been applied (isReady), and
	// the channel Ready returned, made only if it was asked for before.
	isReady bool
	ready   chan struct{}

	// Owned by mu, which is never held across I/O.
	mu           sync.Mutex
	cond         sync.Cond          // window credit, stream slots, stream count
	streams      map[uint32]*Stream // made with the first stream: a connection that never has one holds none
	active       int                // streams counted against the concurrency limit
	idleSince    int64              // when active last fell to 0, or the connection began, in monoNow's time (IdleFor)
	handlers     int                // server: handlers running
	pending      []*Stream          // server: streams waiting for a handler slot
	send         outflow            // connection-level send window
	recv         inflow             // connection-level receive window
	peer         peerSettings
	ctrl         []ctrlFrame // control frames waiting for the control writer
	ctrlSpare    []ctrlFrame
	wake         bool      // the control writer has work: a wake-up it has not seen yet
	writing      bool      // a control writer goroutine runs (wakeWriterLocked)
	writeDone    bool      // no control writer will start again (teardown, or the final write)
	writerWaited bool      // waitWriter waits on cond for the control writer to exit
	closeAfter   bool      // close the socket once the control queue is written
	lingering    bool      // ...after reading what the peer still sends (Conn.linger)
	goAwayRecv   bool      // the peer sent GOAWAY
	goAwaySent   bool      // we sent our final GOAWAY
	goAwayID     uint32    // the peer's last-stream-id
	goAwayLast   uint32    // our final GOAWAY's last-stream-id
	resets       idLog     // streams we reset (closed.go)
	rare         *connRare // made on first use (rareLocked)
	shutdownAck  chan struct{}
	err          error // why the connection ended; nil while it runs

	framesRead  atomic.Uint64 // by the reader: Activity
	lastPing    int64         // under mu: the client's last PING, in monoNow's time; 0 for none
	pingStrikes int           // under mu: PINGs the enforcement refused

	info atomic.Value // what the layer above attached (SetInfo)
}

// peerSettings are the peer's SETTINGS that shape what we send.
type peerSettings struct {
	initialWindow     int32
	maxFrameSize      uint32
	maxStreams        uint32
	maxHeaderListSize uint32 // 0: unlimited
}

// connRare is what few connections need, out of Conn so that an idle
// connection fits a smaller size class. Under Conn.mu.
type connRare struct {
	skipped     []idRange                 // stream ids the peer skipped (closed.go)
	goAwayDebug string                    // the debug data of the peer's GOAWAY
	pings       map[[8]byte]chan struct{} // Ping's waiting for their ACK
	pingSeq     uint64                    // Ping's last payload
}

// rareLocked returns c.rare, made on first use; c.mu must be held.
func (c *Conn) rareLocked() *connRare {
	if c.rare == nil {
		c.rare = new(connRare)
	}
	return c.rare
}

var clientPreface = []byte(http2.ClientPreface)

func newConn(nc net.Conn, cfg Config, server bool) *Conn {
	cfgp := internConfig(cfg.withDefaults())
	cfg = *cfgp
	c := &Conn{
		nc:        nc,
		server:    server,
		cfg:       cfgp,
		done:      make(chan struct{}),
		idleSince: monoNow(),
		peer: peerSettings{
			initialWindow: initialWindow,
			maxFrameSize:  1 << 14,
			maxStreams:    1<<31 - 1, // until the peer's SETTINGS say otherwise
		},
	}
	c.cond.L = &c.mu
	c.wcond.L = &c.wmu
	// No control writer until start has written the preface: a frame
	// queued before (a Drain before Serve, say) must not go first.
	c.writing = true
	c.writeLoopFn = c.writeLoop
	c.bw.init(nc, cfg.WriteBufferSize)
	c.rd.init(nc, cfg.ReadBufferSize)
	c.rd.beforeRead = c.flushDue
	c.fr = http2.NewFramer(&c.bw, &c.rd)
	// No SetReuseFrames: the frames it reuses are DATA, which readData
	// reads without the Framer.
	c.fr.SetMaxReadFrameSize(cfg.MaxFrameSize)
	c.fr.MaxHeaderListSize = cfg.MaxHeaderListSize
	c.hdr.init(c.fr, cfg.MaxHeaderListSize) // the Framer's ReadMetaHeaders stays nil
	c.hencLimit = 4096
	c.send.n = initialWindow
	c.recv.init(initialWindow)
	if !server {
		c.nextID = 1
	}
	return c
}

// encoder returns the HPACK encoder, made on first use: a connection
// that never sends a header block (an idle one) does not hold it. wmu must
// be held.
func (c *Conn) encoder() *headerEncoder {
	if c.henc == nil {
		c.henc = new(headerEncoder)
		e := hpack.NewEncoder(&c.henc.buf)
		limit := uint32(c.hencLimit)
		e.SetMaxDynamicTableSizeLimit(limit)
		if c.hencStale {
			// The peer's decoder still holds the dropped encoder's
			// entries: the first block empties its table (a size update
			// to 0, then back to the limit).
			e.SetMaxDynamicTableSize(0)
			e.SetMaxDynamicTableSize(limit)
			c.hencStale = false
		}
		c.henc.Encoder = e
	}
	return c.henc
}

// dropEncoder lets go of the HPACK encoder and its table, which the next
// header block makes again, empty; wmu must be held.
func (c *Conn) dropEncoder() {
	if c.henc != nil {
		c.henc = nil
		c.hencStale = true
	}
}

// headerEncoder is the HPACK encoder with the buffer it encodes into.
type headerEncoder struct {
	*hpack.Encoder
	buf bytes.Buffer
	// timeoutNamed: a grpc-timeout was indexed, so its name is in the
	// table (encodeHeader).
	timeoutNamed bool
}

// start writes our preface (the client's magic, then SETTINGS and the
// connection window's growth), then lets the control writer run.
func (c *Conn) start() error {
	settings := []http2.Setting{
		{ID: http2.SettingInitialWindowSize, Val: uint32(c.cfg.StreamWindow)},
		{ID: http2.SettingMaxFrameSize, Val: c.cfg.MaxFrameSize},
		{ID: http2.SettingMaxHeaderListSize, Val: c.cfg.MaxHeaderListSize},
		{ID: http2.SettingMaxConcurrentStreams, Val: c.cfg.MaxConcurrentStreams},
	}
	if !c.server {
		settings = append(settings, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	}
	c.lockWrite()
	if !c.server {
		_, c.werr = c.bw.Write(clientPreface)
	}
	if c.werr == nil {
		c.werr = c.fr.WriteSettings(settings...)
	}
	if grow := c.cfg.ConnWindow - initialWindow; grow > 0 && c.werr == nil {
		c.werr = c.fr.WriteWindowUpdate(0, uint32(grow))
		c.mu.Lock()
		c.recv.avail += grow
		c.mu.Unlock()
	}
	err := c.werr
	c.unlockWrite()
	c.mu.Lock()
	c.writing = false // held since newConn
	if c.wake {
		c.wakeWriterLocked()
	}
	c.mu.Unlock()
	return err
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns our address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// NetConn returns the underlying connection (for TLS state, say).
func (c *Conn) NetConn() net.Conn { return c.nc }

// SetInfo attaches v to the connection for the layers above, which know
// things the framing does not: the TLS handshake's result that handlers
// see as their peer's AuthInfo, say. Set it before the first stream.
func (c *Conn) SetInfo(v any) { c.info.Store(&v) }

// Info returns what SetInfo attached, or nil.
func (c *Conn) Info() any {
	if p, ok := c.info.Load().(*any); ok {
		return *p
	}
	return nil
}

// Ready is closed once the peer's first SETTINGS has arrived and been
// applied: the peer speaks HTTP/2 and its limits are known. A client
// connection counts as connected only then.
func (c *Conn) Ready() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ready == nil {
		if c.isReady {
			return closedChan
		}
		c.ready = make(chan struct{})
	}
	return c.ready
}

// setReady marks the peer's first SETTINGS applied (Ready).
func (c *Conn) setReady() {
	c.mu.Lock()
	c.isReady = true
	if c.ready != nil {
		close(c.ready)
	}
	c.mu.Unlock()
}

var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// Done is closed once the connection has finished and every stream on it
// has been ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection finished, or nil while it runs.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection at once: streams still open end with
// UNAVAILABLE on a client and CANCELLED on a server. It returns once the
// connection has finished, so on a server Conn it must follow Serve (in
// another goroutine), which is what finishes it.
func (c *Conn) Close() error { return c.CloseWithError(errConnClosed) }

// CloseWithError is Close with the reason the streams still open end with
// ("connection closed: " + cause): a keepalive that went unanswered, say.
func (c *Conn) CloseWithError(cause error) error {
	c.mu.Lock()
	if c.err == nil {
		c.err = cause
	}
	c.mu.Unlock()
	err := c.closeNC()
	<-c.done
	return err
}

// closeNC closes the socket, for anyone but the reader, and wakes a parked
// reader so that it sees the socket closed and ends the connection.
func (c *Conn) closeNC() error {
	err := c.nc.Close()
	c.unpark()
	return err
}

// Ping sends a PING and waits, under ctx, for its ACK: the peer is alive
// and reading. It fails when ctx ends first or the connection ends.
func (c *Conn) Ping(ctx context.Context) error {
	ack := make(chan struct{})
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	rare := c.rareLocked()
	rare.pingSeq++
	var data [8]byte
	binary.BigEndian.PutUint64(data[:], rare.pingSeq)
	if rare.pings == nil {
		rare.pings = map[[8]byte]chan struct{}{}
	}
	rare.pings[data] = ack
	c.queueCtrl(ctrlFrame{kind: ctrlPing, data: data})
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(rare.pings, data)
		c.mu.Unlock()
	}()
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.Err()
	}
}

// GoAwayDebug returns the debug data of the GOAWAY the peer sent, if any:
// "too_many_pings" tells a client its keepalive is too frequent.
func (c *Conn) GoAwayDebug() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rare == nil {
		return ""
	}
	return c.rare.goAwayDebug
}

// Activity counts the frames read from the peer so far: a keepalive that
// sees it move knows the peer is alive without pinging it.
func (c *Conn) Activity() uint64 { return c.framesRead.Load() }

// Streams returns how many streams are open on the connection.
func (c *Conn) Streams() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.streams)
}

// IdleFor returns how long the connection has had no stream open (since it
// began, if it never had one), or 0 while one is: gRFC A9's
// MaxConnectionIdle measures it.
func (c *Conn) IdleFor() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active > 0 {
		return 0
	}
	return max(time.Duration(monoNow()-c.idleSince), 1)
}

var errConnClosed = errors.New("h2grpc: connection closed")

// streamEndError is the error a stream still open when the connection ends
// finishes with.
func (c *Conn) streamEndError(cause error) *status.Error {
	if c.server {
		return status.Newf(status.Canceled, "connection closed: %v", cause)
	}
	return status.Newf(status.Unavailable, "connection closed: %v", cause)
}

// teardown ends the connection after the reader has stopped: every stream
// still open is ended with an error, waiters are woken, the writer stopped.
// With linger, the socket is closed only after linger.
func (c *Conn) teardown(cause error, linger bool) {
	c.mu.Lock()
	if c.err == nil {
		c.err = cause
	}
	cause = c.err
	streams := c.streams
	c.streams = nil
	c.pending = nil // in streams too: they are ended below
	c.writeDone = true
	c.cond.Broadcast()
	c.mu.Unlock()
	if !linger {
		c.nc.Close()
	}
	serr := c.streamEndError(cause)
	for _, s := range streams {
		s.fail(serr)
	}
	if c.deadlines != nil { // the reader's, which has stopped
		c.deadlines.stop()
	}
	if linger {
		c.linger()
		c.nc.Close()
	}
	c.waitWriter()
	forgetIdle(c)
	close(c.done)
	if c.onEnd != nil {
		c.onEnd()
	}
}

// waitCond waits on c.cond until ready returns true or ctx ends; it is
// called and returns with c.mu held.
func (c *Conn) waitCond(ctx context.Context, ready func() bool) error {
	if ready() {
		return nil
	}
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	for !ready() {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.cond.Wait()
	}
	return nil
}

// pingAck returns the channel of the Ping waiting for the ACK of data; r
// may be nil (no Ping was ever sent).
func (r *connRare) pingAck(data [8]byte) (chan struct{}, bool) {
	if r == nil {
		return nil, false
	}
	ack, ok := r.pings[data]
	return ack, ok
}
