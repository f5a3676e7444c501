package server_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/server"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// The tests in this file play the client, frame by frame, against a real
// h2grpc server on a loopback port, and check what reaches the wire.

// fakeServer is a server with the example service's paths: an echoing
// unary handler (or unary, when not nil), a server-streaming handler that
// sends response_count replies, and a client-streaming handler that counts
// the requests.
func fakeServer(unary func(context.Context, *pb.ExampleRequest) (*pb.ExampleReply, error), opts ...server.Option) *server.Server {
	srv := server.New(opts...)
	if unary == nil {
		unary = func(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
			return &pb.ExampleReply{Message: r.Value, Blob: r.Blob}, nil
		}
	}
	server.RegisterUnary(srv, testserver.Unary, unary)
	server.RegisterServerStream(srv, testserver.ServerStream, func(r *pb.ExampleRequest, s grpc.ServerStreamingServer[pb.ExampleReply]) error {
		for i := range r.ResponseCount {
			if err := s.Send(&pb.ExampleReply{Message: r.Value, Seqno: i}); err != nil {
				return err
			}
		}
		return nil
	})
	server.RegisterClientStream(srv, testserver.ClientStream, func(s grpc.ClientStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
		n := int32(0)
		for {
			if _, err := s.Recv(); err != nil {
				return s.SendAndClose(&pb.ExampleReply{Seqno: n})
			}
			n++
		}
	})
	return srv
}

// fakeServe serves srv on a loopback port until the test ends and returns
// a fake client connected to it, its handshake done with settings.
func fakeServe(t *testing.T, srv *server.Server, settings ...http2.Setting) *h2test.Peer {
	t.Helper()
	nc, err := net.Dial("tcp", serveTCP(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	p := h2test.NewClient(testserver.Context(t, 10*time.Second), t, nc)
	p.Handshake(settings...)
	return p
}

// fakeResponse reads the frames of stream id until the response has ended
// (END_STREAM or RST_STREAM) and returns them; frames of other streams and
// of the connection are skipped.
func fakeResponse(t *testing.T, p *h2test.Peer, id uint32) []h2test.Frame {
	t.Helper()
	var fs []h2test.Frame
	for {
		f := p.Next()
		if f.StreamID != id {
			continue
		}
		fs = append(fs, f)
		if f.EndStream() || f.Type == http2.FrameRSTStream {
			return fs
		}
	}
}

// fakeTrailers returns the header block that ended the response fs, and
// fails the test if the response did not end with one.
func fakeTrailers(t *testing.T, fs []h2test.Frame) h2test.Frame {
	t.Helper()
	last := fs[len(fs)-1]
	if last.Type != http2.FrameHeaders || !last.EndStream() {
		t.Fatalf("response did not end with trailers: %v", fs)
	}
	return last
}

func fakeMessage(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return h2test.Message(b)
}

func hf(name, value string) hpack.HeaderField {
	return hpack.HeaderField{Name: name, Value: value}
}

// fakeHeaderListSize is a header block's size as
// SETTINGS_MAX_HEADER_LIST_SIZE counts it (RFC 9113 §6.5.2).
func fakeHeaderListSize(f h2test.Frame) int {
	n := 0
	for _, field := range f.Fields {
		n += len(field.Name) + len(field.Value) + 32
	}
	return n
}

// TestFakeClientBadRequestHeaders: a request whose headers cannot be taken
// as they came is answered with a trailers-only HTTP 400 and INTERNAL.
func TestFakeClientBadRequestHeaders(t *testing.T) {
	p := fakeServe(t, fakeServer(nil))
	req := fakeMessage(t, &pb.ExampleRequest{Value: "x"})
	id := uint32(1)
	for _, tc := range []struct {
		name  string
		field hpack.HeaderField
	}{
		{"bad base64 in a -bin header", hf("x-bin", "!!!")},
		{"grpc-timeout with an unknown unit", hf("grpc-timeout", "1x")},
		{"grpc-timeout with 9 digits", hf("grpc-timeout", "123456789S")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.WriteHeaders(id, false, h2test.RequestFields(testserver.Unary, tc.field))
			p.WriteData(id, true, req)
			fs := fakeResponse(t, p, id)
			tr := fakeTrailers(t, fs)
			if len(fs) != 1 || tr.Header(":status") != "400" || tr.Header("grpc-status") != "13" {
				t.Fatalf("response %v, want one HEADERS with :status 400, grpc-status 13 and END_STREAM", fs)
			}
		})
		id += 2
	}
}

// TestFakeClientRequestCardinality: a unary or server-streaming call must
// get exactly one request message; otherwise it ends with UNIMPLEMENTED.
func TestFakeClientRequestCardinality(t *testing.T) {
	p := fakeServe(t, fakeServer(nil))
	one := fakeMessage(t, &pb.ExampleRequest{Value: "x", ResponseCount: 1})
	id := uint32(1)
	for _, path := range []string{testserver.Unary, testserver.ServerStream} {
		for _, tc := range []struct {
			name string
			send func(id uint32)
		}{
			{"HEADERS with END_STREAM", func(id uint32) {
				p.WriteHeaders(id, true, h2test.RequestFields(path))
			}},
			{"empty DATA with END_STREAM", func(id uint32) {
				p.WriteHeaders(id, false, h2test.RequestFields(path))
				p.WriteData(id, true, nil)
			}},
			{"two messages", func(id uint32) {
				p.WriteHeaders(id, false, h2test.RequestFields(path))
				p.WriteData(id, true, append(append([]byte{}, one...), one...))
			}},
			{"two messages in two frames", func(id uint32) {
				p.WriteHeaders(id, false, h2test.RequestFields(path))
				p.WriteData(id, false, one)
				p.WriteData(id, true, one)
			}},
		} {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				tc.send(id)
				tr := fakeTrailers(t, fakeResponse(t, p, id))
				if got := tr.Header("grpc-status"); got != "12" {
					t.Fatalf("trailers %v: grpc-status %q, want 12 (UNIMPLEMENTED)", tr, got)
				}
			})
			id += 2
		}
	}
}

