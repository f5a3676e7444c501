package server_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// The tests in this file mount the attacks of the hardening list (README,
// "Hardening") from a fake peer over loopback TCP against a real server,
// and check three things: the server answers the attack as its defence
// says, a well-behaved client on another connection still gets its calls
// through, and the goroutines the attack made come back once the
// attacker's connection ends. The silent-client attack (a peer that
// connects and says nothing) is TestConnectionTimeoutCoversPreface in
// handshake_test.go.

// attackCallTimeout bounds the well-behaved client's calls during and
// after an attack: generous, so a loaded CI machine under -race passes.
const attackCallTimeout = 5 * time.Second

// attackTarget is a server under attack, with a well-behaved client on
// its own connection.
type attackTarget struct {
	srv      *server.Server
	addr     string
	good     *client.Conn
	baseline int // goroutines before the attack
}

// startAttackTarget serves srv on a loopback port, connects a
// well-behaved client that makes one call, and notes the goroutine count.
func startAttackTarget(t *testing.T, srv *server.Server) *attackTarget {
	t.Helper()
	a := &attackTarget{srv: srv, addr: serveTCP(t, srv)}
	a.good = dial(t, a.addr)
	a.checkGoodCall(t, "before the attack")
	a.baseline = runtime.NumGoroutine()
	return a
}

// checkGoodCall makes a unary call from the well-behaved client and fails
// the test unless it completes within attackCallTimeout.
func (a *attackTarget) checkGoodCall(t *testing.T, when string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), attackCallTimeout)
	defer cancel()
	start := time.Now()
	resp, err := client.Unary[pb.ExampleReply](ctx, a.good, testserver.Unary, &pb.ExampleRequest{Value: "good"})
	if err != nil || resp.Message != "good" {
		t.Fatalf("well-behaved client %s: %v, %v (after %v)", when, resp, err, time.Since(start))
	}
}

// dialAttacker opens the attacker's TCP connection.
func (a *attackTarget) dialAttacker(t *testing.T) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// peer opens the attacker's connection as an h2test peer, handshake done.
func (a *attackTarget) peer(t *testing.T, settings ...http2.Setting) (*h2test.Peer, net.Conn) {
	t.Helper()
	nc := a.dialAttacker(t)
	p := h2test.NewClient(testserver.Context(t, 10*time.Second), t, nc)
	p.Handshake(settings...)
	return p, nc
}

