package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/server"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// countingDialer fails its first fails dials, then dials addr, and records
// when each dial happened.
type countingDialer struct {
	mu    sync.Mutex
	fails int
	addr  string
	times []time.Time
}

func (d *countingDialer) dial(ctx context.Context, _ string) (net.Conn, error) {
	d.mu.Lock()
	d.times = append(d.times, time.Now())
	n := len(d.times)
	d.mu.Unlock()
	if n <= d.fails || d.addr == "" {
		return nil, errors.New("dial refused by the test")
	}
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", d.addr)
}

func (d *countingDialer) attempts() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Time(nil), d.times...)
}

func TestDialEagerReportsFailure(t *testing.T) {
	_, err := client.Dial(closedAddr(t))
	if status.CodeOf(err) != status.Unavailable {
		t.Fatalf("Dial to a closed port: %v, want UNAVAILABLE", err)
	}
}

func TestDialLazyConnectsOnFirstCall(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	d := &countingDialer{addr: addr}
	c := dial(t, "ignored:1", client.WithLazyConnect(), client.WithContextDialer(d.dial))
	if n := len(d.attempts()); n != 0 {
		t.Fatalf("lazy Dial dialled %d times", n)
	}
	r, err := pb.NewExampleClient(c).UnaryUnary(testserver.Context(t, 10*time.Second), &pb.ExampleRequest{Value: "lazy"})
	if err != nil || r.Message != "lazy" {
		t.Fatalf("first call: %v, %v", r, err)
	}
	if n := len(d.attempts()); n != 1 {
		t.Fatalf("dialled %d times, want 1", n)
	}
}

// TestFailFastInTransientFailure: after a failed attempt, calls fail at
// once with UNAVAILABLE and do not dial again until the backoff has passed.
func TestFailFastInTransientFailure(t *testing.T) {
	d := &countingDialer{}
	c := dial(t, "ignored:1", client.WithLazyConnect(), client.WithContextDialer(d.dial),
		client.WithBackoff(client.Backoff{BaseDelay: time.Hour, Multiplier: 1.6, MaxDelay: time.Hour}))
	ec := pb.NewExampleClient(c)
	ctx := testserver.Context(t, 10*time.Second)
	for i := range 3 {
		_, err := ec.UnaryUnary(ctx, &pb.ExampleRequest{})
		if status.CodeOf(err) != status.Unavailable {
			t.Fatalf("call %d: %v, want UNAVAILABLE", i, err)
		}
	}
	if n := len(d.attempts()); n != 1 {
		t.Fatalf("dialled %d times, want 1 (the others must wait for the backoff)", n)
	}
	// A call that waits for ready waits, under its context.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := ec.UnaryUnary(short, &pb.ExampleRequest{}, grpc.WaitForReady(true))
	if status.CodeOf(err) != status.DeadlineExceeded {
		t.Fatalf("WaitForReady call: %v, want DEADLINE_EXCEEDED", err)
	}
}

// TestReconnectBackoff: failed attempts are retried after growing delays
// and a call that waits for ready gets through once one succeeds.
func TestReconnectBackoff(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	d := &countingDialer{fails: 3, addr: addr}
	b := client.Backoff{BaseDelay: 20 * time.Millisecond, Multiplier: 2, MaxDelay: 50 * time.Millisecond}
	c := dial(t, "ignored:1", client.WithLazyConnect(), client.WithContextDialer(d.dial), client.WithBackoff(b))
	r, err := pb.NewExampleClient(c).UnaryUnary(testserver.Context(t, 10*time.Second),
		&pb.ExampleRequest{Value: "x"}, grpc.WaitForReady(true))
	if err != nil || r.Message != "x" {
		t.Fatalf("call: %v, %v", r, err)
	}
	times := d.attempts()
	if len(times) != 4 {
		t.Fatalf("%d attempts, want 4", len(times))
	}
	// Without jitter the waits are 20, 40, then 50 ms (the cap); only lower
	// bounds are checked, a loaded machine may wait longer.
	for i, want := range []time.Duration{20, 40, 50} {
		if got := times[i+1].Sub(times[i]); got < want*time.Millisecond {
			t.Errorf("wait before attempt %d: %v, want at least %v ms", i+2, got, want)
		}
	}
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grpc.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New()
	authority := make(chan string, 1)
	server.RegisterUnary(srv, testserver.Unary, func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		authority <- server.CallFromContext(ctx).RequestHeader().Authority
		return &pb.ExampleReply{Message: r.Value}, nil
	})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	for _, target := range []string{"unix://" + path, "unix:" + path} {
		c := dial(t, target)
		r, err := pb.NewExampleClient(c).UnaryUnary(testserver.Context(t, 10*time.Second), &pb.ExampleRequest{Value: "unix"})
		if err != nil || r.Message != "unix" {
			t.Fatalf("%s: %v, %v", target, r, err)
		}
		if a := <-authority; a != "localhost" {
			t.Errorf("%s: :authority %q, want localhost (as grpc-go)", target, a)
		}
	}
}

