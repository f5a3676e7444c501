package client_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// A server that stops answering is found out by the keepalive ping: the
// call on it ends with UNAVAILABLE, not at its own deadline.
func TestKeepaliveDetectsDeadServer(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers, client.WithKeepalive(client.KeepaliveParams{
		Time: 100 * time.Millisecond, Timeout: 100 * time.Millisecond}))
	done := make(chan error, 1)
	go func() {
		_, err := pb.NewExampleClient(c).UnaryUnary(ctx, &pb.ExampleRequest{})
		done <- err
	}()
	p.Expect(http2.FrameHeaders, 1)
	p.Expect(http2.FrameData, 1)
	// The server goes silent: it reads, it never answers.
	err := <-done
	if status.CodeOf(err) != status.Unavailable || !strings.Contains(err.Error(), "keepalive") {
		t.Fatalf("call on a silent server: %v, want UNAVAILABLE about keepalive", err)
	}
	sawPing := false
	for _, f := range p.WaitClosed() {
		sawPing = sawPing || (f.Type == http2.FramePing && !f.IsAck())
	}
	if !sawPing {
		t.Error("no PING reached the server")
	}
}

// Without PermitWithoutStream an idle connection is not pinged.
func TestKeepaliveIdleNotPinged(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	_, p := dialFake(t, dialer, peers, client.WithKeepalive(client.KeepaliveParams{
		Time: 50 * time.Millisecond, Timeout: 50 * time.Millisecond}))
	time.Sleep(300 * time.Millisecond)
	for _, f := range p.Received() {
		if f.Type == http2.FramePing {
			t.Fatalf("idle connection pinged: %v", f)
		}
	}
}

// A live server answers the pings: a call longer than many keepalive
// periods completes.
func TestKeepaliveLiveServer(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{Unary: func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		time.Sleep(400 * time.Millisecond)
		return &pb.ExampleReply{Message: r.Value}, nil
	}})
	c := dial(t, addr, client.WithKeepalive(client.KeepaliveParams{
		Time: 20 * time.Millisecond, Timeout: time.Second, PermitWithoutStream: true}))
	r, err := pb.NewExampleClient(c).UnaryUnary(testserver.Context(t, 10*time.Second), &pb.ExampleRequest{Value: "alive"})
	if err != nil || r.Message != "alive" {
		t.Fatalf("call: %v, %v", r, err)
	}
}