// checkGoroutines waits a few seconds for the goroutine count to come
// back near the baseline taken before the attack.
func (a *attackTarget) checkGoroutines(t *testing.T) {
	t.Helper()
	const margin = 5
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= a.baseline+margin {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines 5s after the attack, %d before (margin %d):\n%s", n, a.baseline, margin, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sampler records the peak goroutine count and heap in use while an
// attack runs. The collector runs at a tenth of its usual heap growth
// meanwhile, so that the peak is what the server holds rather than the
// garbage of a flood's parsed frames (one x/net frame per SETTINGS or
// PING): on a loaded machine a collector short of CPU let that garbage
// reach 25-37 MiB against the 16 MiB bound (TestAttackControlFlood, in
// one run of three of the connection and server tests together).
type sampler struct {
	stop       chan struct{}
	done       chan struct{}
	heap0      uint64
	gcPercent  int
	goroutines atomic.Int64
	heap       atomic.Uint64
}

func startSampler() *sampler {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{}), heap0: ms.HeapInuse, gcPercent: debug.SetGCPercent(10)}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if n := int64(runtime.NumGoroutine()); n > s.goroutines.Load() {
				s.goroutines.Store(n)
			}
			if ms.HeapInuse > s.heap.Load() {
				s.heap.Store(ms.HeapInuse)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// finish stops the sampler and returns the peak goroutine count and the
// peak heap growth over the start.
func (s *sampler) finish() (goroutines int, heapGrowth uint64) {
	close(s.stop)
	<-s.done
	debug.SetGCPercent(s.gcPercent)
	h := s.heap.Load()
	if h < s.heap0 {
		h = s.heap0
	}
	return int(s.goroutines.Load()), h - s.heap0
}

// frames builds raw frames with a Framer writing to a buffer.
func frames(t *testing.T, write func(fr *http2.Framer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.AllowIllegalWrites = true
	if err := write(fr); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// waitGoAwayOrAck reads frames until a GOAWAY or the ACK of a PING with
// data, and returns the GOAWAY if that came first. It fails the test if
// the connection ends before either.
func waitGoAwayOrAck(p *h2test.Peer, data [8]byte) (goAway *h2test.Frame) {
	for {
		f := p.Next()
		if f.Type == http2.FrameGoAway {
			return &f
		}
		if f.Type == http2.FramePing && f.IsAck() && f.Ping == data {
			return nil
		}
	}
}

// blockingServer is fakeServer plus a client-streaming method whose
// handler ignores its context and waits for release to be closed.
func blockingServer(release <-chan struct{}, started *atomic.Int64, opts ...server.Option) *server.Server {
	srv := fakeServer(nil, opts...)
	server.RegisterClientStream(srv, "/attack.Block/Wait", func(grpc.ClientStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
		started.Add(1)
		<-release
		return nil
	})
	return srv
}

// openAndReset returns n streams from id on, each opened with HEADERS
// for path (no END_STREAM) and reset at once with RST_STREAM(CANCEL), as
// raw frames. Every block is encoded with p's encoder, so they must all
// be written, in order.
func openAndReset(t *testing.T, p *h2test.Peer, id uint32, n int, path string) []byte {
	t.Helper()
	return frames(t, func(fr *http2.Framer) error {
		for i := range n {
			sid := id + 2*uint32(i)
			block := p.EncodeHeaders(h2test.RequestFields(path))
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: sid, BlockFragment: block, EndHeaders: true}); err != nil {
				return err
			}
			if err := fr.WriteRSTStream(sid, http2.ErrCodeCancel); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeAsync writes raw to nc from another goroutine, so that a server
// that closes the connection in the middle does not fail the test, and
// waits for the write when the test ends.
func writeAsync(t *testing.T, nc net.Conn, raw []byte) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		nc.Write(raw) // an error is the server ending the connection
	}()
	t.Cleanup(func() { nc.Close(); <-done })
}

// pingFrame returns a PING with data as a raw frame.
func pingFrame(t *testing.T, data [8]byte) []byte {
	return frames(t, func(fr *http2.Framer) error { return fr.WritePing(false, data) })
}

// TestAttackRapidReset: streams opened and reset at once (CVE-2023-44487)
// never run more than MaxConcurrentStreams handlers on a connection; a
// peer that makes more wait than 4x that gets GOAWAY(ENHANCE_YOUR_CALM).
func TestAttackRapidReset(t *testing.T) {
	const maxStreams = 10
	t.Run("unary method", func(t *testing.T) {
		// The unary handler waits for its request, so a reset ends it at
		// once: the server may keep up with the resets, or fall behind
		// and disconnect the peer; either way the work stays bounded.
		a := startAttackTarget(t, fakeServer(nil, server.MaxConcurrentStreams(maxStreams)))
		p, nc := a.peer(t)
		const n = 5000
		ping := [8]byte{'r', 'a', 'p', 'i', 'd'}
		raw := append(openAndReset(t, p, 1, n, testserver.Unary), pingFrame(t, ping)...)
		s := startSampler()
		writeAsync(t, nc, raw)
		ga := waitGoAwayOrAck(p, ping)
		peak, heap := s.finish()
		if ga != nil && ga.ErrCode != http2.ErrCodeEnhanceYourCalm {
			t.Fatalf("GOAWAY %v after %d open-and-reset streams, want ENHANCE_YOUR_CALM", ga, n)
		}
		t.Logf("%d open-and-reset streams: GOAWAY %v; peak goroutines %d (baseline %d), heap growth %d KiB",
			n, ga, peak, a.baseline, heap>>10)
		if limit := a.baseline + 3*maxStreams + 20; peak > limit {
			t.Errorf("peak of %d goroutines during the attack, want at most %d", peak, limit)
		}
		a.checkGoodCall(t, "after the attack")
		p.Close()
		a.checkGoroutines(t)
	})
	t.Run("handlers that ignore cancellation", func(t *testing.T) {
		// Handlers that keep running after their stream is reset fill
		// the handler slots; the streams after them queue, and the queue
		// overflowing ends the connection.
		release := make(chan struct{})
		var started atomic.Int64
		a := startAttackTarget(t, blockingServer(release, &started, server.MaxConcurrentStreams(maxStreams)))
		var once sync.Once
		unblock := func() { once.Do(func() { close(release) }) }
		t.Cleanup(unblock) // before the server stops
		p, nc := a.peer(t)
		const n = 1000
		ping := [8]byte{'b', 'l', 'o', 'c', 'k'}
		writeAsync(t, nc, append(openAndReset(t, p, 1, n, "/attack.Block/Wait"), pingFrame(t, ping)...))
		ga := waitGoAwayOrAck(p, ping)
		if ga == nil || ga.ErrCode != http2.ErrCodeEnhanceYourCalm {
			t.Fatalf("after %d open-and-reset streams with stuck handlers: GOAWAY %v, want ENHANCE_YOUR_CALM", n, ga)
		}
		if got := started.Load(); got > maxStreams {
			t.Errorf("%d handlers started, want at most MaxConcurrentStreams = %d", got, maxStreams)
		}
		// The GOAWAY's last stream id says how far the server read.
		if limit := uint32(2*(5*maxStreams+1) + 1); ga.LastStreamID > limit {
			t.Errorf("GOAWAY last stream id %d, want at most %d (handlers + 4x queue + 1)", ga.LastStreamID, limit)
		}
		t.Logf("GOAWAY %v; %d handlers started", ga, started.Load())
		a.checkGoodCall(t, "while stuck handlers run")
		p.Close()
		unblock()
		a.checkGoroutines(t)
	})
}

// TestAttackContinuationFlood: a header block that never ends, its
// CONTINUATION frames carrying far more than MaxHeaderListSize
// (CVE-2023-45288), ends the connection without the server holding what
// was sent.
func TestAttackContinuationFlood(t *testing.T) {
	a := startAttackTarget(t, fakeServer(nil)) // MaxHeaderListSize 1 MiB
	p, nc := a.peer(t)
	// One field per CONTINUATION, never indexed: the HPACK decoder's
	// state does not change from frame to frame.
	var enc bytes.Buffer
	he := hpack.NewEncoder(&enc)
	if err := he.WriteField(hpack.HeaderField{Name: "x-junk", Value: strings.Repeat("j", 16000), Sensitive: true}); err != nil {
		t.Fatal(err)
	}
	first := frames(t, func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: p.EncodeHeaders(h2test.RequestFields(testserver.Unary))})
	})
	cont := frames(t, func(fr *http2.Framer) error {
		for range 16 {
			if err := fr.WriteContinuation(1, false, enc.Bytes()); err != nil {
				return err
			}
		}
		return nil
	})
	const total = 32 << 20
	s := startSampler()
	var stop atomic.Bool
	var sent atomic.Int64
	done := make(chan error, 1)
	go func() {
		nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := nc.Write(first)
		for err == nil && sent.Load() < total && !stop.Load() {
			var n int
			n, err = nc.Write(cont)
			sent.Add(int64(n))
		}
		done <- err
	}()
	var ga *h2test.Frame
	for ga == nil {
		if f := p.Next(); f.Type == http2.FrameGoAway {
			ga = &f
		}
	}
	stop.Store(true)
	werr := <-done
	_, heap := s.finish()
	t.Logf("GOAWAY %v after %d KiB of CONTINUATION sent (writer: %v); heap growth %d KiB", ga, sent.Load()>>10, werr, heap>>10)
	// x/net's Framer stops at the first CONTINUATION past the limit.
	if ga.ErrCode != http2.ErrCodeProtocol {
		t.Errorf("GOAWAY %v, want PROTOCOL_ERROR", ga)
	}
	if sent.Load() >= total {
		t.Errorf("the server read all %d MiB of one header block before ending the connection", total>>20)
	}
	if heap > 8<<20 {
		t.Errorf("heap grew %d MiB during a flood of %d MiB, want under 8 MiB", heap>>20, sent.Load()>>20)
	}
	a.checkGoodCall(t, "after the attack")
	p.Close()
	a.checkGoroutines(t)
}

// TestAttackControlFlood: a peer that sends PINGs or SETTINGS, each to be
// acknowledged, and never reads its socket makes the server queue the
// ACKs; past MaxControlFrames queued, the server sends
// GOAWAY(ENHANCE_YOUR_CALM) if it can and closes the connection.
func TestAttackControlFlood(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame func(fr *http2.Framer) error
	}{
		{"PING", func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{'f', 'l', 'o', 'o', 'd'}) }},
		{"SETTINGS", func(fr *http2.Framer) error {
			return fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startAttackTarget(t, fakeServer(nil))
			nc := a.dialAttacker(t)
			hello := append([]byte(http2.ClientPreface), frames(t, func(fr *http2.Framer) error { return fr.WriteSettings() })...)
			chunk := frames(t, func(fr *http2.Framer) error {
				for range 4096 {
					if err := tc.frame(fr); err != nil {
						return err
					}
				}
				return nil
			})
			const total = 256 << 20
			s := startSampler()
			nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			_, err := nc.Write(hello)
			sent := 0
			for err == nil && sent < total {
				var n int
				n, err = nc.Write(chunk)
				sent += n
			}
			_, heap := s.finish()
			if err == nil {
				t.Fatalf("connection still open after %d MiB of %s frames never acknowledged", sent>>20, tc.name)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("server stopped reading after %d KiB of %s frames but kept the connection open", sent>>10, tc.name)
			}
			// Best effort: what the server managed to write before it
			// closed (a reset may drop some of it).
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			fr := http2.NewFramer(nil, nc)
			acks, goAway := 0, "none"
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					break
				}
				switch f := f.(type) {
				case *http2.GoAwayFrame:
					goAway = f.ErrCode.String()
					if f.ErrCode != http2.ErrCodeEnhanceYourCalm {
						t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", f.ErrCode)
					}
				case *http2.PingFrame, *http2.SettingsFrame:
					acks++
				}
			}
			t.Logf("%s flood: closed after %d KiB sent (%v); read back %d ACKs, GOAWAY %s; heap growth %d KiB",
				tc.name, sent>>10, err, acks, goAway, heap>>10)
			if heap > 16<<20 {
				t.Errorf("heap grew %d MiB during the flood, want under 16 MiB", heap>>20)
			}
			a.checkGoodCall(t, "after the attack")
			nc.Close()
			a.checkGoroutines(t)
		})
	}
}

