package server_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// stallStreams is how many unread streams spend a whole connection window
// when each holds a stream window of data unread: 17 by default.
const stallStreams = connection.DefaultConnWindow/connection.DefaultStreamWindow + 1

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
				}
				if _, err := s.CloseAndRecv(); err != nil {
					t.Errorf("client stream: %v", err)
				}
			})
		}
		arrived.Wait()
		time.Sleep(500 * time.Millisecond) // the streams send what their windows allow
		checkBesideCall(t, ctx, cc, "handlers are not reading")
	})

	t.Run("client not reading", func(t *testing.T) {
		_, addr := testserver.Start(t, testserver.Hooks{})
		cc := dial(t, addr)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel() // ends the unread calls
		big := string(make([]byte, 64<<10))
		for range stallStreams {
			// 32 replies of 64 KiB: more than a stream window.
			if _, err := client.ServerStream[pb.ExampleReply](ctx, cc, testserver.ServerStream, &pb.ExampleRequest{Value: big, ResponseCount: 32}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(500 * time.Millisecond) // the handlers send what their windows allow
		checkBesideCall(t, ctx, cc, "client is not reading")
	})
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
