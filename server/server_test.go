package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/method"
	"github.com/h2grpc/h2grpc/server"
	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

func dial(t *testing.T, addr string) *client.Conn {
	t.Helper()
	c, err := client.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// h2c is a plain HTTP/2 client (prior knowledge, no TLS), for requests
// that are not gRPC.
func h2c(t *testing.T) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestNonGRPCRequestsGetHTTPErrors(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	hc := h2c(t)
	for _, tc := range []struct {
		name, method, contentType string
		want                      int
	}{
		{"GET", "GET", "application/grpc", 405},
		{"text content-type", "POST", "text/plain", 415},
		{"unknown codec", "POST", "application/grpc+json", 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://"+addr+testserver.Unary, strings.NewReader(""))
			req.Header.Set("Content-Type", tc.contentType)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want || len(body) == 0 {
				t.Fatalf("got HTTP %d with body %q, want %d with a text body", resp.StatusCode, body, tc.want)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("content-type %q, want text/plain", ct)
			}
		})
	}
}

func TestUnknownServiceAndMethod(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	c := dial(t, addr)
	ctx := testserver.Context(t, 5*time.Second)
	for path, want := range map[string]string{
		"/nameko.example/nope": "unknown method nope for service nameko.example",
		"/other.Service/M":     "unknown service other.Service",
	} {
		_, err := client.Unary[pb.ExampleReply](ctx, c, path, &pb.ExampleRequest{})
		st := status.Convert(err)
		if st.Code() != status.Unimplemented || st.Message() != want {
			t.Errorf("%s: %v, want UNIMPLEMENTED %q", path, err, want)
		}
	}
}

func TestHandlerPanicBecomesInternal(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{Unary: func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		if r.Value == "panic" {
			panic("boom")
		}
		return &pb.ExampleReply{Message: r.Value}, nil
	}})
	c := dial(t, addr)
	ctx := testserver.Context(t, 5*time.Second)
	_, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{Value: "panic"})
	if st := status.Convert(err); st.Code() != status.Internal || !strings.Contains(st.Message(), "boom") {
		t.Fatalf("got %v, want INTERNAL mentioning the panic", err)
	}
	resp, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{Value: "fine"})
	if err != nil || resp.Message != "fine" {
		t.Fatalf("call after the panic: %v, %v", resp, err)
	}
}

func TestMetadataBothWays(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{Unary: testserver.EchoMetadata})
	c := dial(t, addr)
	ctx := metadata.AppendToOutgoingContext(testserver.Context(t, 5*time.Second),
		"echo-a", "1", "echo-a", "2", "echo-bin", "\x00\xff\n binary")
	var header, trailer metadata.MD
	_, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{},
		client.Header(&header), client.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if got := header.Get("echo-a"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Errorf("header echo-a = %q, want [1 2] in order", got)
	}
	if got := header.Get("echo-bin"); len(got) != 1 || got[0] != "\x00\xff\n binary" {
		t.Errorf("header echo-bin = %q, want the bytes sent", got)
	}
	if got := trailer.Get("trailer-key"); len(got) != 2 || got[0] != "t1" || got[1] != "t2" {
		t.Errorf("trailer = %q, want [t1 t2]", got)
	}
}

