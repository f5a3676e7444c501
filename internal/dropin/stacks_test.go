package dropin_test

import (
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/server"
)

// This is the only file that names h2grpc: what moving a program from
// grpc-go to h2grpc changes, one line on each side. Everything else in the
// package is written against grpc-go's API alone.

// serverStack is one server implementation.
type serverStack struct {
	name string
	// serve makes a server, lets register register on it, and serves lis in
	// the background. stop stops the server at once and returns when Serve
	// has returned.
	serve func(t *testing.T, lis net.Listener, register func(grpc.ServiceRegistrar)) (stop func())
}

// clientStack is one client implementation.
type clientStack struct {
	name string
	// userAgent is how the user-agent the stack sends by default begins;
	// the rest (the version) is the stack's business.
	userAgent string
	// dial returns a connection to addr, closed when the test ends.
	dial func(t *testing.T, addr string) grpc.ClientConnInterface
}

var (
	grpcServer = serverStack{"grpc-go-server", func(t *testing.T, lis net.Listener, register func(grpc.ServiceRegistrar)) func() {
		srv := grpc.NewServer() // ← the line that changes
		register(srv)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(lis) }()
		return func() {
			srv.Stop()
			if err := <-done; err != nil {
				t.Errorf("grpc-go Serve: %v", err)
			}
		}
	}}

	ourServer = serverStack{"h2grpc-server", func(t *testing.T, lis net.Listener, register func(grpc.ServiceRegistrar)) func() {
		srv := server.New() // ← the line that changed
		register(srv)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(lis) }()
		return func() {
			srv.Stop()
			if err := <-done; err != server.ErrServerStopped {
				t.Errorf("h2grpc Serve returned %v, want ErrServerStopped", err)
			}
		}
	}}

	grpcClient = clientStack{"grpc-go-client", "grpc-go/", func(t *testing.T, addr string) grpc.ClientConnInterface {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials())) // ← the line that changes
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}}

	ourClient = clientStack{"h2grpc-client", "h2grpc-go/", func(t *testing.T, addr string) grpc.ClientConnInterface {
		cc, err := client.Dial(addr) // ← the line that changed
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}}
)

// pairing is one cell of the matrix.
type pairing struct {
	server serverStack
	client clientStack
}

func (p pairing) name() string { return p.client.name + "/" + p.server.name }

// pairings is the matrix; grpc-go on both sides, the reference, comes
// first.
var pairings = []pairing{
	{grpcServer, grpcClient},
	{ourServer, grpcClient},
	{grpcServer, ourClient},
	{ourServer, ourClient},
}

// env is one pairing running: a fresh server of the test service and a
// client connected to it.
type env struct {
	pairing
	addr string // the server's address, which is also the client's target
	svc  *testService
	tc   testpb.TestServiceClient
	lis  *countingListener
}

// start serves a fresh test service on p's server and connects p's client
// to it, both until the test ends.
func start(t *testing.T, p pairing) *env {
	t.Helper()
	lis := &countingListener{Listener: listen(t, "127.0.0.1:0")}
	svc := newTestService()
	t.Cleanup(p.server.serve(t, lis, func(r grpc.ServiceRegistrar) { testpb.RegisterTestServiceServer(r, svc) }))
	addr := lis.Addr().String()
	cc := p.client.dial(t, addr) // cleanups run last first: the client closes before the server stops
	return &env{pairing: p, addr: addr, svc: svc, tc: testpb.NewTestServiceClient(cc), lis: lis}
}

// matrix runs fn on every pairing, each with a fresh server and client.
func matrix(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, p := range pairings {
		t.Run(p.name(), func(t *testing.T) { fn(t, start(t, p)) })
	}
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// countingListener counts the bytes the server reads and writes on the
// connections it accepts, so a test can see what went over the wire
// (compression) without a proxy.
type countingListener struct {
	net.Listener
	read, written atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.l.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.l.written.Add(int64(n))
	return n, err
}
