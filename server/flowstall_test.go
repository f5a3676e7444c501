package server_test

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// stallStreams is twice as many unread streams as spend a whole
// connection window when each holds a stream window of data unread (16 by
// default): whatever credit a receiver returns early for a message it
// assembles, the window is spent.
const stallStreams = 2 * connection.DefaultConnWindow / connection.DefaultStreamWindow

// TestUnreadStreamsDoNotStallConnection: streams whose receiver has not
// read yet must not stop the other calls on their connection. Found while
// writing the soak, whose barrier holds handlers before they read: the
// soak holds its client streams back too until the barrier opens
// (runSoakCall), else with more or larger messages it would hang here.
//
// It fails today, both ways. Each unread stream holds up to its stream
// window (1 MiB) unread, and the receiver returns connection credit only
// as the application reads (connection.Stream.Consumed), so 16 such
// streams spend the connection window (16 MiB) and every other call on
// the connection stalls, a 1 KiB unary call included, until something is
// read. The README's Hardening says a peer that stops reading "stalls its
// own stream after one window". grpc-go returns connection credit on
// receipt (only stream windows push back): the same calls from h2grpc's
// client against grpc-go's server get the unary call through in ~2 ms.
func TestUnreadStreamsDoNotStallConnection(t *testing.T) {
	t.Run("server handlers not reading", func(t *testing.T) {
		release := make(chan struct{})
		var releaseOnce sync.Once
		open := func() { releaseOnce.Do(func() { close(release) }) }
		defer open()
		srv := server.New()
		server.RegisterUnary(srv, testserver.Unary, func(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
			return &pb.ExampleReply{Message: r.Value}, nil
		})
		var arrived sync.WaitGroup
		arrived.Add(stallStreams)
		server.RegisterClientStream(srv, testserver.ClientStream, func(s grpc.ClientStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
			arrived.Done()
			select { // a slow handler: it reads once released
			case <-release:
			case <-s.Context().Done():
				return s.Context().Err()
			}
			for {
				if _, err := s.Recv(); err == io.EOF {
					return s.SendAndClose(&pb.ExampleReply{})
				} else if err != nil {
					return err
				}
			}
		})
		addr, _ := soakServeServer(t, srv)
		cc := dial(t, addr)
		ctx := testserver.Context(t, 30*time.Second)

		var wg sync.WaitGroup
		defer wg.Wait()
		defer open()
		var sent atomic.Int64
		for range stallStreams {
			wg.Go(func() {
				s, err := client.ClientStream[pb.ExampleRequest, pb.ExampleReply](ctx, cc, testserver.ClientStream)
				if err != nil {
					t.Errorf("open: %v", err)
					return
				}
				// 2 MiB in 64 KiB messages: more than a stream window.
				for range 32 {
					if err := s.Send(&pb.ExampleRequest{Blob: make([]byte, 64<<10)}); err != nil {
						break
					}
					sent.Add(1)
				}
				if _, err := s.CloseAndRecv(); err != nil {
					t.Errorf("client stream: %v", err)
				}
			})
		}
		arrived.Wait()
		waitQuiet(t, &sent) // the streams have sent what the windows allow
		checkBesideCall(t, ctx, cc, "handlers are not reading")
	})

	t.Run("client not reading", func(t *testing.T) {
		srv := server.New()
		server.RegisterUnary(srv, testserver.Unary, func(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
			return &pb.ExampleReply{Message: r.Value}, nil
		})
		var sent atomic.Int64
		server.RegisterServerStream(srv, testserver.ServerStream, func(r *pb.ExampleRequest, s grpc.ServerStreamingServer[pb.ExampleReply]) error {
			for range r.ResponseCount {
				if err := s.Send(&pb.ExampleReply{Blob: r.Blob}); err != nil {
					return err
				}
				sent.Add(1)
			}
			return nil
		})
		addr, _ := soakServeServer(t, srv)
		cc := dial(t, addr)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel() // ends the unread calls
		for range stallStreams {
			// 32 replies of 64 KiB: more than a stream window.
			req := &pb.ExampleRequest{Blob: make([]byte, 64<<10), ResponseCount: 32}
			if _, err := client.ServerStream[pb.ExampleReply](ctx, cc, testserver.ServerStream, req); err != nil {
				t.Fatal(err)
			}
		}
		waitQuiet(t, &sent) // the handlers have sent what the windows allow
		checkBesideCall(t, ctx, cc, "client is not reading")
	})
}

// waitQuiet waits until n has not changed for 300 ms: the senders
// counting in it are blocked. It fails the test after 20 s.
func waitQuiet(t *testing.T, n *atomic.Int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last, since := n.Load(), time.Now()
	for time.Since(since) < 300*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("senders still sending after 20 s (%d messages)", n.Load())
		}
		time.Sleep(20 * time.Millisecond)
		if v := n.Load(); v != last {
			last, since = v, time.Now()
		}
	}
	t.Logf("%d messages of 64 KiB sent, then none for 300 ms", last)
}

// checkBesideCall makes a 1 KiB unary call on cc and fails the test
// unless it is served within 5 s.
func checkBesideCall(t *testing.T, ctx context.Context, cc *client.Conn, what string) {
	t.Helper()
	uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	r, err := client.Unary[pb.ExampleReply](uctx, cc, testserver.Unary, &pb.ExampleRequest{Value: "beside", Blob: make([]byte, 1<<10)})
	if err != nil || r.Message != "beside" {
		t.Errorf("a 1 KiB unary call beside %d streams on the connection whose %s: %v, %v after %v; want it served",
			stallStreams, what, r, err, time.Since(start).Round(time.Millisecond))
	}
}
