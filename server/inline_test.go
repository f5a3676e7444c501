package server_test

import (
	"context"
	"io"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// onReader answers unary and server-streaming calls, noting whether each
// handler ran on its connection's reader goroutine.
type onReader struct {
	pb.UnimplementedExampleServer
	got chan bool
}

func ranOnReader() bool {
	buf := make([]byte, 64<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), "connection.(*Conn).readFrames")
}

func (s onReader) UnaryUnary(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	s.got <- ranOnReader()
	return &pb.ExampleReply{Message: r.Value}, nil
}

func (s onReader) UnaryStream(r *pb.ExampleRequest, st grpc.ServerStreamingServer[pb.ExampleReply]) error {
	s.got <- ranOnReader()
	return st.Send(&pb.ExampleReply{Message: r.Value})
}

// TestUnaryRunsOnReader: on Linux over TCP, where a connection's reader may
// run a handler itself (connection.Conn.SetInline), the server has it run
// a unary call that is the only call of its connection, and starts a
// server-streaming call's handler, which may go on for long, on a
// goroutine of its own. Each call is the first of a new connection, so
// that no other call's handler is still finishing.
func TestUnaryRunsOnReader(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("readers run no handlers here")
	}
	svc := onReader{got: make(chan bool, 1)}
	srv := server.New()
	pb.RegisterExampleServer(srv, svc)
	addr := serveTCP(t, srv)
	dial := func() pb.ExampleClient {
		cc, err := client.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return pb.NewExampleClient(cc)
	}

	if _, err := dial().UnaryUnary(t.Context(), &pb.ExampleRequest{Value: "x"}); err != nil {
		t.Fatal(err)
	}
	if !<-svc.got {
		t.Error("the unary handler did not run on the reader")
	}

	st, err := dial().UnaryStream(t.Context(), &pb.ExampleRequest{Value: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := st.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if <-svc.got {
		t.Error("the server-streaming handler ran on the reader")
	}
}
