package client_test

import (
	"google.golang.org/grpc"

	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/server"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

func dial(t *testing.T, addr string, opts ...client.Option) *client.Conn {
	t.Helper()
	c, err := client.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// blockingServer's unary handler waits for release or its context, and
// reports on ended when its context ended.
func blockingServer(t *testing.T, opts ...server.Option) (addr string, release chan struct{}, ended chan error) {
	release = make(chan struct{})
	ended = make(chan error, 16)
	_, addr = testserver.Start(t, testserver.Hooks{Unary: func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		select {
		case <-release:
			return &pb.ExampleReply{Message: r.Value}, nil
		case <-ctx.Done():
			ended <- ctx.Err()
			return nil, ctx.Err()
		}
	}}, opts...)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return addr, release, ended
}

func TestDeadlineExceeded(t *testing.T) {
	addr, _, ended := blockingServer(t)
	c := dial(t, addr)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{})
	if status.CodeOf(err) != status.DeadlineExceeded {
		t.Fatalf("got %v, want DEADLINE_EXCEEDED", err)
	}
	select {
	case err := <-ended:
		if err != context.DeadlineExceeded && err != context.Canceled {
			t.Fatalf("server handler's context ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server handler's context did not end")
	}
}

func TestCancel(t *testing.T) {
	addr, _, ended := blockingServer(t)
	c := dial(t, addr)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	_, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{})
	if status.CodeOf(err) != status.Canceled {
		t.Fatalf("got %v, want CANCELLED", err)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the server handler's context did not end")
	}
	// A context cancelled before the call: nothing is sent.
	_, err = client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{})
	if status.CodeOf(err) != status.Canceled {
		t.Fatalf("call with a cancelled context: %v, want CANCELLED", err)
	}
}

// A client at the server's MAX_CONCURRENT_STREAMS waits for a free slot
// under the call's context.
func TestWaitsForStreamSlot(t *testing.T) {
	addr, release, _ := blockingServer(t, server.MaxConcurrentStreams(1))
	c := dial(t, addr)
	ctx := testserver.Context(t, 10*time.Second)
	first := make(chan error, 1)
	go func() {
		_, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{Value: "first"})
		first <- err
	}()
	time.Sleep(100 * time.Millisecond) // the first call holds the only slot

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err := client.Unary[pb.ExampleReply](short, c, testserver.Unary, &pb.ExampleRequest{Value: "second"})
	if status.CodeOf(err) != status.DeadlineExceeded {
		t.Fatalf("call waiting for a slot: %v, want DEADLINE_EXCEEDED", err)
	}

	third := make(chan error, 1)
	go func() {
		resp, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{Value: "third"})
		if err == nil && resp.Message != "third" {
			err = io.ErrUnexpectedEOF
		}
		third <- err
	}()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first call: %v", err)
	}
	if err := <-third; err != nil {
		t.Fatalf("call that waited for the slot: %v", err)
	}
}

// After the connection is lost, calls fail with UNAVAILABLE; once a server
// is back, a new connection is made.
func TestReconnectsAfterServerRestart(t *testing.T) {
	srv := server.New()
	server.RegisterUnary(srv, testserver.Unary, func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		return &pb.ExampleReply{Message: "one"}, nil
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	go srv.Serve(lis)
	c := dial(t, addr, client.WithBackoff(client.Backoff{BaseDelay: 10 * time.Millisecond, Multiplier: 1.6, MaxDelay: 50 * time.Millisecond}))
	ctx := testserver.Context(t, 10*time.Second)
	if _, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	_, err = client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{})
	if status.CodeOf(err) != status.Unavailable {
		t.Fatalf("call with the server gone: %v, want UNAVAILABLE", err)
	}

	srv2 := server.New()
	server.RegisterUnary(srv2, testserver.Unary, func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		return &pb.ExampleReply{Message: "two"}, nil
	})
	lis2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen on %s again: %v", addr, err)
	}
	go srv2.Serve(lis2)
	defer srv2.Stop()
	// The failed attempt put the Conn in transient failure: a call that
	// waits for ready gets through once the backoff's retry connects.
	resp, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{}, grpc.WaitForReady(true))
	if err != nil || resp.Message != "two" {
		t.Fatalf("call after the restart: %v, %v", resp, err)
	}
}