// TestAttackEmptyDataFlood (CVE-2019-9518): zero-length DATA frames
// without END_STREAM cost the server a frame's work each and carry
// nothing. Up to connection.DefaultMaxEmptyDataFrames in a row are
// harmless; one more ends the connection with GOAWAY(ENHANCE_YOUR_CALM),
// and a client on another connection is served meanwhile.
func TestAttackEmptyDataFlood(t *testing.T) {
	a := startAttackTarget(t, fakeServer(nil))
	p, _ := a.peer(t)
	p.WriteHeaders(1, false, h2test.RequestFields(testserver.ClientStream))
	// Up to the bound, empty frames are harmless: the stream still works.
	for range connection.DefaultMaxEmptyDataFrames {
		p.WriteData(1, false, nil)
	}
	p.WriteData(1, false, fakeMessage(t, &pb.ExampleRequest{Value: "x"})[:3]) // a payload resets the count
	for range connection.DefaultMaxEmptyDataFrames {
		p.WriteData(1, false, nil)
	}
	ping := [8]byte{'e', 'm', 'p', 't', 'y'}
	p.WritePing(false, ping)
	if ga := waitGoAwayOrAck(p, ping); ga != nil {
		t.Fatalf("GOAWAY %v after %d empty DATA frames in a row", ga, connection.DefaultMaxEmptyDataFrames)
	}

	// The flood: one frame past the bound ends the connection with
	// GOAWAY before the server reads on, so flooding costs the peer a
	// connection per hundred frames.
	for range connection.DefaultMaxEmptyDataFrames + 1 {
		p.WriteData(1, false, nil)
	}
	var ga *h2test.Frame
	for _, f := range p.WaitClosed() {
		if f.Type == http2.FrameGoAway {
			ga = &f
		}
	}
	if ga == nil || ga.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY %v after %d empty DATA frames in a row, want ENHANCE_YOUR_CALM", ga, connection.DefaultMaxEmptyDataFrames+1)
	}
	a.checkGoodCall(t, "after the attack")
	p.Close()
	a.checkGoroutines(t)
}

