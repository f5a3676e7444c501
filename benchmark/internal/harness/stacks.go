package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/server"
)

// The stacks, as they appear in flags, runs and JSON. tcp is the loopback
// floor: a raw TCP echo, no gRPC.
const (
	stackH2grpc = "h2grpc"
	stackGrpcgo = "grpcgo"
	stackTCP    = "tcp"
)

// stackLabel is how a stack appears in tables.
func stackLabel(stack string) string {
	switch stack {
	case stackGrpcgo:
		return "grpc-go"
	case stackTCP:
		return "TCP"
	}
	return stack
}

// countingListener counts the connections it has accepted.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// newServer returns stack's server with the TestService and the raw
// service registered: serve runs it on a listener until stop. maxStreams,
// if not 0, raises h2grpc's limit on streams per connection (1000 by
// default; grpc-go's is unlimited).
func newServer(stack string, maxStreams uint32, svc *testService) (serve func(net.Listener) error, stop func(), err error) {
	switch stack {
	case stackH2grpc:
		var opts []server.Option
		if maxStreams > 0 {
			opts = append(opts, server.MaxConcurrentStreams(maxStreams))
		}
		srv := server.New(opts...)
		testpb.RegisterTestServiceServer(srv, svc)
		srv.RegisterService(&rawServiceDesc, struct{}{})
		return srv.Serve, srv.Stop, nil
	case stackGrpcgo:
		srv := grpc.NewServer()
		testpb.RegisterTestServiceServer(srv, svc)
		srv.RegisterService(&rawServiceDesc, struct{}{})
		return srv.Serve, srv.Stop, nil
	case stackTCP:
		var lis atomic.Pointer[net.Listener]
		serve := func(l net.Listener) error {
			lis.Store(&l)
			for {
				c, err := l.Accept()
				if err != nil {
					return err
				}
				go echo(c)
			}
		}
		stop := func() {
			if l := lis.Load(); l != nil {
				(*l).Close()
			}
		}
		return serve, stop, nil
	}
	return nil, nil, fmt.Errorf("unknown stack %q", stack)
}

// echo writes back what it reads until the peer closes: the TCP floor's
// server.
func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// dial connects stack's client to addr and waits until the connection is
// ready.
func dial(ctx context.Context, stack, addr string) (grpc.ClientConnInterface, io.Closer, error) {
	switch stack {
	case stackH2grpc:
		cc, err := client.Dial(addr)
		if err != nil {
			return nil, nil, err
		}
		return cc, cc, nil
	case stackGrpcgo:
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, nil, err
		}
		cc.Connect()
		for s := cc.GetState(); s != connectivity.Ready; s = cc.GetState() {
			if !cc.WaitForStateChange(ctx, s) {
				cc.Close()
				return nil, nil, fmt.Errorf("grpc-go client to %s: %w (last state %v)", addr, ctx.Err(), s)
			}
		}
		return cc, cc, nil
	}
	return nil, nil, fmt.Errorf("no gRPC client for stack %q", stack)
}
