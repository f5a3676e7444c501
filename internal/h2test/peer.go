package h2test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Peer is the fake end of an HTTP/2 connection. A reader goroutine reads
// every frame that arrives into an unbounded queue (so the connection under
// test never blocks on the peer); the test goroutine writes frames with the
// Write methods and takes received frames with Next, Expect or Received.
//
// The Write methods and the readers are for the test goroutine only. They
// fail the test (t.Fatal) on an error, so they must not be called from other
// goroutines.
type Peer struct {
	t      testing.TB
	ctx    context.Context
	nc     net.Conn
	client bool

	// Owned by the test goroutine.
	fr   *http2.Framer // writes only
	henc *hpack.Encoder
	hbuf bytes.Buffer

	// Filled by the reader goroutine, guarded by mu.
	mu     sync.Mutex
	frames []Frame
	err    error         // why the reader stopped; nil while it runs
	wake   chan struct{} // one token: frames or err changed
	done   chan struct{} // closed when the reader has stopped
}

// NewClient returns a peer that plays the client against a server
// connection on the other end of nc. ctx bounds every wait for a frame; give
// it a deadline. The peer closes nc when the test ends.
func NewClient(ctx context.Context, t testing.TB, nc net.Conn) *Peer {
	return newPeer(ctx, t, nc, true)
}

// NewServer returns a peer that plays the server against a client
// connection on the other end of nc. Its reader first reads the client
// preface and stops with an error if it is wrong. Create the peer before the
// client connection, which writes its preface at once.
func NewServer(ctx context.Context, t testing.TB, nc net.Conn) *Peer {
	return newPeer(ctx, t, nc, false)
}

func newPeer(ctx context.Context, t testing.TB, nc net.Conn, client bool) *Peer {
	p := &Peer{
		t:      t,
		ctx:    ctx,
		nc:     nc,
		client: client,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	p.fr = http2.NewFramer(nc, nil)
	p.fr.AllowIllegalWrites = true // tests send broken frames on purpose
	p.henc = hpack.NewEncoder(&p.hbuf)
	go p.readLoop(!client)
	t.Cleanup(p.Close)
	return p
}

// Close closes the peer's end of the connection and waits for its reader.
func (p *Peer) Close() {
	p.nc.Close()
	<-p.done
}

func (p *Peer) readLoop(readPreface bool) {
	defer close(p.done)
	if readPreface {
		var b [len(http2.ClientPreface)]byte
		if _, err := io.ReadFull(p.nc, b[:]); err != nil {
			p.stop(fmt.Errorf("reading the client preface: %w", err))
			return
		}
		if string(b[:]) != http2.ClientPreface {
			p.stop(fmt.Errorf("bad client preface %q", b[:]))
			return
		}
	}
	fr := http2.NewFramer(nil, p.nc)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 24
	fr.SetMaxReadFrameSize(1<<24 - 1)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			p.stop(err)
			return
		}
		p.mu.Lock()
		p.frames = append(p.frames, copyFrame(f))
		p.mu.Unlock()
		p.signal()
	}
}

func (p *Peer) stop(err error) {
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
	p.signal()
}

func (p *Peer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// next returns the next frame, or why none will come.
func (p *Peer) next() (Frame, error) {
	for {
		p.mu.Lock()
		if len(p.frames) > 0 {
			f := p.frames[0]
			p.frames = p.frames[1:]
			p.mu.Unlock()
			return f, nil
		}
		err := p.err
		p.mu.Unlock()
		if err != nil {
			return Frame{}, err
		}
		select {
		case <-p.wake:
		case <-p.ctx.Done():
			return Frame{}, fmt.Errorf("waiting for a frame: %w", context.Cause(p.ctx))
		}
	}
}

// Next waits for the next frame. It fails the test when the connection
// ends or the context does first.
func (p *Peer) Next() Frame {
	p.t.Helper()
	f, err := p.next()
	if err != nil {
		p.t.Fatalf("peer: no frame: %v", err)
	}
	return f
}

// Expect waits for the next frame and fails the test unless it has type typ
// on stream id.
func (p *Peer) Expect(typ http2.FrameType, id uint32) Frame {
	p.t.Helper()
	f := p.Next()
	if f.Type != typ || f.StreamID != id {
		p.t.Fatalf("peer: got frame %v, want %v on stream %d", f, typ, id)
	}
	return f
}

// Received returns the frames that have arrived and not been read yet,
// without waiting. Under testing/synctest, call synctest.Wait first to know
// that nothing else is on its way.
func (p *Peer) Received() []Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	fs := p.frames
	p.frames = nil
	return fs
}

