package server_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// TestIdleConnsHoldNoGoroutine: the server's idle connections, their
// clients silent after the handshake, end up with no goroutine of their
// own (their readers park), and are still served: a call on each goes
// through, and Stop ends them all.
func TestIdleConnsHoldNoGoroutine(t *testing.T) {
	srv := server.New()
	pb.RegisterExampleServer(srv, idleEcho{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()

	var hello bytes.Buffer
	hello.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&hello, nil)
	fr.WriteSettings()
	fr.WriteSettingsAck()
	const n = 20
	for range n {
		nc, err := net.Dial("tcp", lis.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := nc.Write(hello.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	var ccs []*client.Conn
	for range 3 {
		cc, err := client.Dial(lis.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		call(t, cc)
		ccs = append(ccs, cc)
	}
	// Parking takes one or two idle graces (50 ms): wait for it, up to
	// the test's deadline.
	for readers := -1; readers != 0; readers = connReaders() {
		select {
		case <-t.Context().Done():
			t.Fatalf("%d connection readers still waiting", readers)
		case <-time.After(10 * time.Millisecond):
		}
	}
	for _, cc := range ccs {
		call(t, cc) // wakes a parked reader
	}
}

type idleEcho struct{ pb.UnimplementedExampleServer }

func (idleEcho) UnaryUnary(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	return &pb.ExampleReply{Message: r.Value}, nil
}

func call(t *testing.T, cc *client.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r, err := pb.NewExampleClient(cc).UnaryUnary(ctx, &pb.ExampleRequest{Value: "x"})
	if err != nil || r.Message != "x" {
		t.Fatalf("call: %v, %v", r, err)
	}
}

// connReaders counts the goroutines running a server connection's reader.
func connReaders() int {
	readers := 0
	for _, g := range goroutineStacks() {
		if strings.Contains(g, "connection.(*Conn).readLoop") &&
			(strings.Contains(g, "server.(*Server).runConn") || strings.Contains(g, "connection.(*Conn).unpark")) {
			readers++
		}
	}
	return readers
}