// TestFakeClientMessageSizeLimits: messages over the server's receive or
// send limit end the call with RESOURCE_EXHAUSTED.
func TestFakeClientMessageSizeLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  server.Option
		req  *pb.ExampleRequest
	}{
		{"MaxRecvMsgSize(100), 200-byte request", server.MaxRecvMsgSize(100),
			&pb.ExampleRequest{Blob: make([]byte, 200)}},
		{"MaxSendMsgSize(10), 100-byte reply", server.MaxSendMsgSize(10),
			&pb.ExampleRequest{Blob: make([]byte, 100)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := fakeServe(t, fakeServer(nil, tc.opt))
			p.WriteHeaders(1, false, h2test.RequestFields(testserver.Unary))
			p.WriteData(1, true, fakeMessage(t, tc.req))
			tr := fakeTrailers(t, fakeResponse(t, p, 1))
			if got := tr.Header("grpc-status"); got != "8" {
				t.Fatalf("trailers %v: grpc-status %q, want 8 (RESOURCE_EXHAUSTED)", tr, got)
			}
		})
	}
}

// TestFakeClientServerDeadline: a handler that ignores its context does
// not hold the call past its deadline: the server ends it with
// DEADLINE_EXCEEDED. If the client has not ended its side, RST_STREAM
// (CANCEL) follows the trailers; if it has, the stream is closed with the
// trailers and nothing may follow them (RFC 9113 §5.1).
func TestFakeClientServerDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := fakeServer(func(context.Context, *pb.ExampleRequest) (*pb.ExampleReply, error) {
		<-release // ignores its context
		return &pb.ExampleReply{}, nil
	})
	server.RegisterClientStream(srv, "/fake.Deadline/ClientStream", func(grpc.ClientStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
		<-release // ignores its context
		return nil
	})
	p := fakeServe(t, srv)
	t.Cleanup(func() { close(release) }) // before the server stops
	req := fakeMessage(t, &pb.ExampleRequest{Value: "x"})
	timeout := hf("grpc-timeout", "100m")

	t.Run("request ended", func(t *testing.T) {
		p.WriteHeaders(1, false, h2test.RequestFields(testserver.Unary, timeout))
		p.WriteData(1, true, req)
		tr := fakeTrailers(t, fakeResponse(t, p, 1))
		if got := tr.Header("grpc-status"); got != "4" {
			t.Fatalf("trailers %v: grpc-status %q, want 4 (DEADLINE_EXCEEDED)", tr, got)
		}
		// A PING's ACK comes after anything the server wrote on the
		// stream right after the trailers.
		p.WritePing(false, [8]byte{'d', 'e', 'a', 'd', 'l', 'i', 'n', 'e'})
		for {
			f := p.Next()
			if f.StreamID == 1 {
				t.Fatalf("frame after the trailers of a closed stream: %v", f)
			}
			if f.Type == http2.FramePing && f.IsAck() {
				break
			}
		}
	})
	t.Run("request still open", func(t *testing.T) {
		p.WriteHeaders(3, false, h2test.RequestFields("/fake.Deadline/ClientStream", timeout))
		p.WriteData(3, false, req)
		tr := fakeTrailers(t, fakeResponse(t, p, 3))
		if got := tr.Header("grpc-status"); got != "4" {
			t.Fatalf("trailers %v: grpc-status %q, want 4 (DEADLINE_EXCEEDED)", tr, got)
		}
		f := fakeResponse(t, p, 3)[0]
		if f.Type != http2.FrameRSTStream || f.ErrCode != http2.ErrCodeCancel {
			t.Fatalf("after the trailers: %v, want RST_STREAM(CANCEL)", f)
		}
	})
}