// TestAttackWindowNeverReturned: a peer that opens server-streaming calls
// asking for far more than a window and never returns stream credit
// stalls only itself: a client on another connection is unaffected, and
// the stuck handlers end when the connection does. On the peer's own
// connection, a new call completes if the peer returns connection
// credit; if it returns none, the connection window (65535 bytes) is
// shared, so the new call completes only if its reply is written before
// the stalled streams spend it, as HTTP/2 flow control says: the subtest
// logs which happened and asserts only the bound.
func TestAttackWindowNeverReturned(t *testing.T) {
	// Each reply is about 8 KiB, 1000 of them per call: far more than a
	// stream window. (The request fits in one 16 KiB DATA frame.)
	const calls = 20
	attack := func(t *testing.T, a *attackTarget, connCredit bool) *h2test.Peer {
		p, _ := a.peer(t) // stream windows of 65535 bytes
		if connCredit {
			p.WriteWindowUpdate(0, 1<<30)
		}
		req := fakeMessage(t, &pb.ExampleRequest{Value: strings.Repeat("w", 8<<10), ResponseCount: 1000})
		for i := range calls {
			id := uint32(1 + 2*i)
			p.WriteHeaders(id, false, h2test.RequestFields(testserver.ServerStream))
			p.WriteData(id, true, req)
		}
		const id = 1 + 2*calls
		p.WriteHeaders(id, false, h2test.RequestFields(testserver.Unary))
		p.WriteData(id, true, fakeMessage(t, &pb.ExampleRequest{Value: "same connection"}))
		return p
	}
	const unaryID = 1 + 2*calls

	t.Run("connection credit returned", func(t *testing.T) {
		a := startAttackTarget(t, fakeServer(nil))
		p := attack(t, a, true)
		data := map[uint32]int{}
		var last h2test.Frame
		for {
			f := p.Next()
			if f.Type == http2.FrameData {
				data[f.StreamID] += int(f.Length)
			}
			if f.StreamID == unaryID && (f.EndStream() || f.Type == http2.FrameRSTStream) {
				last = f
				break
			}
		}
		if last.Type != http2.FrameHeaders || last.Header("grpc-status") != "0" {
			t.Fatalf("unary call beside %d stalled streams ended with %v, want grpc-status 0", calls, last)
		}
		for sid, n := range data {
			if sid != unaryID && n > 65535 {
				t.Errorf("stream %d: %d bytes of DATA, over its window of 65535", sid, n)
			}
		}
		a.checkGoodCall(t, "beside the stalled streams")
		p.Close()
		a.checkGoroutines(t)
	})
	t.Run("no credit at all", func(t *testing.T) {
		a := startAttackTarget(t, fakeServer(nil))
		p := attack(t, a, false)
		a.checkGoodCall(t, "beside the stalled connection")
		time.Sleep(200 * time.Millisecond)
		total, unary := 0, []h2test.Frame(nil)
		for _, f := range p.Received() {
			if f.Type == http2.FrameData {
				total += int(f.Length)
			}
			if f.StreamID == unaryID {
				unary = append(unary, f)
			}
		}
		if total > 65535 {
			t.Errorf("%d bytes of DATA on a connection window of 65535", total)
		}
		t.Logf("no credit returned: %d bytes of DATA in all; the unary call on the same connection got %v", total, unary)
		p.Close()
		a.checkGoroutines(t)
	})
}