// fakeServers dials every connection of a Conn to a new fake server peer,
// which the test takes from the channel.
func fakeServers(t *testing.T, ctx context.Context) (func(context.Context, string) (net.Conn, error), <-chan *h2test.Peer) {
	peers := make(chan *h2test.Peer, 4)
	return func(context.Context, string) (net.Conn, error) {
		a, b := net.Pipe()
		peers <- h2test.NewServer(ctx, t, a)
		return b, nil
	}, peers
}

// dialFake dials a Conn to the fake servers dialer makes and completes the
// first one's handshake: an eager Dial waits for the server's SETTINGS.
// It returns the Conn and the first server peer, handshake done.
func dialFake(t *testing.T, dialer func(context.Context, string) (net.Conn, error), peers <-chan *h2test.Peer, opts ...client.Option) (*client.Conn, *h2test.Peer) {
	t.Helper()
	type dialed struct {
		c   *client.Conn
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		c, err := client.Dial("fake:1", append([]client.Option{client.WithContextDialer(dialer)}, opts...)...)
		done <- dialed{c, err}
	}()
	p := <-peers
	p.Handshake()
	d := <-done
	if d.err != nil {
		t.Fatal(d.err)
	}
	t.Cleanup(func() { d.c.Close() })
	return d.c, p
}

// answer reads a unary request on stream id and answers it with reply.
// The request's frames may be among early, frames already read (by a
// handshake the client did not wait for).
func answer(t *testing.T, p *h2test.Peer, early []h2test.Frame, id uint32, reply []byte) []byte {
	t.Helper()
	var req []byte
	for sawHeaders, sawData := false, false; !sawHeaders || !sawData; {
		var f h2test.Frame
		if len(early) > 0 {
			f, early = early[0], early[1:]
		} else {
			f = p.Next()
		}
		switch {
		case f.StreamID != id:
		case f.Type == http2.FrameHeaders:
			sawHeaders = true
		case f.Type == http2.FrameData:
			req, sawData = f.Data, true
		}
	}
	p.WriteHeaders(id, false, h2test.ResponseFields())
	p.WriteData(id, false, h2test.Message(reply))
	p.WriteHeaders(id, true, h2test.TrailerFields("0"))
	return req
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTransparentRetryRefusedStream: a stream the server refused is sent
// again, once, on another stream, and the call succeeds.
func TestTransparentRetryRefusedStream(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)

	type result struct {
		r   *pb.ExampleReply
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := pb.NewExampleClient(c).UnaryUnary(ctx, &pb.ExampleRequest{Value: "again"})
		done <- result{r, err}
	}()
	p.Expect(http2.FrameHeaders, 1)
	first := p.Expect(http2.FrameData, 1).Data
	p.WriteRSTStream(1, http2.ErrCodeRefusedStream)
	second := answer(t, p, nil, 3, mustMarshal(t, &pb.ExampleReply{Message: "ok"}))
	if string(first) != string(second) {
		t.Errorf("retried request differs: %x, first %x", second, first)
	}
	res := <-done
	if res.err != nil || res.r.Message != "ok" {
		t.Fatalf("call: %v, %v", res.r, res.err)
	}
}

// TestTransparentRetryOnce: a second refusal ends the call with UNAVAILABLE.
func TestTransparentRetryOnce(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)
	done := make(chan error, 1)
	go func() {
		_, err := pb.NewExampleClient(c).UnaryUnary(ctx, &pb.ExampleRequest{Value: "again"})
		done <- err
	}()
	for _, id := range []uint32{1, 3} {
		p.Expect(http2.FrameHeaders, id)
		p.Expect(http2.FrameData, id)
		p.WriteRSTStream(id, http2.ErrCodeRefusedStream)
	}
	if err := <-done; status.CodeOf(err) != status.Unavailable {
		t.Fatalf("call refused twice: %v, want UNAVAILABLE", err)
	}
	if got := p.Received(); len(got) != 0 {
		t.Fatalf("frames after the second refusal: %v", got)
	}
}

