package equivalence

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// wantReply checks a reply echoes request r (see echo).
func wantEcho(t *testing.T, got *pb.ExampleReply, r *pb.ExampleRequest) {
	t.Helper()
	if want := echo(r); got.GetMessage() != want {
		t.Fatalf("reply message = %q, want %q", got.GetMessage(), want)
	}
}

func wantBlob(t *testing.T, got []byte, n, seed int32) {
	t.Helper()
	if int32(len(got)) != n || crc32.ChecksumIEEE(got) != crc32.ChecksumIEEE(blob(n, seed)) {
		t.Fatalf("reply blob: %d bytes (crc %08x), want %d bytes of pattern %d", len(got), crc32.ChecksumIEEE(got), n, seed)
	}
}

func wantCode(t *testing.T, c exampleClient, err error, code status.Code) {
	t.Helper()
	if got := status.Code(c.code(err)); got != code {
		t.Fatalf("error %v: code %v, want %v", err, got, code)
	}
}

func TestFourPatterns(t *testing.T) {
	matrix(t, limits{}, func(t *testing.T, p examplePairing, c exampleClient) {
		ctx := testContext(t, 10*time.Second)

		req := &pb.ExampleRequest{Value: "A", Multiplier: 3}
		resp, err := c.UnaryUnary(ctx, req)
		if err != nil {
			t.Fatalf("unary: %v", err)
		}
		wantEcho(t, resp, req)

		req = &pb.ExampleRequest{Value: "B", ResponseCount: 5, ResponseSize: 10}
		ss, err := c.UnaryStream(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for i := range int32(5) {
			r, err := ss.Recv()
			if err != nil {
				t.Fatalf("server stream reply %d: %v", i, err)
			}
			wantEcho(t, r, req)
			wantBlob(t, r.Blob, 10, i)
			if r.Seqno != i {
				t.Fatalf("seqno %d, want %d", r.Seqno, i)
			}
		}
		if _, err := ss.Recv(); err != io.EOF {
			t.Fatalf("server stream end: %v, want io.EOF", err)
		}

		cs, err := c.StreamUnary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range int32(5) {
			if err := cs.Send(&pb.ExampleRequest{Value: "c", Blob: blob(100, i)}); err != nil {
				t.Fatal(err)
			}
		}
		r, err := cs.CloseAndRecv()
		if err != nil {
			t.Fatalf("client stream: %v", err)
		}
		if r.Seqno != 5 {
			t.Fatalf("server counted %d requests, want 5", r.Seqno)
		}

		bs, err := c.StreamStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range int32(5) {
			req := &pb.ExampleRequest{Value: fmt.Sprint(i), ResponseSize: i}
			if err := bs.Send(req); err != nil {
				t.Fatal(err)
			}
			r, err := bs.Recv()
			if err != nil {
				t.Fatalf("bidi reply %d: %v", i, err)
			}
			wantEcho(t, r, req)
			wantBlob(t, r.Blob, i, i)
		}
		bs.CloseSend()
		if _, err := bs.Recv(); err != io.EOF {
			t.Fatalf("bidi end: %v, want io.EOF", err)
		}
	})
}

// TestMessageSizes runs 20 MiB on heavyPairings only (see there).
func TestMessageSizes(t *testing.T) {
	for _, size := range []int32{0, 1 << 10, 1 << 20, 20 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			ps := pairings
			if size > 1<<20 {
				ps = heavyPairings
			}
			run(t, ps, big, func(t *testing.T, p examplePairing, c exampleClient) {
				ctx := testContext(t, 60*time.Second)
				req := &pb.ExampleRequest{Value: "s", Blob: blob(size, 3), ResponseSize: size}
				resp, err := c.UnaryUnary(ctx, req)
				if err != nil {
					t.Fatalf("unary: %v", err)
				}
				wantEcho(t, resp, req)
				wantBlob(t, resp.Blob, size, 1)

				bs, err := c.StreamStream(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for i := range int32(2) {
					if err := bs.Send(req); err != nil {
						t.Fatal(err)
					}
					r, err := bs.Recv()
					if err != nil {
						t.Fatalf("bidi reply %d: %v", i, err)
					}
					wantEcho(t, r, req)
					wantBlob(t, r.Blob, size, i)
				}
				bs.CloseSend()
				if _, err := bs.Recv(); err != io.EOF {
					t.Fatalf("bidi end: %v", err)
				}
			})
		})
	}
}

