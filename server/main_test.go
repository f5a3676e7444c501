package server_test

import (
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/server"
)

func TestMain(m *testing.M) {
	// Keepalive tests ping every few milliseconds rather than seconds.
	server.SetMinKeepaliveTime(10 * time.Millisecond)
	goleak.VerifyTestMain(m)
}

// serveAndDial serves srv on a loopback port and returns an h2grpc client
// connected to it; the test's cleanup closes both.
func serveAndDial(t *testing.T, srv *server.Server) *client.Conn {
	t.Helper()
	cc, err := client.Dial(serveTCP(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// serveTCP serves srv on a loopback port until the test ends and returns
// its address.
func serveTCP(t *testing.T, srv *server.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}
