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

// unreadStreams is twice as many streams as would spend the connection
// window if each held a whole stream window unread (8 by default).
const unreadStreams = 2 * connection.DefaultConnWindow / connection.DefaultStreamWindow

// TestUnreadStreamsDoNotStallConnection: streams whose receiver does not
// read hold back their own senders after a stream window, and nothing
// else: a call beside them on the same connection is served, both ways,
// and an application that reads its streams one after another finishes.
// Found by the soak, whose barrier holds handlers before they read. With
// connection credit returned only on consumption, these streams spent the
// connection window: the call beside them waited, and the sequential
// reader deadlocked (the credit it returned went to the streams it was
// not reading). The connection now gets credit back as a stream accepts
// data, as grpc-go does; what a connection holds is bounded by its
// streams' windows.
func TestUnreadStreamsDoNotStallConnection(t *testing.T) {
	t.Run("server handlers not reading", func(t *testing.T) { unreadHandlers(t, unreadStreams) })
	t.Run("client not reading", func(t *testing.T) { unreadClient(t, unreadStreams) })
}

// unreadHandlers opens n client streams of 2 MiB each (more than a stream
// window) to handlers that read only once released, and checks a unary
// call beside them.
func unreadHandlers(t *testing.T, n int) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	defer open()
	srv := server.New()
	server.RegisterUnary(srv, testserver.Unary, func(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		return &pb.ExampleReply{Message: r.Value}, nil
	})
	var arrived sync.WaitGroup
	arrived.Add(n)
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
	var sent atomic.Int64
	for range n {
		wg.Go(func() {
			s, err := client.ClientStream[pb.ExampleRequest, pb.ExampleReply](ctx, cc, testserver.ClientStream)
			if err != nil {
				t.Errorf("open: %v", err)
				return
			}
			for range 32 { // 2 MiB in 64 KiB messages
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
	waitQuiet(t, n, &sent) // the streams have sent what their windows allow
	checkBesideCall(t, ctx, cc, n)
	open()
	wg.Wait()
}

// unreadClient opens n server streams of 32 replies of 64 KiB (more than
// a stream window) that the client reads only later, and checks a unary
// call beside them.
func unreadClient(t *testing.T, n int) {
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
	ctx := testserver.Context(t, 30*time.Second)
	var streams []grpc.ServerStreamingClient[pb.ExampleReply]
	for range n {
		req := &pb.ExampleRequest{Blob: make([]byte, 64<<10), ResponseCount: 32}
		s, err := client.ServerStream[pb.ExampleReply](ctx, cc, testserver.ServerStream, req)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	waitQuiet(t, n, &sent) // the handlers have sent what their windows allow
	checkBesideCall(t, ctx, cc, n)
	for i, s := range streams {
		got := 0
		for {
			_, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("stream %d after %d replies: %v", i, got, err)
			}
			got++
		}
		if got != 32 {
			t.Fatalf("stream %d: %d replies, want 32", i, got)
		}
	}
}

// waitQuiet waits until sent has not changed for 300 ms: the n senders
// counting 64 KiB messages in it are blocked. It fails the test after 20 s,
// or if they sent more than their stream windows allow (plus a message
// each being assembled and one in the sender's hands).
func waitQuiet(t *testing.T, n int, sent *atomic.Int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last, since := sent.Load(), time.Now()
	for time.Since(since) < 300*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("senders still sending after 20 s (%d messages)", sent.Load())
		}
		time.Sleep(20 * time.Millisecond)
		if v := sent.Load(); v != last {
			last, since = v, time.Now()
		}
	}
	t.Logf("%d messages of 64 KiB sent on %d streams, then none for 300 ms", last, n)
	if limit := int64(n * (connection.DefaultStreamWindow/(64<<10) + 2)); last > limit {
		t.Errorf("%d messages of 64 KiB sent on %d unread streams, want at most %d: stream windows must push back", last, n, limit)
	}
}

// checkBesideCall makes a 1 KiB unary call on cc beside n unread streams
// and fails the test unless it is served within 5 s.
func checkBesideCall(t *testing.T, ctx context.Context, cc *client.Conn, n int) {
	t.Helper()
	uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	r, err := client.Unary[pb.ExampleReply](uctx, cc, testserver.Unary, &pb.ExampleRequest{Value: "beside", Blob: make([]byte, 1<<10)})
	if err != nil || r.Message != "beside" {
		t.Errorf("a 1 KiB unary call beside %d unread streams: %v, %v after %v; want it served",
			n, r, err, time.Since(start).Round(time.Millisecond))
	}
}
