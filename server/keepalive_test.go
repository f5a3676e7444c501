package server_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/internal/h2test"
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
