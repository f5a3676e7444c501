package client_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/server"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// A server that stops answering is found out by the keepalive ping: the
// call on it ends with UNAVAILABLE, not at its own deadline.
func TestKeepaliveDetectsDeadServer(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	// Periods long enough that on a loaded machine the request is out
	// before a ping can go unanswered (with 100 ms, it once was not).
	c, p := dialFake(t, dialer, peers, client.WithKeepalive(client.KeepaliveParams{
		Time: 250 * time.Millisecond, Timeout: 250 * time.Millisecond}))
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
	}}, server.KeepaliveEnforcementPolicy(server.EnforcementPolicy{MinTime: 10 * time.Millisecond, PermitWithoutStream: true}))
	c := dial(t, addr, client.WithKeepalive(client.KeepaliveParams{
		Time: 20 * time.Millisecond, Timeout: time.Second, PermitWithoutStream: true}))
	r, err := pb.NewExampleClient(c).UnaryUnary(testserver.Context(t, 10*time.Second), &pb.ExampleRequest{Value: "alive"})
	if err != nil || r.Message != "alive" {
		t.Fatalf("call: %v, %v", r, err)
	}
}

// A server's "too_many_pings" GOAWAY makes the client ping half as often
// on its next connection (gRFC A8).
func TestKeepaliveBacksOffOnTooManyPings(t *testing.T) {
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	const period = 60 * time.Millisecond
	c, p := dialFake(t, dialer, peers, client.WithKeepalive(client.KeepaliveParams{Time: period, Timeout: time.Second}))
	ec := pb.NewExampleClient(c)
	done := make(chan error, 1)
	go func() {
		_, err := ec.UnaryUnary(ctx, &pb.ExampleRequest{})
		done <- err
	}()
	p.Expect(http2.FrameHeaders, 1)
	p.Expect(http2.FrameData, 1)
	for f := p.Next(); f.Type != http2.FramePing; f = p.Next() {
	}
	// GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"), written raw for its
	// debug data, then the server closes.
	debug := "too_many_pings"
	goAway := []byte{0, 0, byte(8 + len(debug)), 0x7, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0xb}
	p.WriteRaw(append(goAway, debug...))
	p.Close()
	if err := <-done; status.CodeOf(err) != status.Unavailable {
		t.Fatalf("call on the refusing server: %v, want UNAVAILABLE", err)
	}

	go func() {
		_, err := ec.UnaryUnary(ctx, &pb.ExampleRequest{})
		done <- err
	}()
	p2 := <-peers
	p2.Handshake()
	start := time.Now()
	for f := p2.Next(); f.Type != http2.FramePing; f = p2.Next() {
	}
	if d := time.Since(start); d < 2*period-10*time.Millisecond {
		t.Errorf("first ping on the next connection after %v, want about %v (twice the period)", d, 2*period)
	}
	p2.Close()
	<-done
}
