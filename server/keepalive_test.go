package server_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// blockedServer's unary handler waits for its context: a call that stays
// open without the server writing anything.
func blockedServer(opts ...server.Option) *server.Server {
	srv := server.New(opts...)
	server.RegisterUnary(srv, "/nameko.example/unary_unary", func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	return srv
}

// pingUntil sends PINGs 5 ms apart until the server ends the connection
// or n were sent, and returns the GOAWAY the server sent, if any.
func pingUntil(t *testing.T, p *h2test.Peer, n int) *h2test.Frame {
	t.Helper()
	for i := range n {
		p.WritePing(false, [8]byte{byte(i)})
		time.Sleep(5 * time.Millisecond)
		for _, f := range p.Received() {
			if f.Type == http2.FrameGoAway {
				return &f
			}
		}
	}
	return nil
}

// The default enforcement policy (gRFC A8): pings much sooner than 5
// minutes apart while the server sends nothing earn strikes; the third
// ends the connection with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings").
func TestKeepaliveEnforcementTooManyPings(t *testing.T) {
	p := fakeServe(t, blockedServer())
	p.WriteHeaders(1, false, h2test.RequestFields("/nameko.example/unary_unary"))
	g := pingUntil(t, p, 10)
	if g == nil {
		t.Fatal("10 pings 5 ms apart on an open call: no GOAWAY")
	}
	if g.ErrCode != http2.ErrCodeEnhanceYourCalm || string(g.Data) != "too_many_pings" {
		t.Fatalf("GOAWAY %v %q, want ENHANCE_YOUR_CALM \"too_many_pings\"", g.ErrCode, g.Data)
	}
}

// A permissive policy, or none, never refuses a ping.
func TestKeepaliveEnforcementAllows(t *testing.T) {
	t.Run("permissive policy", func(t *testing.T) {
		p := fakeServe(t, blockedServer(server.KeepaliveEnforcementPolicy(server.EnforcementPolicy{MinTime: time.Millisecond})))
		p.WriteHeaders(1, false, h2test.RequestFields("/nameko.example/unary_unary"))
		if g := pingUntil(t, p, 10); g != nil {
			t.Fatalf("GOAWAY %v %q under a 1 ms policy", g.ErrCode, g.Data)
		}
	})
	t.Run("no policy", func(t *testing.T) {
		p := fakeServe(t, blockedServer(server.KeepaliveEnforcementPolicy(server.EnforcementPolicy{})))
		if g := pingUntil(t, p, 10); g != nil {
			t.Fatalf("GOAWAY %v %q with enforcement off", g.ErrCode, g.Data)
		}
	})
}

// Without PermitWithoutStream, pings on a connection with no call are
// refused unless two hours apart, whatever MinTime says; with it, MinTime
// applies to them too.
func TestKeepaliveEnforcementWithoutStreams(t *testing.T) {
	p := fakeServe(t, blockedServer(server.KeepaliveEnforcementPolicy(server.EnforcementPolicy{MinTime: time.Millisecond})))
	g := pingUntil(t, p, 10)
	if g == nil || string(g.Data) != "too_many_pings" {
		t.Fatalf("pings without streams: GOAWAY %v, want too_many_pings", g)
	}
	p2 := fakeServe(t, blockedServer(server.KeepaliveEnforcementPolicy(server.EnforcementPolicy{MinTime: time.Millisecond, PermitWithoutStream: true})))
	if g := pingUntil(t, p2, 10); g != nil {
		t.Fatalf("GOAWAY %v %q although PermitWithoutStream", g.ErrCode, g.Data)
	}
}

// nextOf skips frames until one of type typ arrives.
func nextOf(p *h2test.Peer, typ http2.FrameType) h2test.Frame {
	for {
		if f := p.Next(); f.Type == typ {
			return f
		}
	}
}

// A client silent for Time gets a PING; one that ACKs it keeps the
// connection, one that does not loses it after Timeout (gRFC A8).
func TestServerKeepalivePings(t *testing.T) {
	params := server.KeepaliveParams(server.KeepaliveParameters{Time: 50 * time.Millisecond, Timeout: 100 * time.Millisecond})
	t.Run("acknowledged", func(t *testing.T) {
		p := fakeServe(t, blockedServer(params))
		start := time.Now()
		for range 3 {
			f := nextOf(p, http2.FramePing)
			if f.IsAck() {
				t.Fatalf("unexpected PING ACK %v", f)
			}
			p.WritePing(true, f.Ping)
		}
		if took := time.Since(start); took < 100*time.Millisecond {
			t.Errorf("3 pings in %v, want them Time (50ms) apart", took)
		}
	})
	t.Run("unanswered", func(t *testing.T) {
		p := fakeServe(t, blockedServer(params))
		p.WriteHeaders(1, false, h2test.RequestFields("/nameko.example/unary_unary"))
		nextOf(p, http2.FramePing)
		start := time.Now()
		p.WaitClosed()
		if took := time.Since(start); took < 50*time.Millisecond {
			t.Errorf("closed %v after the PING, want about Timeout (100ms)", took)
		}
	})
	t.Run("busy client", func(t *testing.T) {
		// Frames from the client count as liveness: no PING while it
		// sends something more often than Time.
		p := fakeServe(t, blockedServer(params))
		for i := range 20 {
			p.WriteWindowUpdate(0, 1)
			time.Sleep(10 * time.Millisecond)
			for _, f := range p.Received() {
				if f.Type == http2.FramePing && !f.IsAck() {
					t.Fatalf("PING after %d window updates 10ms apart, with Time 50ms", i)
				}
			}
		}
	})
}

// MaxConnectionIdle: a connection without calls for that long gets the
// graceful GOAWAY pair with "max_idle" and closes; an open call holds it
// off (gRFC A9).
func TestServerMaxConnectionIdle(t *testing.T) {
	idle := server.KeepaliveParams(server.KeepaliveParameters{MaxConnectionIdle: 100 * time.Millisecond})
	t.Run("idle", func(t *testing.T) {
		p := fakeServe(t, blockedServer(idle))
		start := time.Now()
		g := nextOf(p, http2.FrameGoAway)
		if g.ErrCode != http2.ErrCodeNo || string(g.Data) != "max_idle" || g.LastStreamID != 1<<31-1 {
			t.Fatalf("GOAWAY %v, want NO_ERROR max_idle with last id 2^31-1", g)
		}
		if took := time.Since(start); took < 80*time.Millisecond {
			t.Errorf("GOAWAY after %v, want MaxConnectionIdle (100ms)", took)
		}
		ping := nextOf(p, http2.FramePing)
		p.WritePing(true, ping.Ping)
		g = nextOf(p, http2.FrameGoAway)
		if g.LastStreamID != 0 || string(g.Data) != "max_idle" {
			t.Fatalf("second GOAWAY %v, want last id 0, max_idle", g)
		}
		p.WaitClosed()
	})
	t.Run("open call", func(t *testing.T) {
		p := fakeServe(t, blockedServer(idle))
		p.WriteHeaders(1, false, h2test.RequestFields("/nameko.example/unary_unary"))
		time.Sleep(300 * time.Millisecond)
		for _, f := range p.Received() {
			if f.Type == http2.FrameGoAway {
				t.Fatalf("GOAWAY %v with a call open", f)
			}
		}
		p.WriteRSTStream(1, http2.ErrCodeCancel)
		start := time.Now()
		g := nextOf(p, http2.FrameGoAway)
		if string(g.Data) != "max_idle" {
			t.Fatalf("GOAWAY %v, want max_idle", g)
		}
		if took := time.Since(start); took < 80*time.Millisecond {
			t.Errorf("GOAWAY %v after the call ended, want MaxConnectionIdle (100ms)", took)
		}
	})
}

// MaxConnectionAge and its grace: GOAWAY "max_age" at the age (±10%), a
// call that ends within the grace completes, and when the grace ends the
// connection closes under the calls left (their handlers are cancelled).
func TestServerMaxConnectionAge(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int64
	srv := blockingServer(release, &started, server.KeepaliveParams(server.KeepaliveParameters{
		MaxConnectionAge: 200 * time.Millisecond, MaxConnectionAgeGrace: 300 * time.Millisecond,
	}))
	p := fakeServe(t, srv)
	t.Cleanup(func() { close(release) }) // before srv.Stop, which waits for the handler
	start := time.Now()
	p.WriteHeaders(1, false, h2test.RequestFields(testserver.ClientStream)) // finishes in the grace
	p.WriteHeaders(3, false, h2test.RequestFields("/attack.Block/Wait"))    // never finishes
	g := nextOf(p, http2.FrameGoAway)
	if took := time.Since(start); took < 150*time.Millisecond || string(g.Data) != "max_age" || g.ErrCode != http2.ErrCodeNo {
		t.Fatalf("GOAWAY %v after %v, want NO_ERROR max_age after about 200ms", g, took)
	}
	ping := nextOf(p, http2.FramePing)
	p.WritePing(true, ping.Ping)
	if g := nextOf(p, http2.FrameGoAway); g.LastStreamID != 3 {
		t.Fatalf("second GOAWAY %v, want last id 3", g)
	}
	p.WriteData(1, true, fakeMessage(t, &pb.ExampleRequest{Value: "x"}))
	if tr := fakeTrailers(t, fakeResponse(t, p, 1)); tr.Header("grpc-status") != "0" {
		t.Fatalf("call finished in the grace: trailers %v, want grpc-status 0", tr)
	}
	// When the grace ends the connection closes, as grpc-go's does: the
	// client sees UNAVAILABLE, which it may retry elsewhere.
	for _, f := range p.WaitClosed() {
		if f.StreamID == 3 && f.Header("grpc-status") == "0" {
			t.Fatalf("call past the grace ended with %v, want no OK status", f)
		}
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("connection closed %v after the start, want after age + grace (~500ms)", took)
	}
}

// Clients of both stacks ride over MaxConnectionIdle and MaxConnectionAge:
// calls made while connections are drained and replaced all succeed, on
// more than one connection.
func TestServerConnectionAgeClients(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{}, server.KeepaliveParams(server.KeepaliveParameters{
		MaxConnectionIdle: 30 * time.Millisecond, MaxConnectionAge: 100 * time.Millisecond, MaxConnectionAgeGrace: time.Second,
	}))
	var dials atomic.Int64
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	h2, err := client.Dial(addr, client.WithContextDialer(dialer))
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	gg, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(dialer))
	if err != nil {
		t.Fatal(err)
	}
	defer gg.Close()
	for _, cc := range []struct {
		name string
		conn grpc.ClientConnInterface
	}{{"h2grpc", h2}, {"grpc-go", gg}} {
		t.Run(cc.name, func(t *testing.T) {
			before := dials.Load()
			ec := pb.NewExampleClient(cc.conn)
			deadline := time.Now().Add(500 * time.Millisecond)
			for i := 0; time.Now().Before(deadline); i++ {
				ctx := testserver.Context(t, 5*time.Second)
				if _, err := ec.UnaryUnary(ctx, &pb.ExampleRequest{Value: "x"}); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if i%3 == 0 {
					time.Sleep(40 * time.Millisecond) // past MaxConnectionIdle
				}
			}
			if n := dials.Load() - before; n < 2 {
				t.Errorf("%d connections over 500ms with a 100ms MaxConnectionAge, want several", n)
			}
		})
	}
}