// TestFakeClientAcceptEncodingOnIdentity: a server tells an uncompressed
// client what it could decompress, in its response headers or in a
// trailers-only response.
func TestFakeClientAcceptEncodingOnIdentity(t *testing.T) {
	p := fakeServe(t, fakeServer(func(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		if r.Value == "fail" {
			return nil, status.New(status.NotFound, "fails")
		}
		return &pb.ExampleReply{Message: r.Value}, nil
	}))
	for i, tc := range []struct{ name, value string }{
		{"response headers", "ok"},
		{"trailers-only", "fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := uint32(1 + 2*i)
			p.WriteHeaders(id, false, h2test.RequestFields(testserver.Unary))
			p.WriteData(id, true, fakeMessage(t, &pb.ExampleRequest{Value: tc.value}))
			hdr := fakeResponse(t, p, id)[0]
			if hdr.Type != http2.FrameHeaders {
				t.Fatalf("response starts with %v", hdr)
			}
			ae := hdr.Header("grpc-accept-encoding")
			for _, name := range compression.Names() {
				if !compression.Advertises(ae, name) {
					t.Errorf("grpc-accept-encoding %q does not list %s (headers %v)", ae, name, hdr)
				}
			}
		})
	}
}

// TestFakeClientMaxHeaderListSize: the server never sends a header block
// over the client's SETTINGS_MAX_HEADER_LIST_SIZE; a response whose
// headers do not fit is reset with INTERNAL_ERROR, as grpc-go does.
func TestFakeClientMaxHeaderListSize(t *testing.T) {
	const limit = 200
	p := fakeServe(t, fakeServer(func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		if err := server.SetHeader(ctx, metadata.Pairs("x-big", strings.Repeat("v", 1000))); err != nil {
			return nil, err
		}
		return &pb.ExampleReply{Message: r.Value}, nil
	}), http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: limit})
	p.WriteHeaders(1, false, h2test.RequestFields(testserver.Unary))
	p.WriteData(1, true, fakeMessage(t, &pb.ExampleRequest{Value: "x"}))
	fs := fakeResponse(t, p, 1)
	for _, f := range fs {
		if f.Type == http2.FrameHeaders && fakeHeaderListSize(f) > limit {
			t.Errorf("header block of %d bytes over the client's limit of %d: %v", fakeHeaderListSize(f), limit, f)
		}
	}
	if last := fs[len(fs)-1]; last.Type != http2.FrameRSTStream || last.ErrCode != http2.ErrCodeInternal {
		t.Fatalf("response %v, want it to end with RST_STREAM(INTERNAL_ERROR)", fs)
	}
}

