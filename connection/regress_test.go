package connection_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// Regression tests for bugs found in review, each driven over a raw pipe
// with real time (the failures they catch are hangs and races between
// goroutines, which these reproduce as they happen in production).

// rawFrame is what a raw peer saw.
type rawFrame struct {
	typ    http2.FrameType
	stream uint32
	code   http2.ErrCode
}

// frameLog reads frames until the connection ends, recording them; onData,
// when set, runs after each DATA frame (a slow reader).
type frameLog struct {
	mu     sync.Mutex
	frames []rawFrame
	onData func()
	done   chan struct{}
}

func readFrames(fr *http2.Framer) *frameLog {
	l := &frameLog{done: make(chan struct{})}
	go l.run(fr)
	return l
}

func (l *frameLog) run(fr *http2.Framer) {
	defer close(l.done)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		rf := rawFrame{typ: f.Header().Type, stream: f.Header().StreamID}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			rf.code = f.ErrCode
		case *http2.GoAwayFrame:
			rf.code = f.ErrCode
		}
		l.mu.Lock()
		l.frames = append(l.frames, rf)
		cb := l.onData
		l.mu.Unlock()
		if rf.typ == http2.FrameData && cb != nil {
			cb()
		}
	}
}

func (l *frameLog) snapshot() []rawFrame {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]rawFrame(nil), l.frames...)
}

// rawServerPeer plays the server end of a client connection; call it
// before NewClientConn, whose preface it must read (net.Pipe writes wait
// for a reader).
func rawServerPeer(b net.Conn) (*http2.Framer, *frameLog) {
	fr := http2.NewFramer(b, b)
	l := &frameLog{done: make(chan struct{})}
	go func() {
		pre := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(b, pre); err != nil {
			close(l.done)
			return
		}
		l.run(fr)
	}()
	return fr, l
}

func requestBlock(path string) []byte {
	var buf bytes.Buffer
	e := hpack.NewEncoder(&buf)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", path},
		{":authority", "x"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		e.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return buf.Bytes()
}

// A client stream whose first write fails before it got an id (here the
// server went away first) is in no table: it must still end, with the
// real status, and give its slot back so the connection can drain.
func TestClientUnopenedStreamEndsWhenFirstWriteFails(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	fr, _ := rawServerPeer(b)
	cc, err := connection.NewClientConn(a, connection.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	fr.WriteSettings()
	st, err := cc.NewStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	*st.Send.Header() = requestHeader()
	fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	for deadline := time.Now().Add(5 * time.Second); cc.Usable(); {
		if time.Now().After(deadline) {
			t.Fatal("GOAWAY not seen")
		}
		time.Sleep(time.Millisecond)
	}
	if err := st.Send.SendLast([]byte("req"), false, nil); status.CodeOf(err) != status.Unavailable {
		t.Fatalf("Send = %v, want UNAVAILABLE", err)
	}
	got := make(chan error, 1)
	go func() { _, err := st.Recv.Recv(); got <- err }()
	select {
	case err := <-got:
		if status.CodeOf(err) != status.Unavailable {
			t.Errorf("Recv = %v, want UNAVAILABLE", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Recv still blocked after the first write failed")
	}
	select {
	case <-cc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the connection did not drain after GOAWAY: the unopened stream kept its slot")
	}
	st.Finish()
}

// Rapid reset (CVE-2023-44487): streams opened and reset at once must not
// run more handlers than MaxConcurrentStreams, and a peer that keeps doing
// it is disconnected with ENHANCE_YOUR_CALM.
func TestServerRapidResetBoundsHandlers(t *testing.T) {
	var running, peak, started atomic.Int32
	release := make(chan struct{})
	var handlers sync.WaitGroup
	a, b := net.Pipe()
	c := connection.NewServerConn(a, connection.Config{MaxConcurrentStreams: 2}, func(st *connection.Stream) {
		handlers.Go(func() {
			defer st.Finish()
			started.Add(1)
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release // a handler slow to notice its context
			running.Add(-1)
		})
	})
	served := make(chan error, 1)
	go func() { served <- c.Serve() }()
	fr := http2.NewFramer(b, b)
	log := readFrames(fr) // before writing: net.Pipe writes wait for a reader
	b.Write([]byte(http2.ClientPreface))
	fr.WriteSettings()
	hdr := requestBlock("/x.S/M")
	for i := range 50 {
		id := uint32(2*i + 1)
		if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hdr, EndHeaders: true}) != nil ||
			fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
			break // disconnected
		}
	}
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection was not closed")
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("%d handlers ran at once with MaxConcurrentStreams 2", p)
	}
	close(release)
	handlers.Wait()
	if n := started.Load(); n != 2 {
		t.Errorf("%d handlers started; want 2 (the reset streams that waited must never start)", n)
	}
	<-log.done
	var calm bool
	for _, f := range log.snapshot() {
		calm = calm || (f.typ == http2.FrameGoAway && f.code == http2.ErrCodeEnhanceYourCalm)
	}
	if !calm {
		t.Error("no GOAWAY(ENHANCE_YOUR_CALM) for the flood of resets")
	}
	b.Close()
}

