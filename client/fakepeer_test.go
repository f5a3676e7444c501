package client_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"runtime"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// The tests in this file play the server, frame by frame, against the
// h2grpc client: each case answers in a way a real gRPC server would not
// (or a proxy would) and checks the status the call ends with.

// fakeConn is a client connection to one fake server whose handshake is
// done.
type fakeConn struct {
	ctx context.Context
	c   *client.Conn
	p   *h2test.Peer
}

func newFakeConn(t *testing.T) *fakeConn {
	t.Helper()
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers)
	return &fakeConn{ctx: ctx, c: c, p: p}
}

// unary starts a unary call in its own goroutine; the channel reports how
// it ended. The test must receive from it before it ends.
func (fc *fakeConn) unary(ctx context.Context, opts ...grpc.CallOption) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := pb.NewExampleClient(fc.c).UnaryUnary(ctx, &pb.ExampleRequest{Value: "fake"}, opts...)
		done <- err
	}()
	return done
}

// wait waits for a call started with unary (or the like) to end.
func (fc *fakeConn) wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-fc.ctx.Done():
		t.Fatal("the call did not end")
		return nil
	}
}

// readRequest reads frames until the request on stream id has ended and
// returns its header block and the data it carried. Frames of other
// streams and of the connection are skipped.
func readRequest(t *testing.T, p *h2test.Peer, id uint32) (h2test.Frame, []byte) {
	t.Helper()
	var hdr h2test.Frame
	var data []byte
	for {
		f := p.Next()
		if f.StreamID != id {
			continue
		}
		switch f.Type {
		case http2.FrameHeaders:
			hdr = f
		case http2.FrameData:
			data = append(data, f.Data...)
		case http2.FrameRSTStream:
			t.Fatalf("request on stream %d reset: %v", id, f)
		}
		if f.EndStream() {
			if hdr.Type != http2.FrameHeaders {
				t.Fatalf("request on stream %d ended without HEADERS", id)
			}
			return hdr, data
		}
	}
}

func field(name, value string) hpack.HeaderField {
	return hpack.HeaderField{Name: name, Value: value}
}

func replyMessage(t *testing.T, text string) []byte {
	return h2test.Message(mustMarshal(t, &pb.ExampleReply{Message: text}))
}

// TestFakeServerSkipsInformationalResponses: 1xx header blocks before the
// real response are skipped.
func TestFakeServerSkipsInformationalResponses(t *testing.T) {
	fc := newFakeConn(t)
	done := make(chan error, 1)
	var reply *pb.ExampleReply
	go func() {
		var err error
		reply, err = pb.NewExampleClient(fc.c).UnaryUnary(fc.ctx, &pb.ExampleRequest{Value: "fake"})
		done <- err
	}()
	readRequest(t, fc.p, 1)
	fc.p.WriteHeaders(1, false, []hpack.HeaderField{field(":status", "100")})
	fc.p.WriteHeaders(1, false, []hpack.HeaderField{field(":status", "103"), field("link", "</style.css>; rel=preload")})
	fc.p.WriteHeaders(1, false, h2test.ResponseFields())
	fc.p.WriteData(1, false, replyMessage(t, "after 1xx"))
	fc.p.WriteHeaders(1, true, h2test.TrailerFields("0"))
	if err := fc.wait(t, done); err != nil {
		t.Fatalf("call after 1xx responses: %v", err)
	}
	if reply.Message != "after 1xx" {
		t.Fatalf("reply %q, want %q", reply.Message, "after 1xx")
	}
}

