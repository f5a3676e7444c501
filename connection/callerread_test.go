package connection_test

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/status"
)

// A client connection with no stream open parks its reader at once, and a
// caller that has sent its request reads its response itself
// (Stream.ReadResponse) while no reader runs.

// gatedPair is a parkPair whose handler echoes a request at once, or,
// when it starts with "later", once the test sends on later, or, when it
// is "hold", never: it waits for the call to end; to "flood" it sends
// 1 MiB messages until the call ends, and never its status.
type gatedPair struct {
	*parkPair
	later chan struct{}
}

func startGatedPair(t *testing.T) *gatedPair {
	t.Helper()
	later := make(chan struct{})
	run := func(st *connection.Stream) {
		defer st.Finish()
		setResponseHeader(st)
		m, err := st.Recv.Recv()
		if err != nil {
			return
		}
		defer m.Release()
		switch {
		case string(m.Data) == "hold":
			<-st.Context().Done()
			return
		case string(m.Data) == "flood":
			for st.Send.Send(pattern(1<<20), false) == nil {
			}
			return
		case bytes.HasPrefix(m.Data, []byte("later")):
			select {
			case <-later:
			case <-st.Context().Done():
				return
			}
		}
		st.Send.SendLast(m.Data, false, okStatus())
	}
	p := &gatedPair{parkPair: startPairWith(t, connection.Config{}, run, nil), later: later}
	// One call first: the handshake's frames (the server's SETTINGS ACK)
	// are read by then, and do not start a reader after the tests have
	// seen the client's parked.
	unaryCall(t, p.cc, []byte("warm-up"))
	return p
}

// sendRequest opens a stream and sends msg as a whole request.
func sendRequest(t *testing.T, cc *connection.Conn, msg []byte) *connection.Stream {
	t.Helper()
	st, err := cc.NewStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	*st.Send.Header() = requestHeader()
	if err := st.Send.SendLast(msg, false, nil); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestCallerReadsResponse: with the client's reader parked, ReadResponse
// returns once the response has arrived whole, read by the caller, which
// then receives it without a reader; calls keep working, messages larger
// than a read included.
func TestCallerReadsResponse(t *testing.T) {
	p := startGatedPair(t)
	for i, n := range []int{1, 100000, 10} {
		waitParked(t, p.cc)
		msg := append([]byte("later"), pattern(n)...)
		st := sendRequest(t, p.cc, msg)
		var released sync.WaitGroup
		var sent time.Time
		released.Go(func() {
			time.Sleep(20 * time.Millisecond)
			sent = time.Now()
			p.later <- struct{}{}
		})
		st.ReadResponse()
		returned := time.Now()
		released.Wait()
		if returned.Before(sent) {
			t.Fatalf("call %d: ReadResponse returned before the server answered", i)
		}
		checkEcho(t, st, msg)
		st.Finish()
	}
}

// TestCallerReadCancel: cancelling a stream whose caller is reading the
// connection for it wakes the caller at once; the connection goes on.
// The idle grace is long here, so that the reader's idle wake-ups do not
// stand in for the interrupt.
func TestCallerReadCancel(t *testing.T) {
	connection.SetIdleGrace(t, time.Minute)
	p := startGatedPair(t)
	waitParked(t, p.cc)
	st := sendRequest(t, p.cc, []byte("hold"))
	var cancelled time.Time
	var mu sync.Mutex
	time.AfterFunc(20*time.Millisecond, func() {
		mu.Lock()
		cancelled = time.Now()
		mu.Unlock()
		st.Cancel(status.New(status.Canceled, "cancelled"))
	})
	st.ReadResponse()
	mu.Lock()
	if d := time.Since(cancelled); d > 10*time.Second {
		t.Errorf("ReadResponse returned %v after Cancel", d)
	}
	mu.Unlock()
	if _, err := st.Recv.Recv(); status.CodeOf(err) != status.Canceled {
		t.Fatalf("Recv after Cancel: %v, want CANCELLED", err)
	}
	st.Finish()
	for _, n := range []int{100000, 3} {
		unaryCall(t, p.cc, pattern(n))
	}
}

// TestCallerReadsForOthers: a caller reading the connection delivers the
// responses of other streams too; once it has its own, a stream still
// open is read for by another reader.
func TestCallerReadsForOthers(t *testing.T) {
	p := startGatedPair(t)
	for _, first := range []string{"other", "later other"} {
		waitParked(t, p.cc)
		other := sendRequest(t, p.cc, []byte(first))
		mine := sendRequest(t, p.cc, []byte("mine"))
		got := make(chan error, 1)
		go func() {
			m, err := other.Recv.Recv()
			if err == nil {
				m.Release()
			}
			got <- err
		}()
		mine.ReadResponse()
		checkEcho(t, mine, []byte("mine"))
		mine.Finish()
		if first != "other" {
			p.later <- struct{}{} // answered after mine has stopped reading
		}
		if err := <-got; err != nil {
			t.Fatalf("the other stream: %v", err)
		}
		if _, err := other.Recv.Recv(); err != io.EOF {
			t.Fatalf("end of the other call: %v, want io.EOF", err)
		}
		other.Finish()
	}
}

// TestCallerReadConnectionEnds: the server closing the connection while a
// caller reads it for its response ends the connection there, and the
// caller's receive fails.
func TestCallerReadConnectionEnds(t *testing.T) {
	p := startGatedPair(t)
	waitParked(t, p.cc)
	st := sendRequest(t, p.cc, []byte("hold"))
	time.AfterFunc(20*time.Millisecond, func() { p.srv.Close() })
	st.ReadResponse()
	select {
	case <-p.cc.Done():
	default:
		t.Fatal("ReadResponse returned with the connection still open")
	}
	if _, err := st.Recv.Recv(); err == nil || err == io.EOF {
		t.Fatalf("Recv on an ended connection: %v, want an error", err)
	}
	st.Finish()
}

// TestCallerReadFlood: a server that sends more messages than the stream's
// window holds, and no status, waits for credit that only the caller's
// receiving gives back: ReadResponse returns once the window is spent,
// and the caller receives.
func TestCallerReadFlood(t *testing.T) {
	p := startGatedPair(t)
	waitParked(t, p.cc)
	st := sendRequest(t, p.cc, []byte("flood"))
	st.ReadResponse()
	for range 8 {
		m, err := st.Recv.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Data) != 1<<20 {
			t.Fatalf("message of %d bytes, want %d", len(m.Data), 1<<20)
		}
		m.Release()
	}
	st.Cancel(status.New(status.Canceled, "enough"))
	st.Finish()
}