// WaitClosed waits until the connection ends and returns the frames that
// arrived before that and were not read yet. It fails the test if the
// reader stopped for another reason than the connection closing.
func (p *Peer) WaitClosed() []Frame {
	p.t.Helper()
	var fs []Frame
	for {
		f, err := p.next()
		if err == nil {
			fs = append(fs, f)
			continue
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, net.ErrClosed) {
			p.t.Fatalf("peer: waiting for the connection to close: %v (frames before: %v)", err, fs)
		}
		return fs
	}
}

// Handshake opens the connection from the peer's side: the client preface
// if the peer plays the client, then SETTINGS with settings. It reads frames
// until it has seen both the connection's SETTINGS (which it acknowledges)
// and the ACK of its own, and returns every frame it read, in order.
func (p *Peer) Handshake(settings ...http2.Setting) []Frame {
	p.t.Helper()
	if p.client {
		p.WriteRaw([]byte(http2.ClientPreface))
	}
	p.WriteSettings(settings...)
	var got []Frame
	var sawSettings, sawAck bool
	for !sawSettings || !sawAck {
		f := p.Next()
		got = append(got, f)
		switch {
		case f.Type == http2.FrameSettings && f.IsAck():
			sawAck = true
		case f.Type == http2.FrameSettings:
			sawSettings = true
			p.WriteSettingsAck()
		}
	}
	return got
}

func (p *Peer) check(what string, err error) {
	p.t.Helper()
	if err != nil {
		p.t.Fatalf("peer: writing %s: %v", what, err)
	}
}

// WriteRaw writes b as it is.
func (p *Peer) WriteRaw(b []byte) {
	p.t.Helper()
	_, err := p.nc.Write(b)
	p.check("raw bytes", err)
}

// WriteSettings writes a SETTINGS frame.
func (p *Peer) WriteSettings(settings ...http2.Setting) {
	p.t.Helper()
	p.check("SETTINGS", p.fr.WriteSettings(settings...))
}

// WriteSettingsAck writes a SETTINGS ACK.
func (p *Peer) WriteSettingsAck() {
	p.t.Helper()
	p.check("SETTINGS ACK", p.fr.WriteSettingsAck())
}

// EncodeHeaders HPACK-encodes fields with the peer's encoder and returns a
// copy of the block. Every encoded block must be written, in order, or the
// connection's decoder loses track.
func (p *Peer) EncodeHeaders(fields []hpack.HeaderField) []byte {
	p.t.Helper()
	p.hbuf.Reset()
	for _, f := range fields {
		p.check("header field", p.henc.WriteField(f))
	}
	return bytes.Clone(p.hbuf.Bytes())
}

// WriteHeaders writes fields as one HEADERS frame (END_HEADERS), with
// END_STREAM when end is set.
func (p *Peer) WriteHeaders(id uint32, end bool, fields []hpack.HeaderField) {
	p.t.Helper()
	p.check("HEADERS", p.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: id, BlockFragment: p.EncodeHeaders(fields), EndStream: end, EndHeaders: true,
	}))
}

// WriteData writes one DATA frame.
func (p *Peer) WriteData(id uint32, end bool, data []byte) {
	p.t.Helper()
	p.check("DATA", p.fr.WriteData(id, end, data))
}

// WriteDataPadded writes one DATA frame with padLen bytes of padding (and
// the pad-length byte, which flow control also counts).
func (p *Peer) WriteDataPadded(id uint32, end bool, data []byte, padLen int) {
	p.t.Helper()
	p.check("padded DATA", p.fr.WriteDataPadded(id, end, data, make([]byte, padLen)))
}

// WriteWindowUpdate writes a WINDOW_UPDATE; id 0 is the connection.
func (p *Peer) WriteWindowUpdate(id, incr uint32) {
	p.t.Helper()
	p.check("WINDOW_UPDATE", p.fr.WriteWindowUpdate(id, incr))
}

// WriteRSTStream writes an RST_STREAM.
func (p *Peer) WriteRSTStream(id uint32, code http2.ErrCode) {
	p.t.Helper()
	p.check("RST_STREAM", p.fr.WriteRSTStream(id, code))
}

// WritePing writes a PING, or its ACK.
func (p *Peer) WritePing(ack bool, data [8]byte) {
	p.t.Helper()
	p.check("PING", p.fr.WritePing(ack, data))
}

// WriteGoAway writes a GOAWAY.
func (p *Peer) WriteGoAway(lastStreamID uint32, code http2.ErrCode) {
	p.t.Helper()
	p.check("GOAWAY", p.fr.WriteGoAway(lastStreamID, code, nil))
}
