package connection_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/stream"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The frame-level tests run in a testing/synctest bubble over net.Pipe: time
// is fake, and synctest.Wait tells a test that the connection has done all
// it will do in answer to a frame, so "nothing was sent" can be checked
// without sleeping. A stuck test fails when its context's (fake) deadline
// passes.

// bubble runs f in a synctest bubble with a context that has a deadline.
func bubble(t *testing.T, f func(t *testing.T, ctx context.Context)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		f(t, ctx)
	})
}

// server is a server connection with a fake client peer on the other end.
type server struct {
	conn *connection.Conn
	peer *h2test.Peer
	rec  *h2test.WriteRecorder // the server's side of the pipe

	handlers sync.WaitGroup
	served   chan struct{} // closed when Serve has returned
	err      error         // what Serve returned
}

// startServer runs a server connection whose handler runs each stream in
// its own goroutine and then calls Finish. The handshake is up to the test.
func startServer(t *testing.T, ctx context.Context, cfg connection.Config, handler func(*connection.Stream)) *server {
	a, b := net.Pipe()
	s := &server{rec: &h2test.WriteRecorder{Conn: a}, served: make(chan struct{})}
	s.peer = h2test.NewClient(ctx, t, b)
	s.conn = connection.NewServerConn(s.rec, cfg, func(st *connection.Stream) {
		s.handlers.Go(func() {
			defer st.Finish()
			handler(st)
		})
	})
	go func() {
		s.err = s.conn.Serve()
		close(s.served)
	}()
	t.Cleanup(func() {
		s.conn.Close()
		<-s.served
		s.handlers.Wait()
	})
	return s
}

// wait waits for Serve to return and returns its error.
func (s *server) wait(t *testing.T, ctx context.Context) error {
	t.Helper()
	select {
	case <-s.served:
		return s.err
	case <-ctx.Done():
		t.Fatal("Serve did not return")
		return nil
	}
}

// client is a client connection with a fake server peer on the other end.
type client struct {
	conn *connection.Conn
	peer *h2test.Peer
	rec  *h2test.WriteRecorder
}

func startClient(t *testing.T, ctx context.Context, cfg connection.Config) *client {
	a, b := net.Pipe()
	cl := &client{rec: &h2test.WriteRecorder{Conn: a}}
	cl.peer = h2test.NewServer(ctx, t, b) // reading before the client writes its preface
	c, err := connection.NewClientConn(cl.rec, cfg)
	if err != nil {
		t.Fatalf("NewClientConn: %v", err)
	}
	cl.conn = c
	t.Cleanup(func() { c.Close() })
	return cl
}

// requestHeader is the header block of a client test call.
func requestHeader() stream.Header {
	return stream.Header{
		Method: "POST", Scheme: "http", Path: "/h2test.Service/Method", Authority: "h2test",
		ContentType: "application/grpc", TE: "trailers",
	}
}

// newCall opens a client stream with the request header set; the test
// ends it with Finish when it is done.
func (cl *client) newCall(t *testing.T, ctx context.Context) *connection.Stream {
	t.Helper()
	st, err := cl.conn.NewStream(ctx)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	*st.Send.Header() = requestHeader()
	t.Cleanup(st.Finish)
	return st
}

// setResponseHeader readies a server stream's response header.
func setResponseHeader(st *connection.Stream) {
	*st.Send.Header() = stream.Header{Status: 200, ContentType: "application/grpc"}
}

// okStatus is the trailer block of a successful call.
func okStatus() *stream.Header { return &stream.Header{GRPCStatus: "0"} }

// pattern returns n bytes that differ from one position to the next.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// recvAll takes messages until the stream ends and returns copies of them
// with the error it ended with.
func recvAll(st *connection.Stream) ([][]byte, error) {
	var out [][]byte
	for {
		m, err := st.Recv.Recv()
		if err != nil {
			return out, err
		}
		out = append(out, bytes.Clone(m.Data))
		m.Release()
	}
}

// idle waits until every goroutine of the test is blocked, that is until
// the connection has done all it will do for now, and returns the frames
// the peer received meanwhile.
func idle(p *h2test.Peer) []h2test.Frame {
	synctest.Wait()
	return p.Received()
}

// expectNone fails the test if the connection wrote anything.
func expectNone(t *testing.T, p *h2test.Peer) {
	t.Helper()
	if fs := idle(p); len(fs) > 0 {
		t.Fatalf("unexpected frames: %v", fs)
	}
}

// only returns the frames of type typ on stream id.
func only(fs []h2test.Frame, typ http2.FrameType, id uint32) []h2test.Frame {
	var out []h2test.Frame
	for _, f := range fs {
		if f.Type == typ && f.StreamID == id {
			out = append(out, f)
		}
	}
	return out
}

// dataOf concatenates the payloads of the DATA frames on stream id, and
// checks that none is larger than maxFrame.
func dataOf(t *testing.T, fs []h2test.Frame, id uint32, maxFrame int) []byte {
	t.Helper()
	var b []byte
	for _, f := range only(fs, http2.FrameData, id) {
		if len(f.Data) > maxFrame {
			t.Errorf("DATA frame of %d bytes, over the peer's max frame size %d", len(f.Data), maxFrame)
		}
		b = append(b, f.Data...)
	}
	return b
}

// windowUpdates sums the WINDOW_UPDATE increments for stream id (0: the
// connection).
func windowUpdates(fs []h2test.Frame, id uint32) int {
	n := 0
	for _, f := range only(fs, http2.FrameWindowUpdate, id) {
		n += int(f.Increment)
	}
	return n
}

// expectResponse reads a whole response on stream id, written as header
// block, DATA frames and trailers, and returns the three parts.
func expectResponse(t *testing.T, p *h2test.Peer, id uint32) (header h2test.Frame, data []byte, trailer h2test.Frame) {
	t.Helper()
	header = p.Expect(http2.FrameHeaders, id)
	if header.EndStream() {
		t.Fatalf("response header block ends the stream: %v", header)
	}
	for {
		f := p.Next()
		switch {
		case f.Type == http2.FrameData && f.StreamID == id && !f.EndStream():
			data = append(data, f.Data...)
		case f.Type == http2.FrameHeaders && f.StreamID == id && f.EndStream():
			return header, data, f
		default:
			t.Fatalf("reading the response on stream %d: unexpected frame %v", id, f)
		}
	}
}