// TestNoRetryOfProcessedStream: a reset that does not say the stream was
// refused may follow processing: the call ends with its status, unretried.
func TestNoRetryOfProcessedStream(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)
	done := make(chan error, 1)
	go func() {
		_, err := pb.NewExampleClient(c).UnaryUnary(ctx, &pb.ExampleRequest{})
		done <- err
	}()
	p.Expect(http2.FrameHeaders, 1)
	p.Expect(http2.FrameData, 1)
	p.WriteRSTStream(1, http2.ErrCodeInternal)
	if err := <-done; status.CodeOf(err) != status.Internal {
		t.Fatalf("call reset with INTERNAL_ERROR: %v, want INTERNAL", err)
	}
	if got := p.Received(); len(got) != 0 {
		t.Fatalf("frames after the reset: %v", got)
	}
}

// TestTransparentRetryAfterGoAway: a stream above a GOAWAY's last-stream-id
// goes to a new connection.
func TestTransparentRetryAfterGoAway(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	var dials atomic.Int32
	c, p := dialFake(t, func(ctx context.Context, addr string) (net.Conn, error) {
		dials.Add(1)
		return dialer(ctx, addr)
	}, peers)
	done := make(chan error, 1)
	go func() {
		r, err := pb.NewExampleClient(c).UnaryUnary(ctx, &pb.ExampleRequest{Value: "moved"})
		if err == nil && r.Message != "from the new connection" {
			err = errors.New("wrong reply " + r.Message)
		}
		done <- err
	}()
	p.Expect(http2.FrameHeaders, 1)
	p.Expect(http2.FrameData, 1)
	p.WriteGoAway(0, http2.ErrCodeNo)
	p2 := <-peers
	answer(t, p2, p2.Handshake(), 1, mustMarshal(t, &pb.ExampleReply{Message: "from the new connection"}))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := dials.Load(); n != 2 {
		t.Fatalf("%d dials, want 2", n)
	}
}

// requestBytes reads stream id's frames until the client ends it and
// returns its DATA, concatenated.
func requestBytes(t *testing.T, p *h2test.Peer, id uint32) []byte {
	t.Helper()
	var data []byte
	for {
		f := p.Next()
		if f.StreamID != id {
			continue
		}
		if f.Type == http2.FrameRSTStream {
			t.Fatalf("stream %d reset by the client: %v", id, f.ErrCode)
		}
		data = append(data, f.Data...)
		if f.EndStream() {
			return data
		}
	}
}