// TestAttackOversizedHeaderList: a request header block over the
// server's MaxHeaderListSize is refused, and the server keeps serving. A
// list of many fields over the limit is a stream error
// (RST_STREAM(PROTOCOL_ERROR)) and the connection goes on; a single field
// longer than the limit is a connection error: x/net's Framer caps HPACK
// string lengths at MaxHeaderListSize and reports COMPRESSION_ERROR.
func TestAttackOversizedHeaderList(t *testing.T) {
	const limit = 4096
	a := startAttackTarget(t, fakeServer(nil, server.MaxHeaderListSize(limit)))
	req := fakeMessage(t, &pb.ExampleRequest{Value: "x"})
	// firstAnswer returns the first frame on stream id or GOAWAY.
	firstAnswer := func(p *h2test.Peer, id uint32) h2test.Frame {
		for {
			if f := p.Next(); f.StreamID == id || f.Type == http2.FrameGoAway {
				return f
			}
		}
	}
	t.Run("many fields", func(t *testing.T) {
		p, _ := a.peer(t)
		var extra []hpack.HeaderField
		for i := range 60 {
			extra = append(extra, hf("x-f"+strings.Repeat("f", i%10)+string(rune('a'+i%26)), strings.Repeat("v", 100)))
		}
		p.WriteHeaders(1, false, h2test.RequestFields(testserver.Unary, extra...))
		p.WriteData(1, true, req)
		if f := firstAnswer(p, 1); f.Type != http2.FrameRSTStream || f.ErrCode != http2.ErrCodeProtocol {
			t.Fatalf("header list over %d bytes answered with %v, want RST_STREAM(PROTOCOL_ERROR)", limit, f)
		}
		// The connection goes on.
		p.WriteHeaders(3, false, h2test.RequestFields(testserver.Unary))
		p.WriteData(3, true, req)
		if tr := fakeTrailers(t, fakeResponse(t, p, 3)); tr.Header("grpc-status") != "0" {
			t.Fatalf("call after the refused one ended with %v, want grpc-status 0", tr)
		}
		a.checkGoodCall(t, "after the attack")
		p.Close()
		a.checkGoroutines(t)
	})
	t.Run("one long field", func(t *testing.T) {
		p, _ := a.peer(t)
		p.WriteHeaders(1, false, h2test.RequestFields(testserver.Unary, hf("x-big", strings.Repeat("b", limit+1000))))
		p.WriteData(1, true, req)
		if f := firstAnswer(p, 1); f.Type != http2.FrameGoAway || f.ErrCode != http2.ErrCodeCompression {
			t.Fatalf("field over %d bytes answered with %v, want GOAWAY(COMPRESSION_ERROR)", limit, f)
		}
		a.checkGoodCall(t, "after the attack")
		p.Close()
		a.checkGoroutines(t)
	})
}