// A peer that is not gRPC: the HTTP status maps to a gRPC code as the spec
// says (a proxy's 502 is UNAVAILABLE).
func TestHTTPStatusWithoutGRPCStatus(t *testing.T) {
	var code atomic.Int32
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(int(code.Load()))
		io.WriteString(w, "<html>bad gateway</html>")
	}))
	hs.Config.Protocols = new(http.Protocols)
	hs.Config.Protocols.SetUnencryptedHTTP2(true)
	hs.Start()
	defer hs.Close()
	c := dial(t, strings.TrimPrefix(hs.URL, "http://"))
	ctx := testserver.Context(t, 5*time.Second)
	for httpCode, want := range map[int32]status.Code{
		502: status.Unavailable, 404: status.Unimplemented, 401: status.Unauthenticated,
		403: status.PermissionDenied, 400: status.Internal, 429: status.Unavailable, 418: status.Unknown,
	} {
		code.Store(httpCode)
		_, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{})
		if got := status.CodeOf(err); got != want {
			t.Errorf("HTTP %d: %v, want %v", httpCode, err, want)
		}
	}
}

// A server that answers a unary call with two messages, or none, breaks
// the call's cardinality: UNIMPLEMENTED.
func TestUnaryResponseCardinality(t *testing.T) {
	srv := server.New()
	for _, tc := range []struct {
		path string
		n    int
	}{{"/c.S/Zero", 0}, {"/c.S/Two", 2}} {
		server.RegisterServerStream(srv, tc.path, func(r *pb.ExampleRequest, s grpc.ServerStreamingServer[pb.ExampleReply]) error {
			for range tc.n {
				if err := s.Send(&pb.ExampleReply{}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()
	c := dial(t, lis.Addr().String())
	ctx := testserver.Context(t, 5*time.Second)
	for _, path := range []string{"/c.S/Zero", "/c.S/Two"} {
		_, err := client.Unary[pb.ExampleReply](ctx, c, path, &pb.ExampleRequest{})
		if status.CodeOf(err) != status.Unimplemented {
			t.Errorf("%s: %v, want UNIMPLEMENTED", path, err)
		}
	}
}

func TestReservedOutgoingMetadataIsRefused(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	c := dial(t, addr)
	ctx := testserver.Context(t, 5*time.Second)
	for _, kv := range [][2]string{{"grpc-status", "0"}, {"Bad Key", "v"}, {"k", "bad\nvalue"}} {
		mdCtx := metadataContext(ctx, kv[0], kv[1])
		_, err := client.Unary[pb.ExampleReply](mdCtx, c, testserver.Unary, &pb.ExampleRequest{})
		if status.CodeOf(err) != status.Internal {
			t.Errorf("metadata %q=%q: %v, want INTERNAL before sending", kv[0], kv[1], err)
		}
	}
}

// A bidi call whose server sends before it reads: the request headers
// leave when the call starts, so the server sees it (as with grpc-go).
func TestBidiServerSpeaksFirst(t *testing.T) {
	srv := server.New()
	server.RegisterBidiStream(srv, "/x.S/B", func(s grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
		return s.Send(&pb.ExampleReply{Message: "hello"})
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()
	c := dial(t, lis.Addr().String())
	ctx := testserver.Context(t, 5*time.Second)
	call, err := client.BidiStream[pb.ExampleRequest, pb.ExampleReply](ctx, c, "/x.S/B")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := call.Recv(); err != nil || m.Message != "hello" {
		t.Fatalf("Recv = %v, %v; want the server's first message", m, err)
	}
	if _, err := call.Recv(); err != io.EOF {
		t.Fatalf("end = %v, want io.EOF", err)
	}
}

// A request whose header list is over the server's limit fails at once
// with that reason, without waiting for its deadline.
func TestHeaderListOverServerLimitFailsAtOnce(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{}, server.MaxHeaderListSize(1024))
	c := dial(t, addr)
	ctx := testserver.Context(t, 5*time.Second)
	// One call first, so the server's SETTINGS have surely arrived.
	if _, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{}); err != nil {
		t.Fatal(err)
	}
	big := metadataContext(ctx, "big", strings.Repeat("x", 4000))
	start := time.Now()
	_, err := client.Unary[pb.ExampleReply](big, c, testserver.Unary, &pb.ExampleRequest{})
	if status.CodeOf(err) != status.Internal || !strings.Contains(err.Error(), "header list") {
		t.Fatalf("got %v, want INTERNAL about the header list", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v: the call waited instead of failing at once", d)
	}
	// The connection is still fine.
	if _, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{}); err != nil {
		t.Fatalf("call after the refused one: %v", err)
	}
}
