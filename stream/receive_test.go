package stream_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// flowRecorder is a stream.Flow that records the credit handed back.
type flowRecorder struct {
	mu    sync.Mutex
	calls []int
}

func (f *flowRecorder) Consumed(n int) {
	f.mu.Lock()
	f.calls = append(f.calls, n)
	f.mu.Unlock()
}

// take returns the credit recorded since the last take.
func (f *flowRecorder) take() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	sum := 0
	for _, n := range f.calls {
		if n <= 0 {
			panic("Consumed called with no credit")
		}
		sum += n
	}
	f.calls = nil
	return sum
}

func newReceive(maxSize int) (*stream.ReceiveStream, *flowRecorder) {
	f := &flowRecorder{}
	r := &stream.ReceiveStream{}
	r.Init(f, maxSize)
	return r, f
}

// onData feeds p and fails the test on an error.
func onData(t *testing.T, r *stream.ReceiveStream, p []byte) int {
	t.Helper()
	credit, err := r.OnData(p)
	if err != nil {
		t.Fatalf("OnData: %v", err)
	}
	return credit
}

// recv takes the next message and checks it holds want.
func recv(t *testing.T, r *stream.ReceiveStream, want []byte) {
	t.Helper()
	m, err := r.Recv()
	if err != nil {
		t.Fatalf("Recv: %v, want a %d-byte message", err, len(want))
	}
	if !bytes.Equal(m.Data, want) {
		t.Fatalf("Recv: got %d bytes, want %d", len(m.Data), len(want))
	}
	m.Release()
}

func TestReceiveCreditOnRecv(t *testing.T) {
	r, flow := newReceive(0)
	m1, m2, m3 := encode(false, pattern(100)), encode(false, pattern(200)), encode(false, pattern(300))

	// Nothing waits: the first message is credited as it is assembled.
	if c := onData(t, r, m1); c != len(m1) {
		t.Errorf("OnData(first message) credit = %d, want %d", c, len(m1))
	}
	// Now the first waits: the next messages are held until taken.
	if c := onData(t, r, m2); c != 0 {
		t.Errorf("OnData(message behind a queued one) credit = %d, want 0", c)
	}
	if c := onData(t, r, m3); c != 0 {
		t.Errorf("OnData(message behind a queued one) credit = %d, want 0", c)
	}
	if c := flow.take(); c != 0 {
		t.Fatalf("Consumed %d before any Recv", c)
	}

	recv(t, r, pattern(100))
	if c := flow.take(); c != 0 {
		t.Errorf("Recv(first) gave back %d, want 0 (credited on arrival)", c)
	}
	recv(t, r, pattern(200))
	if c := flow.take(); c != len(m2) {
		t.Errorf("Recv(second) gave back %d, want %d", c, len(m2))
	}
	recv(t, r, pattern(300))
	if c := flow.take(); c != len(m3) {
		t.Errorf("Recv(third) gave back %d, want %d", c, len(m3))
	}
}

func TestReceivePartialMessageBehindQueue(t *testing.T) {
	r, flow := newReceive(0)
	m1, m2 := encode(false, pattern(10)), encode(false, pattern(1000))
	onData(t, r, m1)
	// Half of the second message arrives behind the first: held.
	if c := onData(t, r, m2[:400]); c != 0 {
		t.Fatalf("OnData(partial behind queued) credit = %d, want 0", c)
	}
	// Taking the first releases what was held of the second: nothing
	// waits in front of it any more.
	recv(t, r, pattern(10))
	if c := flow.take(); c != 400 {
		t.Fatalf("Recv(first) gave back %d, want the 400 held bytes of the second", c)
	}
	// The rest arrives with nothing queued: credited at once.
	if c := onData(t, r, m2[400:]); c != len(m2)-400 {
		t.Fatalf("OnData(rest) credit = %d, want %d", c, len(m2)-400)
	}
	recv(t, r, pattern(1000))
	if c := flow.take(); c != 0 {
		t.Errorf("Recv(second) gave back %d, want 0", c)
	}
}