// TestFakeClientAllStatusCodes: every code and a message that needs
// percent-encoding reach the trailers intact.
func TestFakeClientAllStatusCodes(t *testing.T) {
	const msg = "msg ünï\tcode\nline"
	p := fakeServe(t, fakeServer(func(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		if r.Multiplier == 0 {
			return &pb.ExampleReply{}, nil
		}
		return nil, status.New(status.Code(r.Multiplier), msg)
	}))
	for code := status.OK; code <= status.Unauthenticated; code++ {
		t.Run(code.String(), func(t *testing.T) {
			id := uint32(1 + 2*code)
			p.WriteHeaders(id, false, h2test.RequestFields(testserver.Unary))
			p.WriteData(id, true, fakeMessage(t, &pb.ExampleRequest{Multiplier: int32(code)}))
			tr := fakeTrailers(t, fakeResponse(t, p, id))
			if got := tr.Header("grpc-status"); got != strconv.Itoa(int(code)) {
				t.Fatalf("trailers %v: grpc-status %q, want %d", tr, got, code)
			}
			if code == status.OK {
				return
			}
			raw := tr.Header("grpc-message")
			if got := status.DecodeMessage(raw); got != msg {
				t.Fatalf("grpc-message %q decodes to %q, want %q", raw, got, msg)
			}
			for i := 0; i < len(raw); i++ {
				if c := raw[i]; c < 0x20 || c > 0x7E {
					t.Fatalf("grpc-message %q has byte %#x outside printable ASCII", raw, c)
				}
			}
		})
	}
}

// TestFakeClientNonGRPCRequests: requests that are not gRPC get plain HTTP
// errors with a text body.
func TestFakeClientNonGRPCRequests(t *testing.T) {
	p := fakeServe(t, fakeServer(nil))
	fields := func(method, contentType string) []hpack.HeaderField {
		return []hpack.HeaderField{
			hf(":method", method), hf(":scheme", "http"), hf(":path", testserver.Unary),
			hf(":authority", "h2test"), hf("content-type", contentType), hf("te", "trailers"),
		}
	}
	req := fakeMessage(t, &pb.ExampleRequest{Value: "x"})
	for i, tc := range []struct {
		name, method, contentType string
		want                      string
	}{
		{"GET", "GET", "application/grpc", "405"},
		{"text/plain", "POST", "text/plain", "415"},
		{"unknown subtype", "POST", "application/grpc+unknownsubtype", "415"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := uint32(1 + 2*i)
			if tc.method == "GET" {
				p.WriteHeaders(id, true, fields(tc.method, tc.contentType))
			} else {
				p.WriteHeaders(id, false, fields(tc.method, tc.contentType))
				p.WriteData(id, true, req)
			}
			fs := fakeResponse(t, p, id)
			hdr := fs[0]
			if hdr.Type != http2.FrameHeaders || hdr.Header(":status") != tc.want {
				t.Fatalf("response %v, want :status %s", fs, tc.want)
			}
			if ct := hdr.Header("content-type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("content-type %q, want text/plain", ct)
			}
			if gs := hdr.Header("grpc-status"); gs != "" {
				t.Errorf("HTTP error carries grpc-status %q", gs)
			}
			var body []byte
			for _, f := range fs[1:] {
				if f.Type == http2.FrameData {
					body = append(body, f.Data...)
				}
			}
			if last := fs[len(fs)-1]; len(body) == 0 || last.Type != http2.FrameData || !last.EndStream() {
				t.Fatalf("response %v, want a text body ending the stream", fs)
			}
			t.Logf("%s: HTTP %s %q", tc.name, tc.want, body)
		})
	}
}