// gzipped returns the gzip encoding of n zero bytes, written in pieces so
// that the zeros are never held at once.
func gzipped(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := zw.Write(chunk[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeDataFrames writes data on stream id in frames no larger than the
// HTTP/2 default maximum, the last one with END_STREAM when end is set.
func writeDataFrames(p *h2test.Peer, id uint32, end bool, data []byte) {
	const maxFrame = 16 << 10
	for len(data) > maxFrame {
		p.WriteData(id, false, data[:maxFrame])
		data = data[maxFrame:]
	}
	p.WriteData(id, end, data)
}

// statusDetails is a grpc-status-details-bin value: an unpadded base64
// google.rpc.Status.
func statusDetails(t *testing.T, code status.Code, msg string) string {
	return base64.RawStdEncoding.EncodeToString(mustMarshal(t, &spb.Status{Code: int32(code), Message: msg}))
}

// TestFakeServerBadResponses: responses no gRPC server sends (or a proxy
// sends) end the call with the status SPEC.md's "Responses" gives.
func TestFakeServerBadResponses(t *testing.T) {
	html := []byte("<html><body>Bad Gateway</body></html>")
	httpError := func(code string) func(*testing.T, *h2test.Peer) {
		return func(t *testing.T, p *h2test.Peer) {
			p.WriteHeaders(1, false, []hpack.HeaderField{field(":status", code), field("content-type", "text/html")})
			p.WriteData(1, true, html)
		}
	}
	for _, tc := range []struct {
		name    string
		opts    []grpc.CallOption
		respond func(*testing.T, *h2test.Peer)
		want    status.Code
	}{
		{"trailers without grpc-status", nil, func(t *testing.T, p *h2test.Peer) {
			p.WriteHeaders(1, false, h2test.ResponseFields())
			p.WriteData(1, false, replyMessage(t, "x"))
			p.WriteHeaders(1, true, []hpack.HeaderField{field("x-trailer", "no status")})
		}, status.Unknown},
		{"no trailers", nil, func(t *testing.T, p *h2test.Peer) {
			p.WriteHeaders(1, false, h2test.ResponseFields())
			p.WriteData(1, true, replyMessage(t, "x"))
		}, status.Internal},
		{"HTTP 502 with HTML", nil, httpError("502"), status.Unavailable},
		{"HTTP 503 with HTML", nil, httpError("503"), status.Unavailable},
		{"HTTP 504 with HTML", nil, httpError("504"), status.Unavailable},
		{"HTTP 429 with HTML", nil, httpError("429"), status.Unavailable},
		{"HTTP 401 with HTML", nil, httpError("401"), status.Unauthenticated},
		{"HTTP 403 with HTML", nil, httpError("403"), status.PermissionDenied},
		{"HTTP 404 with HTML", nil, httpError("404"), status.Unimplemented},
		{"HTTP 400 with HTML", nil, httpError("400"), status.Internal},
		{"HTTP 418 with HTML", nil, httpError("418"), status.Unknown},
		{"HTTP 503 headers only", nil, func(t *testing.T, p *h2test.Peer) {
			p.WriteHeaders(1, true, []hpack.HeaderField{field(":status", "503"), field("content-type", "text/html")})
		}, status.Unavailable},
		{"HTTP 200 with HTML", nil, func(t *testing.T, p *h2test.Peer) {
			p.WriteHeaders(1, false, []hpack.HeaderField{field(":status", "200"), field("content-type", "text/html")})
			p.WriteData(1, true, html)
		}, status.Unknown},
		{"unknown grpc-encoding", nil, func(t *testing.T, p *h2test.Peer) {
			p.WriteHeaders(1, false, h2test.ResponseFields(field("grpc-encoding", "br")))
			p.WriteData(1, false, append(h2test.Prefix(true, 3), "br!"...))
			p.WriteHeaders(1, true, h2test.TrailerFields("0"))
		}, status.Internal},
		{"compressed flag without grpc-encoding", nil, func(t *testing.T, p *h2test.Peer) {
			gz := gzipped(t, 10)
			p.WriteHeaders(1, false, h2test.ResponseFields())
			p.WriteData(1, false, append(h2test.Prefix(true, len(gz)), gz...))
			p.WriteHeaders(1, true, h2test.TrailerFields("0"))
		}, status.Internal},
		{"bad base64 in a response header", nil, func(t *testing.T, p *h2test.Peer) {
			p.WriteHeaders(1, false, h2test.ResponseFields(field("x-bin", "!!!")))
			p.WriteData(1, false, replyMessage(t, "x"))
			p.WriteHeaders(1, true, h2test.TrailerFields("0"))
		}, status.Internal},
		{"bad base64 in a trailer", nil, func(t *testing.T, p *h2test.Peer) {
			p.WriteHeaders(1, false, h2test.ResponseFields())
			p.WriteData(1, false, replyMessage(t, "x"))
			p.WriteHeaders(1, true, h2test.TrailerFields("0", field("x-bin", "!!!")))
		}, status.Internal},
		{"details disagree with grpc-status", nil, func(t *testing.T, p *h2test.Peer) {
			p.WriteHeaders(1, false, h2test.ResponseFields())
			p.WriteHeaders(1, true, h2test.TrailerFields("5", field("grpc-message", "not found"),
				field("grpc-status-details-bin", statusDetails(t, status.InvalidArgument, "invalid"))))
		}, status.Internal},
		{"details disagree with OK", nil, func(t *testing.T, p *h2test.Peer) {
			p.WriteHeaders(1, false, h2test.ResponseFields())
			p.WriteData(1, false, replyMessage(t, "x"))
			p.WriteHeaders(1, true, h2test.TrailerFields("0",
				field("grpc-status-details-bin", statusDetails(t, status.NotFound, "not found"))))
		}, status.Internal},
		{"unary: no response message", nil, func(t *testing.T, p *h2test.Peer) {
			p.WriteHeaders(1, false, h2test.ResponseFields())
			p.WriteHeaders(1, true, h2test.TrailerFields("0"))
		}, status.Unimplemented},
		{"unary: two response messages", nil, func(t *testing.T, p *h2test.Peer) {
			p.WriteHeaders(1, false, h2test.ResponseFields())
			p.WriteData(1, false, append(replyMessage(t, "one"), replyMessage(t, "two")...))
			p.WriteHeaders(1, true, h2test.TrailerFields("0"))
		}, status.Unimplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeConn(t)
			done := fc.unary(fc.ctx, tc.opts...)
			readRequest(t, fc.p, 1)
			tc.respond(t, fc.p)
			if err := fc.wait(t, done); status.CodeOf(err) != tc.want {
				t.Fatalf("call: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestFakeServerCompressionBomb: a small gzip message that decompresses
// far beyond the call's receive limit ends the call with
// RESOURCE_EXHAUSTED, without the client allocating what it would
// decompress to.
func TestFakeServerCompressionBomb(t *testing.T) {
	const bomb = 64 << 20
	gz := gzipped(t, bomb)
	if len(gz) > 1<<20 {
		t.Fatalf("gzip of %d zeros is %d bytes; want a small bomb", bomb, len(gz))
	}
	msg := append(h2test.Prefix(true, len(gz)), gz...)
	fc := newFakeConn(t)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	done := fc.unary(fc.ctx, grpc.MaxCallRecvMsgSize(1<<20))
	readRequest(t, fc.p, 1)
	fc.p.WriteHeaders(1, false, h2test.ResponseFields(field("grpc-encoding", "gzip")))
	writeDataFrames(fc.p, 1, false, msg)
	fc.p.WriteHeaders(1, true, h2test.TrailerFields("0"))
	err := fc.wait(t, done)
	runtime.ReadMemStats(&after)

	if status.CodeOf(err) != status.ResourceExhausted {
		t.Fatalf("call: %v, want RESOURCE_EXHAUSTED", err)
	}
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d KiB bomb of %d MiB: the call allocated %d KiB", len(gz)>>10, bomb>>20, grew>>10)
	if grew >= 16<<20 {
		t.Fatalf("the call allocated %d MiB for a %d KiB bomb; want less than 16 MiB", grew>>20, len(gz)>>10)
	}
}

// TestFakeServerClientStreamCardinality: a client-streaming call must get
// exactly one response message.
func TestFakeServerClientStreamCardinality(t *testing.T) {
	for _, tc := range []struct {
		name     string
		messages int
	}{
		{"no response message", 0},
		{"two response messages", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeConn(t)
			done := make(chan error, 1)
			go func() {
				s, err := pb.NewExampleClient(fc.c).StreamUnary(fc.ctx)
				if err == nil {
					if err = s.Send(&pb.ExampleRequest{Value: "one"}); err == nil {
						_, err = s.CloseAndRecv()
					}
				}
				done <- err
			}()
			readRequest(t, fc.p, 1)
			fc.p.WriteHeaders(1, false, h2test.ResponseFields())
			for i := range tc.messages {
				fc.p.WriteData(1, false, replyMessage(t, string(rune('a'+i))))
			}
			fc.p.WriteHeaders(1, true, h2test.TrailerFields("0"))
			if err := fc.wait(t, done); status.CodeOf(err) != status.Unimplemented {
				t.Fatalf("call with %d responses: %v, want UNIMPLEMENTED", tc.messages, err)
			}
		})
	}
}

// TestFakeServerRefusedOutgoingMetadata: metadata the client may not send
// fails the call with INTERNAL before anything reaches the server.
func TestFakeServerRefusedOutgoingMetadata(t *testing.T) {
	for _, tc := range []struct{ name, key, value string }{
		{"grpc-status", "grpc-status", "0"},
		{"grpc-foo", "grpc-foo", "bar"},
		{"invalid key", "Bad Key", "v"},
		{"invalid value", "x-value", "a\nb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeConn(t)
			done := fc.unary(metadataContext(fc.ctx, tc.key, tc.value))
			if err := fc.wait(t, done); status.CodeOf(err) != status.Internal {
				t.Fatalf("call with %q: %q: %v, want INTERNAL", tc.key, tc.value, err)
			}
			for _, f := range fc.p.Received() {
				if f.Type == http2.FrameHeaders {
					t.Fatalf("refused call sent %v", f)
				}
			}
			// The server sees nothing before the next call's headers:
			// frames leave in order.
			done = fc.unary(metadataContext(fc.ctx, "x-probe", "next"))
			for {
				f := fc.p.Next()
				if f.Type != http2.FrameHeaders {
					continue
				}
				if f.Header("x-probe") != "next" {
					t.Fatalf("refused call sent %v", f)
				}
				answer(t, fc.p, []h2test.Frame{f}, f.StreamID, mustMarshal(t, &pb.ExampleReply{}))
				break
			}
			if err := fc.wait(t, done); err != nil {
				t.Fatalf("the call after: %v", err)
			}
		})
	}
}

// TestFakeServerResetStream: the RST_STREAM code of a reset after the
// request gives the call's status.
func TestFakeServerResetStream(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codes []http2.ErrCode // one per attempt, on streams 1, 3, ...
		want  status.Code
	}{
		{"CANCEL", []http2.ErrCode{http2.ErrCodeCancel}, status.Canceled},
		{"REFUSED_STREAM twice", []http2.ErrCode{http2.ErrCodeRefusedStream, http2.ErrCodeRefusedStream}, status.Unavailable},
		{"ENHANCE_YOUR_CALM", []http2.ErrCode{http2.ErrCodeEnhanceYourCalm}, status.ResourceExhausted},
		{"INADEQUATE_SECURITY", []http2.ErrCode{http2.ErrCodeInadequateSecurity}, status.PermissionDenied},
		{"PROTOCOL_ERROR", []http2.ErrCode{http2.ErrCodeProtocol}, status.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeConn(t)
			done := fc.unary(fc.ctx)
			for i, code := range tc.codes {
				id := uint32(1 + 2*i)
				readRequest(t, fc.p, id)
				fc.p.WriteRSTStream(id, code)
			}
			if err := fc.wait(t, done); status.CodeOf(err) != tc.want {
				t.Fatalf("call reset with %v: %v, want %v", tc.codes, err, tc.want)
			}
		})
	}
}

// TestFakeServerDeadline: a call whose deadline passes before the server
// answers ends with DEADLINE_EXCEEDED and resets its stream with CANCEL;
// its request carried the deadline in grpc-timeout.
func TestFakeServerDeadline(t *testing.T) {
	const deadline = 100 * time.Millisecond
	fc := newFakeConn(t)
	ctx, cancel := context.WithTimeout(fc.ctx, deadline)
	defer cancel()
	done := fc.unary(ctx)
	hdr, _ := readRequest(t, fc.p, 1)
	raw := hdr.Header("grpc-timeout")
	d, err := metadata.DecodeTimeout(raw)
	if err != nil || d <= 0 || d > deadline {
		t.Errorf("grpc-timeout %q = %v, %v; want a positive duration of at most %v", raw, d, err, deadline)
	}
	if err := fc.wait(t, done); status.CodeOf(err) != status.DeadlineExceeded {
		t.Fatalf("call: %v, want DEADLINE_EXCEEDED", err)
	}
	for {
		f := fc.p.Next()
		if f.StreamID != 1 {
			continue
		}
		if f.Type != http2.FrameRSTStream || f.ErrCode != http2.ErrCodeCancel {
			t.Fatalf("after the deadline: %v, want RST_STREAM(CANCEL) on stream 1", f)
		}
		break
	}
}

// TestFakeServerGoAwayKeepsStreamsBelow: a GOAWAY whose last-stream-id
// covers a call in flight lets that call finish.
func TestFakeServerGoAwayKeepsStreamsBelow(t *testing.T) {
	for _, tc := range []struct {
		name string
		last uint32
	}{
		{"last-stream-id is the call's", 1},
		{"graceful 2^31-1", 1<<31 - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeConn(t)
			done := make(chan error, 1)
			go func() {
				r, err := pb.NewExampleClient(fc.c).UnaryUnary(fc.ctx, &pb.ExampleRequest{Value: "fake"})
				if err == nil && r.Message != "after GOAWAY" {
					err = status.Newf(status.Unknown, "wrong reply %q", r.Message)
				}
				done <- err
			}()
			readRequest(t, fc.p, 1)
			fc.p.WriteGoAway(tc.last, http2.ErrCodeNo)
			fc.p.WriteHeaders(1, false, h2test.ResponseFields())
			fc.p.WriteData(1, false, replyMessage(t, "after GOAWAY"))
			fc.p.WriteHeaders(1, true, h2test.TrailerFields("0"))
			if err := fc.wait(t, done); err != nil {
				t.Fatalf("call in flight under GOAWAY(%d): %v", tc.last, err)
			}
		})
	}
}