// TestReceiveLargeMessage feeds a message far larger than any flow-control
// window, with nobody reading: every byte is credited as it arrives, so the
// sender is never stalled.
func TestReceiveLargeMessage(t *testing.T) {
	const size = 5 << 20
	r, flow := newReceive(8 << 20)
	in := encode(false, pattern(size))
	credit := 0
	for p := in; len(p) > 0; {
		n := min(len(p), 16<<10)
		credit += onData(t, r, p[:n])
		p = p[n:]
	}
	if credit != len(in) {
		t.Errorf("OnData credited %d of %d bytes", credit, len(in))
	}
	recv(t, r, pattern(size))
	if c := flow.take(); c != 0 {
		t.Errorf("Recv gave back %d more", c)
	}
}

func TestReceiveCloseKeepsFirstError(t *testing.T) {
	errA := status.New(status.Canceled, "first")
	errB := status.New(status.Internal, "second")

	r, _ := newReceive(0)
	r.Close(errA)
	r.Close(errB)
	r.OnEnd(nil)
	if _, err := r.Recv(); err != errA {
		t.Errorf("Recv after Close(A), Close(B), OnEnd = %v, want A", err)
	}
	if err := r.Err(); err != errA {
		t.Errorf("Err() = %v, want A", err)
	}

	r, _ = newReceive(0)
	r.OnEnd(nil)
	r.Close(errB)
	if _, err := r.Recv(); err != io.EOF {
		t.Errorf("Recv after OnEnd, Close(B) = %v, want io.EOF", err)
	}
}

func TestReceiveQueuedBeforeEnd(t *testing.T) {
	t.Run("EOF", func(t *testing.T) {
		r, _ := newReceive(0)
		if err := r.Err(); err != nil {
			t.Fatalf("Err() on an open stream = %v", err)
		}
		onData(t, r, append(encode(false, pattern(1)), encode(false, pattern(2))...))
		r.OnEnd(&stream.Header{GRPCStatus: "0", GRPCMessage: "fine"})
		recv(t, r, pattern(1))
		recv(t, r, pattern(2))
		if _, err := r.Recv(); err != io.EOF {
			t.Fatalf("Recv after the queue = %v, want io.EOF", err)
		}
		if _, err := r.Recv(); err != io.EOF {
			t.Fatalf("Recv again = %v, want io.EOF", err)
		}
		if tr := r.Trailer(); tr == nil || tr.GRPCStatus != "0" || tr.GRPCMessage != "fine" {
			t.Errorf("Trailer() = %+v", tr)
		}
	})
	t.Run("error", func(t *testing.T) {
		r, _ := newReceive(0)
		onData(t, r, append(encode(false, pattern(1)), encode(false, pattern(2))...))
		errReset := status.New(status.Canceled, "reset")
		r.Close(errReset)
		recv(t, r, pattern(1))
		recv(t, r, pattern(2))
		if _, err := r.Recv(); err != errReset {
			t.Fatalf("Recv after the queue = %v, want the close error", err)
		}
		if tr := r.Trailer(); tr != nil {
			t.Errorf("Trailer() = %+v after a close without trailers", tr)
		}
	})
}

func TestReceiveDrain(t *testing.T) {
	r, flow := newReceive(0)
	m1, m2, m3 := encode(false, pattern(10)), encode(false, pattern(20)), encode(false, pattern(30))
	onData(t, r, m1)      // credited on arrival
	onData(t, r, m2)      // held, queued
	onData(t, r, m3[:12]) // held, partial
	errDone := status.New(status.Canceled, "done")
	if c := r.Drain(errDone); c != len(m2)+12 {
		t.Errorf("Drain() = %d, want %d (the held credit)", c, len(m2)+12)
	}
	if c := flow.take(); c != 0 {
		t.Errorf("Drain called Consumed(%d); the caller returns the credit", c)
	}
	if _, err := r.Recv(); err != errDone {
		t.Errorf("Recv after Drain = %v, want the drain error", err)
	}
	if c := r.Drain(nil); c != 0 {
		t.Errorf("second Drain() = %d, want 0", c)
	}
	// Bytes that arrive after the close are discarded and credited at once.
	if c, err := r.OnData(m1); c != len(m1) || err != nil {
		t.Errorf("OnData after Drain = %d, %v; want %d, nil", c, err, len(m1))
	}
}

