package client_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// echoMD is a server whose unary handler answers with the request metadata
// it saw, as "key=value" lines in the reply, and the :authority.
func echoMD(t *testing.T) string {
	_, addr := testserver.Start(t, testserver.Hooks{Unary: func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		md, _ := grpcmd.FromIncomingContext(ctx)
		out := ""
		for _, k := range []string{":authority", "authorization", "x-extra"} {
			for _, v := range md.Get(k) {
				out += k + "=" + v + "\n"
			}
		}
		return &pb.ExampleReply{Message: out}, nil
	}})
	return addr
}

type tokenCreds struct {
	secure bool
	err    error
	audit  atomic.Value // the uri GetRequestMetadata saw
}

func (c *tokenCreds) GetRequestMetadata(_ context.Context, uri ...string) (map[string]string, error) {
	c.audit.Store(uri[0])
	if c.err != nil {
		return nil, c.err
	}
	return map[string]string{"Authorization": "Bearer t0k", "x-extra": "1"}, nil
}
func (c *tokenCreds) RequireTransportSecurity() bool { return c.secure }

func TestPerRPCCredentials(t *testing.T) {
	addr := echoMD(t)
	ctx := testserver.Context(t, 5*time.Second)
	creds := &tokenCreds{}
	c := dial(t, addr, client.WithPerRPCCredentials(creds))
	resp, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := ":authority=" + addr + "\nauthorization=Bearer t0k\nx-extra=1\n"
	if resp.Message != want {
		t.Errorf("server saw %q, want %q", resp.Message, want)
	}
	if got := creds.audit.Load(); got != "http://"+addr+"/nameko.example" {
		t.Errorf("credentials got the audience %q", got)
	}

	// Credentials that need TLS are refused on h2c, before sending.
	_, err = client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{}, grpc.PerRPCCredentials(&tokenCreds{secure: true}))
	if grpcstatus.Code(err) != codes.Unauthenticated {
		t.Errorf("secure creds on h2c: %v, want UNAUTHENTICATED", err)
	}
	// A failing credential: its status code if it has one, else UNAVAILABLE.
	_, err = client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{}, grpc.PerRPCCredentials(&tokenCreds{err: errors.New("no token")}))
	if grpcstatus.Code(err) != codes.Unavailable {
		t.Errorf("failing creds: %v, want UNAVAILABLE", err)
	}
	_, err = client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{},
		grpc.PerRPCCredentials(&tokenCreds{err: grpcstatus.Error(codes.PermissionDenied, "denied")}))
	if grpcstatus.Code(err) != codes.PermissionDenied {
		t.Errorf("failing creds with a status: %v, want PERMISSION_DENIED", err)
	}
}

func TestCallAuthorityAndPeerAndOnFinish(t *testing.T) {
	addr := echoMD(t)
	ctx := testserver.Context(t, 5*time.Second)
	c := dial(t, addr)
	var p peer.Peer
	var finished []error
	resp, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{},
		grpc.CallAuthority("example.test"), grpc.Peer(&p), grpc.OnFinish(func(err error) { finished = append(finished, err) }))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Message != ":authority=example.test\n" {
		t.Errorf("server saw %q", resp.Message)
	}
	if p.Addr == nil || p.Addr.String() != addr || p.LocalAddr == nil {
		t.Errorf("peer %+v, want the server's address %s", p, addr)
	}
	if len(finished) != 1 || finished[0] != nil {
		t.Errorf("OnFinish saw %v, want one nil", finished)
	}

	finished = nil
	_, err = client.Unary[pb.ExampleReply](ctx, c, "/nameko.example/nope", &pb.ExampleRequest{},
		grpc.OnFinish(func(err error) { finished = append(finished, err) }))
	if len(finished) != 1 || grpcstatus.Code(finished[0]) != codes.Unimplemented || status.CodeOf(err) != status.Unimplemented {
		t.Errorf("OnFinish saw %v for the call's %v", finished, err)
	}
}

// WaitForReady(true) keeps trying to connect, with backoff, until its
// context ends; a call without it fails at once with UNAVAILABLE.
func TestWaitForReady(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	var refusing atomic.Bool
	refused := make(chan struct{}, 16)
	conns := make(chan *closeSignal, 16)
	dialer := func(ctx context.Context, a string) (net.Conn, error) {
		if refusing.Load() {
			select {
			case refused <- struct{}{}:
			default:
			}
			return nil, errors.New("refused for the test")
		}
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			return nil, err
		}
		cs := &closeSignal{Conn: nc, closed: make(chan struct{})}
		conns <- cs
		return cs, nil
	}
	c := dial(t, addr, client.WithContextDialer(dialer))
	ctx := testserver.Context(t, 10*time.Second)

	// Break the connection while dials are refused, and wait until the
	// client has seen it (it closes its side): a call that picked the
	// connection before would fail UNAVAILABLE on its write, wait for
	// ready or not, as in grpc-go.
	refusing.Store(true)
	broken := <-conns
	broken.Conn.Close()
	<-broken.closed
	_, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{})
	if status.CodeOf(err) != status.Unavailable {
		t.Fatalf("call without wait-for-ready: %v, want UNAVAILABLE", err)
	}

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = client.Unary[pb.ExampleReply](short, c, testserver.Unary, &pb.ExampleRequest{}, grpc.WaitForReady(true))
	if status.CodeOf(err) != status.DeadlineExceeded {
		t.Fatalf("wait-for-ready call whose deadline passes: %v, want DEADLINE_EXCEEDED", err)
	}

	for len(refused) > 0 {
		<-refused
	}
	done := make(chan error, 1)
	go func() {
		_, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{}, grpc.WaitForReady(true))
		done <- err
	}()
	<-refused // the call tried, and waits
	refusing.Store(false)
	if err := <-done; err != nil {
		t.Fatalf("wait-for-ready call: %v, want success once the server is reachable", err)
	}
}

// closeSignal is a connection that says when its owner closed it.
type closeSignal struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeSignal) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
