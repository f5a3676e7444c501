package client_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// A call made with a handler's context carries what remains of the
// handler's deadline, and the chosen request metadata keys when a client
// or server option says so; other keys stay behind.
func TestPropagation(t *testing.T) {
	// The backend reports the deadline it got and the metadata it saw.
	_, backend := testserver.Start(t, testserver.Hooks{Unary: func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		dl, ok := ctx.Deadline()
		md, _ := metadata.FromIncomingContext(ctx)
		return &pb.ExampleReply{Message: fmt.Sprintf("%v %v %q %q %q",
			ok, time.Until(dl) > 0, md["x-request-id"], md["x-other"], md["x-set"])}, nil
	}})
	ourClient := func(opts ...client.Option) func(t *testing.T) pb.ExampleClient {
		return func(t *testing.T) pb.ExampleClient {
			return pb.NewExampleClient(dial(t, backend, opts...))
		}
	}
	grpcClient := func(t *testing.T) pb.ExampleClient {
		cc, err := grpc.NewClient(backend, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return pb.NewExampleClient(cc)
	}
	cases := []struct {
		name       string
		serverOpts []server.Option
		backend    func(t *testing.T) pb.ExampleClient
	}{
		{"client option", nil, ourClient(client.WithForwardedMetadata("X-Request-Id"))},
		{"server option, h2grpc client", []server.Option{server.ForwardMetadata("x-request-id")}, ourClient()},
		{"server option, grpc-go client", []server.Option{server.ForwardMetadata("x-request-id")}, grpcClient},
		{"no option", nil, ourClient()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := tc.backend(t)
			var front string
			_, front = testserver.Start(t, testserver.Hooks{Unary: func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
				if r.Value == "set" {
					// A key the handler sets itself wins over the forwarded value.
					ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", "own", "x-set", "1")
				}
				return be.UnaryUnary(ctx, r)
			}}, tc.serverOpts...)
			fc := pb.NewExampleClient(dial(t, front))
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", "abc", "x-other", "zzz")
			values := []string{"plain"}
			if tc.serverOpts == nil {
				// The server option seeds the handler's outgoing metadata,
				// which the handler's own appends add to.
				values = append(values, "set")
			}
			for _, value := range values {
				r, err := fc.UnaryUnary(ctx, &pb.ExampleRequest{Value: value})
				if err != nil {
					t.Fatal(err)
				}
				id := `["abc"]`
				switch {
				case value == "set":
					id = `["own"]`
				case tc.name == "no option":
					id = "[]"
				}
				set := "[]"
				if value == "set" {
					set = `["1"]`
				}
				want := fmt.Sprintf("true true %s [] %s", id, set)
				if r.Message != want {
					t.Errorf("%s: backend saw %q, want %q (deadline set, not passed; x-request-id; x-other; x-set)", value, r.Message, want)
				}
			}
		})
	}
}

// Forwarding never changes the metadata the caller's context carries.
func TestForwardingLeavesCallerMetadataAlone(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	c := dial(t, addr, client.WithForwardedMetadata("x-id"))
	out := metadata.Pairs("x-mine", "1")
	ctx := metadata.NewIncomingContext(testserver.Context(t, 5*time.Second), metadata.Pairs("x-id", "7"))
	ctx = metadata.NewOutgoingContext(ctx, out)
	if _, err := pb.NewExampleClient(c).UnaryUnary(ctx, &pb.ExampleRequest{}); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || strings.Join(out["x-mine"], ",") != "1" {
		t.Fatalf("caller's outgoing metadata changed to %v", out)
	}
}