func TestReceiveDiscardAfterClose(t *testing.T) {
	r, _ := newReceive(0)
	r.Close(status.New(status.Canceled, "gone"))
	in := encode(false, pattern(50))
	if c, err := r.OnData(in); c != len(in) || err != nil {
		t.Errorf("OnData after Close = %d, %v; want %d, nil", c, err, len(in))
	}
}

func TestReceiveEndInMiddleOfMessage(t *testing.T) {
	r, _ := newReceive(0)
	m2 := encode(false, pattern(100))
	onData(t, r, encode(false, pattern(1)))
	onData(t, r, m2[:50])
	r.OnEnd(nil)
	recv(t, r, pattern(1)) // what was complete is still delivered
	if _, err := r.Recv(); status.CodeOf(err) != status.Internal {
		t.Errorf("Recv after an end mid-message = %v, want INTERNAL", err)
	}
}

func TestReceiveMalformed(t *testing.T) {
	t.Run("flag", func(t *testing.T) {
		r, _ := newReceive(0)
		in := append(encode(false, pattern(3)), 2, 0, 0, 0, 1, 'x', 'y', 'z')
		credit, err := r.OnData(in)
		if status.CodeOf(err) != status.Internal {
			t.Fatalf("OnData(flag 2) err = %v, want INTERNAL", err)
		}
		if credit != len(in) {
			t.Errorf("OnData(flag 2) credit = %d, want all %d bytes (assembled or discarded)", credit, len(in))
		}
		recv(t, r, pattern(3))
		if _, err := r.Recv(); status.CodeOf(err) != status.Internal {
			t.Errorf("Recv = %v, want INTERNAL", err)
		}
	})
	t.Run("oversized", func(t *testing.T) {
		r, _ := newReceive(10)
		in := encode(false, pattern(11))
		credit, err := r.OnData(in)
		if status.CodeOf(err) != status.ResourceExhausted || credit != len(in) {
			t.Fatalf("OnData(11 bytes, limit 10) = %d, %v; want %d, RESOURCE_EXHAUSTED", credit, err, len(in))
		}
		if _, err := r.Recv(); status.CodeOf(err) != status.ResourceExhausted {
			t.Errorf("Recv = %v, want RESOURCE_EXHAUSTED", err)
		}
	})
	t.Run("SetMaxSize", func(t *testing.T) {
		r, _ := newReceive(0)
		r.SetMaxSize(10)
		if _, err := r.OnData(encode(false, pattern(11))); status.CodeOf(err) != status.ResourceExhausted {
			t.Errorf("OnData(11 bytes) after SetMaxSize(10) = %v, want RESOURCE_EXHAUSTED", err)
		}
	})
}

func TestReceiveHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := newReceive(0)
		var got *stream.Header
		go func() { got, _ = r.Header() }()
		synctest.Wait()
		if got != nil {
			t.Fatal("Header() returned before OnHeader")
		}
		r.OnHeader(&stream.Header{Status: 200, ContentType: "application/grpc"})
		r.OnHeader(&stream.Header{Status: 500}) // only the first counts
		synctest.Wait()
		if got == nil || got.Status != 200 {
			t.Fatalf("Header() = %+v, want the first block", got)
		}
	})
	// A stream that ends without a header block: nil and the end.
	r, _ := newReceive(0)
	r.OnEnd(&stream.Header{GRPCStatus: "5"})
	if h, err := r.Header(); h != nil || err != io.EOF {
		t.Errorf("Header() of a trailers-only stream = %+v, %v; want nil, io.EOF", h, err)
	}
}

func TestReceiveRecvBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := newReceive(0)
		got := make(chan error, 1)
		go func() {
			m, err := r.Recv()
			m.Release()
			got <- err
		}()
		synctest.Wait()
		select {
		case err := <-got:
			t.Fatalf("Recv returned %v with nothing queued", err)
		default:
		}
		onData(t, r, encode(false, pattern(5))[:3])
		synctest.Wait()
		if len(got) != 0 {
			t.Fatal("Recv returned on a partial message")
		}
		r.OnData(encode(false, pattern(5))[3:])
		if err := <-got; err != nil {
			t.Fatalf("Recv = %v", err)
		}
		go func() {
			_, err := r.Recv()
			got <- err
		}()
		synctest.Wait()
		r.Close(errors.New("closed"))
		if err := <-got; err == nil || err.Error() != "closed" {
			t.Fatalf("blocked Recv after Close = %v", err)
		}
	})
}