// Just over the default 4 MiB limit: the receiver refuses the message with
// RESOURCE_EXHAUSTED, whichever side receives it.
func TestMessageOverDefaultLimit(t *testing.T) {
	const over = 4<<20 + 1
	matrix(t, limits{}, func(t *testing.T, p examplePairing, c exampleClient) {
		ctx := testContext(t, 30*time.Second)
		_, err := c.UnaryUnary(ctx, &pb.ExampleRequest{Value: "req", Blob: blob(over, 0)})
		wantCode(t, c, err, status.ResourceExhausted)
		_, err = c.UnaryUnary(ctx, &pb.ExampleRequest{Value: "resp", ResponseSize: over})
		wantCode(t, c, err, status.ResourceExhausted)
		// The connection still serves calls.
		if _, err := c.UnaryUnary(ctx, &pb.ExampleRequest{Value: "after"}); err != nil {
			t.Fatalf("call after the refused ones: %v", err)
		}
	})
}

func TestThousandMessagesEachWay(t *testing.T) {
	const n = 1000
	matrix(t, limits{}, func(t *testing.T, p examplePairing, c exampleClient) {
		ctx := testContext(t, 60*time.Second)

		cs, err := c.StreamUnary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var sum uint32
		for i := range int32(n) {
			b := blob(i%300, i)
			sum = crc32.Update(sum, crc32.IEEETable, b)
			if err := cs.Send(&pb.ExampleRequest{Value: "x", Blob: b}); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		r, err := cs.CloseAndRecv()
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%08x", sum); r.Seqno != n || r.Message[len(r.Message)-8:] != want {
			t.Fatalf("server got %q (%d messages), want %d messages with crc %s", r.Message, r.Seqno, n, want)
		}

		ss, err := c.UnaryStream(ctx, &pb.ExampleRequest{Value: "y", ResponseCount: n, ResponseSize: 64})
		if err != nil {
			t.Fatal(err)
		}
		for i := range int32(n) {
			r, err := ss.Recv()
			if err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			if r.Seqno != i {
				t.Fatalf("reply %d has seqno %d", i, r.Seqno)
			}
			wantBlob(t, r.Blob, 64, i)
		}
		if _, err := ss.Recv(); err != io.EOF {
			t.Fatalf("end: %v", err)
		}

		// Bidi: both directions at once, n each way.
		bs, err := c.StreamStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sendErr := make(chan error, 1)
		go func() {
			for i := range int32(n) {
				if err := bs.Send(&pb.ExampleRequest{Value: fmt.Sprint(i), ResponseSize: 32}); err != nil {
					sendErr <- err
					return
				}
			}
			sendErr <- bs.CloseSend()
		}()
		for i := range int32(n) {
			r, err := bs.Recv()
			if err != nil {
				t.Fatalf("bidi reply %d: %v", i, err)
			}
			if r.Seqno != i || r.Message != echo(&pb.ExampleRequest{Value: fmt.Sprint(i)}) {
				t.Fatalf("bidi reply %d: %v", i, r)
			}
		}
		if _, err := bs.Recv(); err != io.EOF {
			t.Fatalf("bidi end: %v", err)
		}
		if err := <-sendErr; err != nil {
			t.Fatalf("bidi send: %v", err)
		}
	})
}