// A connection error while a handler is blocked writing to a peer that
// stopped reading must still end the connection: the final writes are
// bounded, so the reader is not left waiting for the writer for ever.
func TestServerConnErrorWithStalledWriterEnds(t *testing.T) {
	a, b := net.Pipe()
	var handlers sync.WaitGroup
	c := connection.NewServerConn(a, connection.Config{}, func(st *connection.Stream) {
		handlers.Go(func() {
			defer st.Finish()
			*st.Send.Header() = stream.Header{Status: 200, ContentType: "application/grpc"}
			st.Send.Send(make([]byte, 4<<20), false)
		})
	})
	served := make(chan error, 1)
	go func() { served <- c.Serve() }()
	fr := http2.NewFramer(b, b)
	sawData := make(chan struct{})
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if f.Header().Type == http2.FrameData {
				close(sawData)
				return // the peer stops reading
			}
		}
	}()
	b.Write([]byte(http2.ClientPreface))
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
	fr.WriteWindowUpdate(0, 1<<30)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: requestBlock("/x.S/M"), EndHeaders: true})
	<-sawData
	fr.WriteWindowUpdate(99, 1) // a connection error: WINDOW_UPDATE on an idle stream
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running after a connection error with a stalled writer")
	}
	b.Close()
	handlers.Wait()
}

// A large message yields wmu between frames to waiting writers; a Cancel
// that gets in there writes RST_STREAM, and no DATA may follow it.
func TestNoDataAfterOwnReset(t *testing.T) {
	for iter := range 20 {
		a, b := net.Pipe()
		fr, log := rawServerPeer(b)
		cc, err := connection.NewClientConn(a, connection.Config{})
		if err != nil {
			t.Fatal(err)
		}
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
		fr.WriteWindowUpdate(0, 1<<30)
		time.Sleep(20 * time.Millisecond)
		st, err := cc.NewStream(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		*st.Send.Header() = requestHeader()
		var once sync.Once
		cancelled := make(chan struct{})
		log.mu.Lock()
		log.onData = func() {
			once.Do(func() {
				go func() { st.Cancel(errors.New("cancelled")); close(cancelled) }()
			})
			time.Sleep(20 * time.Microsecond) // a slow reader, so writers queue up
		}
		log.mu.Unlock()
		sendErr := st.Send.SendLast(make([]byte, 4<<20), false, nil)
		<-cancelled
		time.Sleep(20 * time.Millisecond)
		rst, after := false, 0
		for _, f := range log.snapshot() {
			if f.typ == http2.FrameRSTStream && f.stream == 1 {
				rst = true
			} else if rst && f.typ == http2.FrameData && f.stream == 1 {
				after++
			}
		}
		st.Finish()
		cc.Close()
		b.Close()
		if after > 0 {
			t.Fatalf("iteration %d: %d DATA frames after our RST_STREAM (Send returned %v)", iter, after, sendErr)
		}
	}
}

// TestServerStreamContextEndsWithCall: a call that completed normally
// (request and response both ended) has its stream's context ended by
// Finish. It was not, so each completed call's context stayed registered
// under the connection's until the connection closed: a long-lived
// connection grew by one context per call.
func TestServerStreamContextEndsWithCall(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		ctxs := make(chan context.Context, 1)
		s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
			ctxs <- st.Context()
			if _, err := recvAll(st); err != io.EOF {
				t.Errorf("request: %v", err)
			}
			setResponseHeader(st)
			if err := st.Send.SendLast([]byte("resp"), false, okStatus()); err != nil {
				t.Errorf("SendLast: %v", err)
			}
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
		p.WriteData(1, true, h2test.Message(pattern(10)))
		expectResponse(t, p, 1)
		sctx := <-ctxs
		synctest.Wait() // the handler has returned and Finish has run
		if sctx.Err() == nil {
			t.Fatal("the stream's context is still live after the call completed and Finish ran")
		}
		if s.conn.Err() != nil {
			t.Fatalf("connection ended: %v", s.conn.Err())
		}
	})
}