// TestTransparentRetryClientStream: a client-streaming call whose stream
// was refused after all its requests is replayed, messages and END_STREAM.
func TestTransparentRetryClientStream(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)
	done := make(chan error, 1)
	go func() {
		s, err := pb.NewExampleClient(c).StreamUnary(ctx)
		if err != nil {
			done <- err
			return
		}
		for _, v := range []string{"one", "two", "three"} {
			if err := s.Send(&pb.ExampleRequest{Value: v}); err != nil {
				done <- err
				return
			}
		}
		r, err := s.CloseAndRecv()
		if err == nil && r.Seqno != 3 {
			err = errors.New("wrong reply")
		}
		done <- err
	}()
	first := requestBytes(t, p, 1)
	p.WriteRSTStream(1, http2.ErrCodeRefusedStream)
	second := requestBytes(t, p, 3)
	if string(first) != string(second) {
		t.Fatalf("replayed requests differ:\n%x\n%x", second, first)
	}
	p.WriteHeaders(3, false, h2test.ResponseFields())
	p.WriteData(3, false, h2test.Message(mustMarshal(t, &pb.ExampleReply{Seqno: 3})))
	p.WriteHeaders(3, true, h2test.TrailerFields("0"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestTransparentRetryBidiMidStream: refused after the first request, a
// bidi call goes on on a new stream: the first request is replayed, the
// ones sent after follow in order, and responses arrive.
func TestTransparentRetryBidiMidStream(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)
	s, err := pb.NewExampleClient(c).StreamStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&pb.ExampleRequest{Value: "one"}); err != nil {
		t.Fatal(err)
	}
	p.Expect(http2.FrameHeaders, 1)
	one := p.Expect(http2.FrameData, 1).Data
	p.WriteRSTStream(1, http2.ErrCodeRefusedStream)
	// The refusal reaches the client in its own time; the sends must
	// succeed either way.
	if err := s.Send(&pb.ExampleRequest{Value: "two"}); err != nil {
		t.Fatalf("send after the refusal: %v", err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	replay := requestBytes(t, p, 3)
	want := append(append([]byte(nil), one...), h2test.Message(mustMarshal(t, &pb.ExampleRequest{Value: "two"}))...)
	if string(replay) != string(want) {
		t.Fatalf("new stream carried %x, want %x", replay, want)
	}
	p.WriteHeaders(3, false, h2test.ResponseFields())
	p.WriteData(3, false, h2test.Messages(
		mustMarshal(t, &pb.ExampleReply{Message: "one"}), mustMarshal(t, &pb.ExampleReply{Message: "two"})))
	p.WriteHeaders(3, true, h2test.TrailerFields("0"))
	for _, w := range []string{"one", "two"} {
		r, err := s.Recv()
		if err != nil || r.Message != w {
			t.Fatalf("Recv: %v, %v; want %q", r, err, w)
		}
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// TestNoRetryAfterResponseHeader: once the server has answered, a
// refusal is not believed: the call fails, unretried.
func TestNoRetryAfterResponseHeader(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)
	s, err := pb.NewExampleClient(c).StreamStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&pb.ExampleRequest{Value: "one"}); err != nil {
		t.Fatal(err)
	}
	p.Expect(http2.FrameHeaders, 1)
	p.Expect(http2.FrameData, 1)
	p.WriteHeaders(1, false, h2test.ResponseFields())
	if _, err := s.Header(); err != nil {
		t.Fatal(err)
	}
	p.WriteRSTStream(1, http2.ErrCodeRefusedStream)
	if _, err := s.Recv(); status.CodeOf(err) != status.Unavailable {
		t.Fatalf("Recv: %v, want UNAVAILABLE", err)
	}
	if got := p.Received(); len(got) != 0 {
		t.Fatalf("frames after the refusal: %v", got)
	}
}

// TestNoRetryPastRetryBuffer: a call that sent more than the retry buffer
// holds before the server answered is not replayed.
func TestNoRetryPastRetryBuffer(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)
	done := make(chan error, 1)
	go func() {
		_, err := pb.NewExampleClient(c).UnaryUnary(ctx, &pb.ExampleRequest{Value: strings.Repeat("x", 70<<10)})
		done <- err
	}()
	p.Expect(http2.FrameHeaders, 1)
	p.Expect(http2.FrameData, 1)
	p.WriteRSTStream(1, http2.ErrCodeRefusedStream)
	if err := <-done; status.CodeOf(err) != status.Unavailable {
		t.Fatalf("call: %v, want UNAVAILABLE", err)
	}
	for _, f := range p.Received() {
		if f.StreamID != 1 {
			t.Fatalf("frame on another stream: %v", f)
		}
	}
}

// TestNoRetryAfterContext: a call whose Context() was taken names its
// stream's peer there, so it is committed to that stream, as in grpc-go:
// a refusal ends it with UNAVAILABLE instead of moving it elsewhere.
func TestNoRetryAfterContext(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)
	s, err := pb.NewExampleClient(c).StreamStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&pb.ExampleRequest{Value: "one"}); err != nil {
		t.Fatal(err)
	}
	p.Expect(http2.FrameHeaders, 1)
	p.Expect(http2.FrameData, 1)
	if pr, ok := peer.FromContext(s.Context()); !ok || pr.Addr == nil {
		t.Fatalf("peer %v, %v: want the server's address", pr, ok)
	}
	p.WriteRSTStream(1, http2.ErrCodeRefusedStream)
	if _, err := s.Recv(); status.CodeOf(err) != status.Unavailable {
		t.Fatalf("Recv: %v, want UNAVAILABLE", err)
	}
	if got := p.Received(); len(got) != 0 {
		t.Fatalf("frames after the refusal: %v", got)
	}
}
