package connection_test

import (
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/h2grpc/h2grpc/connection"
)

// A server connection run by Start may run a stream's handler on its
// reader (Conn.SetInline) when the request has arrived whole and no other
// handler runs; its socket is watched meanwhile, so that what the client
// sends while that handler runs starts another reader.

// inlineRec is an InlineHandler that accepts every stream and runs run on
// the reader, counting the streams it ran there.
type inlineRec struct {
	run    func(*connection.Stream)
	inline atomic.Int32
}

func (h *inlineRec) MayRunInline(*connection.Stream) bool { return true }

func (h *inlineRec) RunInline(st *connection.Stream) {
	h.inline.Add(1)
	h.run(st)
}

// startInlinePair is startParkPair with SetInline: run serves every stream,
// on the reader (counted by the returned inlineRec) or, started by the
// connection's handle func, on a goroutine of its own (counted in
// *handled).
func startInlinePair(t *testing.T, cfg connection.Config, run func(*connection.Stream)) (p *parkPair, h *inlineRec, handled *atomic.Int32) {
	t.Helper()
	h = &inlineRec{run: run}
	handled = new(atomic.Int32)
	p = startPairWith(t, cfg, func(st *connection.Stream) {
		handled.Add(1)
		run(st)
	}, h)
	return p, h, handled
}

// unaryCall is echoCall with the request sent in one write, its message
// ending the stream, as a unary call sends it.
func unaryCall(t *testing.T, cc *connection.Conn, msg []byte) {
	t.Helper()
	st := sendRequest(t, cc, msg)
	defer st.Finish()
	checkEcho(t, st, msg)
}

// TestInlineRunsOnReader: calls one after another, each request sent
// whole, are run by the reader, none by the handle func. Each call waits
// for the last handler to return: a request that comes while one still
// runs (after it sent its response) is another handler's, started.
func TestInlineRunsOnReader(t *testing.T) {
	returned := make(chan struct{}, 1)
	p, h, handled := startInlinePair(t, connection.Config{}, func(st *connection.Stream) {
		echo(st)
		returned <- struct{}{}
	})
	for i := range 20 {
		unaryCall(t, p.cc, pattern(1+i*100))
		<-returned
	}
	if n, m := h.inline.Load(), handled.Load(); n != 20 || m != 0 {
		t.Errorf("%d calls run on the reader and %d started, want 20 and 0", n, m)
	}
}

// TestInlineNotBeforeRequestEnds: a request whose end has not arrived
// (the client waits for the reply before it closes) is started, not run
// on the reader, whose handler would wait for the reader itself.
func TestInlineNotBeforeRequestEnds(t *testing.T) {
	p, h, handled := startInlinePair(t, connection.Config{}, echo)
	st, err := p.cc.NewStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Finish()
	*st.Send.Header() = requestHeader()
	if err := st.Send.Send([]byte("ping"), false); err != nil {
		t.Fatal(err)
	}
	m, err := st.Recv.Recv()
	if err != nil {
		t.Fatal(err)
	}
	m.Release()
	if err := st.Send.Close(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv.Recv(); err != io.EOF {
		t.Fatalf("end of call: %v, want io.EOF", err)
	}
	if n, m := h.inline.Load(), handled.Load(); n != 0 || m != 1 {
		t.Errorf("%d calls run on the reader and %d started, want 0 and 1", n, m)
	}
}

// TestInlineHandlerWaitsForAnotherCall: the handler the reader runs waits
// until a second call on the connection has been handled. The second
// request is read by a reader started when it arrives: without one, both
// calls would hang.
func TestInlineHandlerWaitsForAnotherCall(t *testing.T) {
	second := make(chan struct{})
	var once sync.Once
	var first atomic.Bool
	p, h, _ := startInlinePair(t, connection.Config{}, func(st *connection.Stream) {
		if first.CompareAndSwap(false, true) {
			select {
			case <-second:
			case <-st.Context().Done():
			}
		} else {
			once.Do(func() { close(second) })
		}
		echo(st)
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		unaryCall(t, p.cc, []byte("first"))
	}()
	for h.inline.Load() == 0 {
		select {
		case <-done:
			t.Fatal("the first call ended before its handler ran")
		case <-t.Context().Done():
			t.Fatal("the first call was not run on the reader")
		default:
		}
	}
	unaryCall(t, p.cc, []byte("second"))
	<-done
}

// TestInlineLargeResponse: a response larger than the client's windows,
// sent by a handler on the reader, waits for WINDOW_UPDATEs that only a
// reader can read: one is started for them.
func TestInlineLargeResponse(t *testing.T) {
	const size = 1 << 20
	cfg := connection.Config{StreamWindow: 65535, ConnWindow: 65535}
	p, h, _ := startInlinePair(t, cfg, func(st *connection.Stream) {
		defer st.Finish()
		setResponseHeader(st)
		if _, err := st.Recv.Recv(); err != nil {
			st.Cancel(err)
			return
		}
		st.Send.SendLast(pattern(size), false, okStatus())
	})
	st, err := p.cc.NewStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Finish()
	*st.Send.Header() = requestHeader()
	if err := st.Send.SendLast([]byte("big"), false, nil); err != nil {
		t.Fatal(err)
	}
	checkEcho(t, st, pattern(size))
	if n := h.inline.Load(); n != 1 {
		t.Errorf("%d calls run on the reader, want 1", n)
	}
}

// TestInlineClose: closing the connection while the reader runs a handler
// that waits for its call to end cancels the call, and the connection
// finishes.
func TestInlineClose(t *testing.T) {
	running := make(chan struct{})
	returned := make(chan struct{})
	p, _, _ := startInlinePair(t, connection.Config{}, func(st *connection.Stream) {
		defer close(returned)
		defer st.Finish()
		close(running)
		<-st.Context().Done()
	})
	st, err := p.cc.NewStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Finish()
	*st.Send.Header() = requestHeader()
	if err := st.Send.Close(nil); err != nil {
		t.Fatal(err)
	}
	<-running
	p.srv.Close()
	select {
	case <-p.ended:
	case <-t.Context().Done():
		t.Fatal("the connection did not finish")
	}
	<-returned
}