func TestConcurrentCalls(t *testing.T) {
	const n = 200
	matrix(t, limits{}, func(t *testing.T, p examplePairing, c exampleClient) {
		ctx := testContext(t, 30*time.Second)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				req := &pb.ExampleRequest{Value: fmt.Sprint("call", i), Blob: blob(int32(i*37), int32(i))}
				resp, err := c.UnaryUnary(ctx, req)
				switch {
				case err != nil:
					errs <- fmt.Errorf("call %d: %v", i, err)
				case resp.Message != echo(req):
					errs <- fmt.Errorf("call %d: reply %q, want %q", i, resp.Message, echo(req))
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// A handler that fails before sending anything: the status reaches the
// client as sent, on every pattern (a trailers-only response). Every
// client's error reads the same through grpc-go's status package, and its
// text is grpc-go's.
func TestHandlerFailsBeforeSending(t *testing.T) {
	const msg = "nope: ünïcode\tand\nnewline"
	want := grpcstatus.Error(codes.FailedPrecondition, msg).Error()
	matrix(t, limits{}, func(t *testing.T, p examplePairing, c exampleClient) {
		ctx := testContext(t, 10*time.Second)
		check := func(what string, err error) {
			t.Helper()
			wantCode(t, c, err, status.FailedPrecondition)
			if got := grpcstatus.Convert(err).Message(); got != msg {
				t.Errorf("%s: message %q, want %q", what, got, msg)
			}
			if err.Error() != want {
				t.Errorf("%s: error text %q, want %q", what, err.Error(), want)
			}
		}
		fail := "fail:9:" + msg
		_, err := c.UnaryUnary(ctx, &pb.ExampleRequest{Value: fail})
		check("unary", err)

		ss, err := c.UnaryStream(ctx, &pb.ExampleRequest{Value: fail, ResponseCount: 3})
		if err != nil {
			t.Fatal(err)
		}
		_, err = ss.Recv()
		check("server stream", err)

		cs, err := c.StreamUnary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cs.Send(&pb.ExampleRequest{Value: fail})
		_, err = cs.CloseAndRecv()
		check("client stream", err)

		bs, err := c.StreamStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		bs.Send(&pb.ExampleRequest{Value: fail})
		_, err = bs.Recv()
		check("bidi", err)
	})
}

func TestHandlerFailsAfterStreaming(t *testing.T) {
	matrix(t, limits{}, func(t *testing.T, p examplePairing, c exampleClient) {
		ctx := testContext(t, 10*time.Second)
		ss, err := c.UnaryStream(ctx, &pb.ExampleRequest{Value: "fail-after:10:aborted late", ResponseCount: 3, ResponseSize: 5})
		if err != nil {
			t.Fatal(err)
		}
		for i := range int32(3) {
			r, err := ss.Recv()
			if err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			wantBlob(t, r.Blob, 5, i)
		}
		_, err = ss.Recv()
		wantCode(t, c, err, status.Aborted)
	})
}

var nextWaiter atomic.Int32

// A client that cancels mid-stream: the client reports CANCELLED and the
// server handler's context ends.
func TestClientCancelsMidStream(t *testing.T) {
	matrix(t, limits{}, func(t *testing.T, p examplePairing, c exampleClient) {
		ctx := testContext(t, 10*time.Second)
		id := nextWaiter.Add(1)
		callCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		ss, err := c.UnaryStream(callCtx, &pb.ExampleRequest{Value: "wait", Multiplier: id, ResponseCount: 2})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if _, err := ss.Recv(); err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
		}
		cancel()
		_, err = ss.Recv()
		wantCode(t, c, err, status.Canceled)
		select {
		case <-waiter(id):
		case <-ctx.Done():
			t.Fatal("the server handler's context did not end after the client cancelled")
		}
	})
}

// A server handler that stops reading while the client keeps sending: Send
// blocks once the server's stream window (plus what the client buffers) is
// full, and memory stays within that bound.
func TestBackpressure(t *testing.T) {
	const msgSize = 16 << 10
	// What the sender may have handed over before Send blocks: the
	// receiving stack's stream window plus the sending stack's buffering.
	bound := func(p examplePairing) int {
		window := int(connection.DefaultStreamWindow)
		if !p.server.ours {
			window = 16 << 20 // grpc-go grows its windows up to 16 MiB (BDP estimation)
		}
		buffered := 2 * msgSize // h2grpc: the message being written
		if !p.client.ours {
			buffered = 64<<10 + 2*msgSize // grpc-go's per-stream write quota
		}
		return window + buffered
	}
	matrix(t, limits{}, func(t *testing.T, p examplePairing, c exampleClient) {
		ctx := testContext(t, 30*time.Second)
		id := nextWaiter.Add(1)
		callCtx, cancel := context.WithCancel(ctx)
		defer cancel()

		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)

		cs, err := c.StreamUnary(callCtx)
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.Send(&pb.ExampleRequest{Value: "block", Multiplier: id}); err != nil {
			t.Fatal(err)
		}
		var sent atomic.Int64
		stopped := make(chan error, 1)
		go func() {
			payload := blob(msgSize, 0)
			for {
				if err := cs.Send(&pb.ExampleRequest{Value: "more", Blob: payload}); err != nil {
					stopped <- err
					return
				}
				sent.Add(msgSize)
			}
		}()
		// Wait until Send makes no progress for a while.
		last := int64(-1)
		for stable := 0; stable < 6; {
			select {
			case err := <-stopped:
				t.Fatalf("Send failed instead of blocking: %v", err)
			case <-ctx.Done():
				t.Fatalf("Send never blocked: %d bytes sent", sent.Load())
			case <-time.After(100 * time.Millisecond):
			}
			if n := sent.Load(); n == last {
				stable++
			} else {
				last, stable = n, 0
			}
		}
		if max := int64(bound(p)); last > max {
			t.Errorf("Send blocked after %d bytes, want at most %d", last, max)
		}
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		// h2grpc's receiver holds each queued message in a pooled buffer of
		// the next power-of-two size, so up to twice what was sent; 1 MiB
		// covers the rest of both stacks. grpc-go's server buffers are not
		// ours to model: it gets the send bound plus 4 MiB.
		heapMax := int64(bound(p)) + 4<<20
		if p.server.ours {
			heapMax = 2*int64(bound(p)) + 1<<20
		}
		if growth > heapMax {
			t.Errorf("heap grew by %d bytes while blocked, want at most %d", growth, heapMax)
		}
		t.Logf("Send blocked after %d KiB; heap grew %d KiB", last>>10, growth>>10)

		cancel()
		select {
		case <-stopped:
		case <-ctx.Done():
			t.Fatal("the blocked Send did not return after the call was cancelled")
		}
		select {
		case <-waiter(id):
		case <-ctx.Done():
			t.Fatal("the server handler's context did not end")
		}
	})
}
