package server_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// shutdownService is the example service with every handler recording the
// call id it serves before doing any work, and taking a few milliseconds.
type shutdownService struct {
	pb.UnimplementedExampleServer
	mu      sync.Mutex
	started map[string]bool
}

func (s *shutdownService) begin(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.started[md.Get("call-id")[0]] = true
	s.mu.Unlock()
	time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
}

func (s *shutdownService) UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	s.begin(ctx)
	return &pb.ExampleReply{Message: r.Value}, nil
}

func (s *shutdownService) UnaryStream(r *pb.ExampleRequest, st grpc.ServerStreamingServer[pb.ExampleReply]) error {
	s.begin(st.Context())
	for i := range r.ResponseCount {
		if err := st.Send(&pb.ExampleReply{Message: r.Value, Seqno: i}); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

func (s *shutdownService) StreamUnary(st grpc.ClientStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	s.begin(st.Context())
	n := int32(0)
	for {
		if _, err := st.Recv(); err == io.EOF {
			return st.SendAndClose(&pb.ExampleReply{Seqno: n})
		} else if err != nil {
			return err
		}
		n++
	}
}

func (s *shutdownService) StreamStream(st grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	s.begin(st.Context())
	for {
		r, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := st.Send(&pb.ExampleReply{Message: r.Value}); err != nil {
			return err
		}
	}
}

// call makes one call of the pattern i%4 and checks its result is whole.
func shutdownCall(ctx context.Context, ec pb.ExampleClient, i int) error {
	const n = 5
	switch i % 4 {
	case 0:
		r, err := ec.UnaryUnary(ctx, &pb.ExampleRequest{Value: "u"})
		if err == nil && r.Message != "u" {
			return fmt.Errorf("unary reply %q", r.Message)
		}
		return err
	case 1:
		s, err := ec.UnaryStream(ctx, &pb.ExampleRequest{Value: "s", ResponseCount: n})
		if err != nil {
			return err
		}
		for j := int32(0); ; j++ {
			r, err := s.Recv()
			if err == io.EOF {
				if j != n {
					return fmt.Errorf("server stream ended after %d of %d replies", j, n)
				}
				return nil
			}
			if err != nil {
				return err
			}
			if r.Seqno != j {
				return fmt.Errorf("reply %d has seqno %d", j, r.Seqno)
			}
		}
	case 2:
		s, err := ec.StreamUnary(ctx)
		if err != nil {
			return err
		}
		for range n {
			if err := s.Send(&pb.ExampleRequest{}); err != nil {
				break // the status comes with CloseAndRecv
			}
		}
		r, err := s.CloseAndRecv()
		if err == nil && r.Seqno != n {
			return fmt.Errorf("client stream counted %d of %d", r.Seqno, n)
		}
		return err
	default:
		s, err := ec.StreamStream(ctx)
		if err != nil {
			return err
		}
		for j := range n {
			if err := s.Send(&pb.ExampleRequest{Value: fmt.Sprint(j)}); err != nil {
				break
			}
			r, err := s.Recv()
			if err != nil {
				return err
			}
			if r.Message != fmt.Sprint(j) {
				return fmt.Errorf("bidi reply %q for %d", r.Message, j)
			}
		}
		s.CloseSend()
		if _, err := s.Recv(); err != io.EOF {
			return err
		}
		return nil
	}
}

// TestShutdownLosesNoCall starts hundreds of calls of all four patterns
// from h2grpc's and grpc-go's clients and shuts the server down among
// them. Every call must either complete whole, or fail with UNAVAILABLE
// without its handler having started: nothing is lost or cut silently.
func TestShutdownLosesNoCall(t *testing.T) {
	svc := &shutdownService{started: map[string]bool{}}
	srv := server.New()
	pb.RegisterExampleServer(srv, svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	addr := lis.Addr().String()

	ours, err := client.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	theirs, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	clients := []pb.ExampleClient{pb.NewExampleClient(ours), pb.NewExampleClient(theirs)}

	ctx := testserver.Context(t, 30*time.Second)
	const calls = 400
	errs := make([]error, calls)
	var wg sync.WaitGroup
	shutdown := make(chan error, 1)
	for i := range calls {
		if i == calls/2 {
			go func() {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				shutdown <- srv.Shutdown(sctx)
			}()
		}
		wg.Go(func() {
			cctx := grpcmd.AppendToOutgoingContext(ctx, "call-id", fmt.Sprint(i))
			errs[i] = shutdownCall(cctx, clients[i%2], i/2)
		})
		time.Sleep(100 * time.Microsecond)
	}
	wg.Wait()
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != server.ErrServerStopped {
		t.Errorf("Serve returned %v, want ErrServerStopped", err)
	}

	completed, refused := 0, 0
	for i, err := range errs {
		if err == nil {
			completed++
			continue
		}
		svc.mu.Lock()
		started := svc.started[fmt.Sprint(i)]
		svc.mu.Unlock()
		if grpcstatus.Code(err) != codes.Unavailable || started {
			t.Errorf("call %d (pattern %d, client %d): %v, handler started: %v; want completed, or UNAVAILABLE before any work",
				i, (i/2)%4, i%2, err, started)
			continue
		}
		refused++
	}
	t.Logf("%d calls completed, %d refused before starting", completed, refused)
	if completed == 0 {
		t.Error("no call completed: the shutdown came before any call")
	}
}