// TestReceiveCreditConservation runs a reader and a consumer concurrently
// over random splits: every byte is credited exactly once, by OnData or
// through Consumed (or by Drain), and every message arrives intact.
func TestReceiveCreditConservation(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var payloads [][]byte
		var in []byte
		for range 50 {
			p := pattern(rng.IntN(3000))
			payloads = append(payloads, p)
			in = append(in, encode(false, p)...)
		}
		r, flow := newReceive(0)
		var fed int
		var wg sync.WaitGroup
		wg.Go(func() {
			for p := in; len(p) > 0; {
				n := min(len(p), 1+rng.IntN(5000))
				c, err := r.OnData(p[:n])
				if err != nil {
					t.Errorf("OnData: %v", err)
					return
				}
				fed += c
				p = p[n:]
			}
			r.OnEnd(nil)
		})
		stop := len(payloads) / 2 // read half, then drop the rest
		for i := range stop {
			m, err := r.Recv()
			if err != nil {
				t.Fatalf("seed %d: Recv %d: %v", seed, i, err)
			}
			if !bytes.Equal(m.Data, payloads[i]) {
				t.Fatalf("seed %d: message %d corrupted", seed, i)
			}
			m.Release()
		}
		wg.Wait()
		drained := r.Drain(io.EOF)
		if total := fed + flow.take() + drained; total != len(in) {
			t.Fatalf("seed %d: credited %d (OnData %d, Drain %d) of %d bytes", seed, total, fed, drained, len(in))
		}
	}
}

// The trailer block goes into the storage the owner gave, and only once
// the trailers have arrived; without storage it is allocated on arrival.
func TestReceiveUseTrailer(t *testing.T) {
	for _, given := range []bool{true, false} {
		r, _ := newReceive(0)
		var storage stream.Header
		if given {
			r.UseTrailer(&storage)
		}
		if tr := r.Trailer(); tr != nil {
			t.Fatalf("Trailer() before the end = %+v, want nil", tr)
		}
		r.OnEnd(&stream.Header{GRPCStatus: "3", GRPCMessage: "m"})
		tr := r.Trailer()
		if tr == nil || tr.GRPCStatus != "3" || tr.GRPCMessage != "m" {
			t.Fatalf("Trailer() = %+v, want the block received", tr)
		}
		if given != (tr == &storage) {
			t.Errorf("storage given %v: Trailer() is the storage: %v", given, tr == &storage)
		}
	}
}

// TestReceiveBatchWakeups: with BatchWakeups, what the reader feeds wakes a
// waiting receiver only at Wake, once, with everything fed meanwhile; Close
// (from any goroutine) wakes at once.
func TestReceiveBatchWakeups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := newReceive(0)
		r.BatchWakeups()
		type result struct {
			m   stream.Message
			err error
		}
		got := make(chan result, 2)
		go func() {
			m, err := r.Recv()
			got <- result{m, err}
			m, err = r.Recv()
			got <- result{m, err}
		}()
		synctest.Wait()
		onData(t, r, encode(false, pattern(5)))
		r.OnEnd(nil)
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("receiver woken before Wake")
		default:
		}
		r.Wake()
		synctest.Wait()
		if res := <-got; res.err != nil || !bytes.Equal(res.m.Data, pattern(5)) {
			t.Fatalf("first Recv: %v", res.err)
		}
		if res := <-got; res.err != io.EOF {
			t.Fatalf("second Recv: %v, want EOF", res.err)
		}

		r2, _ := newReceive(0)
		r2.BatchWakeups()
		go func() {
			_, err := r2.Recv()
			got <- result{err: err}
		}()
		synctest.Wait()
		r2.Close(errors.New("gone"))
		synctest.Wait()
		select {
		case res := <-got:
			if res.err == nil || res.err.Error() != "gone" {
				t.Fatalf("Recv after Close: %v", res.err)
			}
		default:
			t.Fatal("Close did not wake the receiver")
		}
	})
}