// TestAttackTooManyStreams: streams past MaxConcurrentStreams get
// RST_STREAM(REFUSED_STREAM); the streams within it are served.
func TestAttackTooManyStreams(t *testing.T) {
	const limit = 10
	a := startAttackTarget(t, fakeServer(nil, server.MaxConcurrentStreams(limit)))
	p, _ := a.peer(t)
	for i := range limit + 10 {
		p.WriteHeaders(uint32(1+2*i), false, h2test.RequestFields(testserver.ClientStream))
	}
	ping := [8]byte{'s', 't', 'r', 'e', 'a', 'm', 's'}
	p.WritePing(false, ping)
	reset := map[uint32]http2.ErrCode{}
	for {
		f := p.Next()
		if f.Type == http2.FrameRSTStream {
			reset[f.StreamID] = f.ErrCode
		}
		if f.Type == http2.FrameGoAway {
			t.Fatalf("GOAWAY %v, want only the extra streams refused", f)
		}
		if f.Type == http2.FramePing && f.IsAck() && f.Ping == ping {
			break
		}
	}
	for i := range limit + 10 {
		sid := uint32(1 + 2*i)
		code, ok := reset[sid]
		switch {
		case i < limit && ok:
			t.Errorf("stream %d (within the limit) reset with %v", sid, code)
		case i >= limit && (!ok || code != http2.ErrCodeRefusedStream):
			t.Errorf("stream %d (over the limit): reset %v %v, want REFUSED_STREAM", sid, ok, code)
		}
	}
	// The streams within the limit still work.
	p.WriteData(1, true, fakeMessage(t, &pb.ExampleRequest{Value: "x"}))
	if tr := fakeTrailers(t, fakeResponse(t, p, 1)); tr.Header("grpc-status") != "0" {
		t.Fatalf("stream 1 ended with %v, want grpc-status 0", tr)
	}
	a.checkGoodCall(t, "after the attack")
	p.Close()
	a.checkGoroutines(t)
}