// rawStream opens a stream whose request header the test writes itself,
// bypassing the client's own rules (a grpc-timeout without a local
// deadline, a malformed one).
func rawStream(t *testing.T, addr string, h stream.Header) *connection.Stream {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := connection.NewClientConn(nc, connection.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	st, err := cc.NewStream(testserver.Context(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	h.Method, h.Scheme, h.Authority, h.TE = "POST", "http", addr, "trailers"
	if h.ContentType == "" {
		h.ContentType = "application/grpc"
	}
	*st.Send.Header() = h
	return st
}

func encode(t *testing.T, m any) []byte {
	b, err := method.Proto.Marshal(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// trailerStatus waits for the end of st and returns its status.
func trailerStatus(t *testing.T, st *connection.Stream) (*stream.Header, *status.Error) {
	t.Helper()
	for {
		m, err := st.Recv.Recv()
		if err == nil {
			m.Release()
			continue
		}
		tr := st.Recv.Trailer()
		if tr == nil {
			t.Fatalf("stream ended without trailers: %v", err)
		}
		return tr, status.Parse(tr.GRPCStatus, tr.GRPCMessage, tr.GRPCDetails)
	}
}

// The server enforces the request's deadline even when the handler
// ignores its context.
func TestServerEnforcesDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	_, addr := testserver.Start(t, testserver.Hooks{Unary: func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		<-release // ignores ctx
		return &pb.ExampleReply{}, nil
	}})
	st := rawStream(t, addr, stream.Header{Path: testserver.Unary, Timeout: "100m"})
	start := time.Now()
	if err := st.Send.SendLast(encode(t, &pb.ExampleRequest{}), false, nil); err != nil {
		t.Fatal(err)
	}
	_, s := trailerStatus(t, st)
	if s.Code() != status.DeadlineExceeded {
		t.Fatalf("status %v, want DEADLINE_EXCEEDED", s)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("ended after %v, before the 100ms deadline", d)
	}
}

func TestMalformedTimeoutIsHTTP400Internal(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	st := rawStream(t, addr, stream.Header{Path: testserver.Unary, Timeout: "12x"})
	if err := st.Send.SendLast(encode(t, &pb.ExampleRequest{}), false, nil); err != nil {
		t.Fatal(err)
	}
	tr, s := trailerStatus(t, st)
	if tr.Status != 400 || s.Code() != status.Internal {
		t.Fatalf("got :status %d and %v, want 400 and INTERNAL", tr.Status, s)
	}
}

// Cardinality: a unary request with zero or two messages ends with
// UNIMPLEMENTED, as the conformance suite expects.
func TestUnaryRequestCardinality(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	for _, n := range []int{0, 2} {
		st := rawStream(t, addr, stream.Header{Path: testserver.Unary})
		msg := encode(t, &pb.ExampleRequest{Value: "x"})
		for range n {
			if err := st.Send.Send(msg, false); err != nil {
				t.Fatal(err)
			}
		}
		st.Send.Close(nil)
		if _, s := trailerStatus(t, st); s.Code() != status.Unimplemented {
			t.Errorf("%d request messages: %v, want UNIMPLEMENTED", n, s)
		}
	}
}

func TestCompressedRequestWithoutEncodingIsInternal(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	st := rawStream(t, addr, stream.Header{Path: testserver.Unary})
	if err := st.Send.SendLast(encode(t, &pb.ExampleRequest{}), true, nil); err != nil {
		t.Fatal(err)
	}
	if _, s := trailerStatus(t, st); s.Code() != status.Internal {
		t.Fatalf("got %v, want INTERNAL", s)
	}
}

func TestUnsupportedEncodingIsUnimplemented(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	st := rawStream(t, addr, stream.Header{Path: testserver.Unary, Encoding: "br"})
	if err := st.Send.SendLast(encode(t, &pb.ExampleRequest{}), true, nil); err != nil {
		t.Fatal(err)
	}
	tr, s := trailerStatus(t, st)
	if s.Code() != status.Unimplemented || tr.AcceptEncoding == "" {
		t.Fatalf("got %v with grpc-accept-encoding %q, want UNIMPLEMENTED and the supported list", s, tr.AcceptEncoding)
	}
}

// Shutdown lets a call in progress finish and refuses new connections.
func TestShutdownLetsCallsFinish(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	srv, addr := testserver.Start(t, testserver.Hooks{Unary: func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		close(started)
		<-release
		return &pb.ExampleReply{Message: "finished"}, nil
	}})
	c := dial(t, addr)
	ctx := testserver.Context(t, 10*time.Second)
	result := make(chan error, 1)
	go func() {
		resp, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{})
		if err == nil && resp.Message != "finished" {
			err = io.ErrUnexpectedEOF
		}
		result <- err
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	time.Sleep(50 * time.Millisecond) // let the GOAWAYs go out
	if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		nc.Close()
		t.Error("the listener still accepts connections during Shutdown")
	}
	close(release)
	if err := <-result; err != nil {
		t.Fatalf("call in progress during Shutdown: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// Handle refuses a malformed path and a duplicate registration.
func TestHandleRejectsBadRegistrations(t *testing.T) {
	srv := server.New()
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	d, _ := method.FromPath("/a.B/C", method.Unary)
	srv.Handle(d, func(*server.Call) error { return nil })
	mustPanic("duplicate", func() { srv.Handle(d, func(*server.Call) error { return nil }) })
	mustPanic("bad path", func() { srv.Handle(method.Desc{Path: "nope"}, func(*server.Call) error { return nil }) })
}
