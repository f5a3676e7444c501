package server

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/metadata"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// If grpc-go's lookups change so that the keys are not found, handlers get
// the chain of values instead; this test makes that visible.
func TestContextKeysFound(t *testing.T) {
	if !keys.ok {
		t.Fatalf("context keys not found: %+v", keys)
	}
}

// TestCallContextLookups checks what a handler finds in its context, with
// the merged context and with the chain of values it stands for: every
// lookup from several goroutines at once, the same values each time, and
// contexts derived from it.
func TestCallContextLookups(t *testing.T) {
	for _, merged := range []bool{true, false} {
		t.Run(fmt.Sprintf("merged=%t", merged), func(t *testing.T) {
			saved := keys
			if !merged {
				keys.ok = false
			}
			defer func() { keys = saved }()
			testCallContextLookups(t, merged)
		})
	}
}

func testCallContextLookups(t *testing.T, merged bool) {
	const path = "/nameko.example/unary_unary"
	srv := New()
	RegisterUnary(srv, path, func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		if _, isMerged := ctx.(*callContext); isMerged != merged {
			return nil, fmt.Errorf("context is %T", ctx)
		}
		derived, cancel := context.WithCancel(ctx)
		defer cancel()
		first := lookups(ctx)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				c := ctx
				if i%2 == 1 {
					c = derived
				}
				if got := lookups(c); !reflect.DeepEqual(got, first) || !got.same(first) {
					errs[i] = fmt.Errorf("lookup %d: %+v, first %+v", i, got, first)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		if err := first.check(path); err != nil {
			return nil, err
		}
		if dl, ok := derived.Deadline(); !ok || time.Until(dl) <= 0 {
			return nil, fmt.Errorf("derived context deadline %v %t", dl, ok)
		}
		return &pb.ExampleReply{}, nil
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()
	cc, err := client.Dial(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), "x-a", "1", "x-a", "2"), 10*time.Second)
	defer cancel()
	if _, err := client.Unary[pb.ExampleReply](ctx, cc, path, &pb.ExampleRequest{}); err != nil {
		t.Fatal(err)
	}
}

// found is what the lookups of a handler's context return.
type found struct {
	call       *Call
	md         metadata.MD
	grpcMD     grpcmd.MD // grpc-go's FromIncomingContext: a copy each time
	rawGRPCMD  any       // what its key holds: the same each time
	peer       *peer.Peer
	method     string
	streamType string
}

func lookups(ctx context.Context) found {
	var f found
	f.call = CallFromContext(ctx)
	f.md, _ = metadata.FromIncomingContext(ctx)
	f.grpcMD, _ = grpcmd.FromIncomingContext(ctx)
	if keys.grpcIncoming != nil {
		f.rawGRPCMD = ctx.Value(keys.grpcIncoming)
	}
	f.peer, _ = peer.FromContext(ctx)
	f.method, _ = grpc.Method(ctx)
	f.streamType = fmt.Sprintf("%T", grpc.ServerTransportStreamFromContext(ctx))
	return f
}

// same reports whether the maps and pointers are the very same values.
func (f found) same(g found) bool {
	return f.call == g.call && f.peer == g.peer &&
		reflect.ValueOf(f.md).UnsafePointer() == reflect.ValueOf(g.md).UnsafePointer() &&
		reflect.ValueOf(f.rawGRPCMD).UnsafePointer() == reflect.ValueOf(g.rawGRPCMD).UnsafePointer()
}

func (f found) check(path string) error {
	switch {
	case f.call == nil || f.call.Method() != path:
		return fmt.Errorf("CallFromContext = %v", f.call)
	case len(f.md["x-a"]) != 2 || f.md["x-a"][1] != "2":
		return fmt.Errorf("metadata.FromIncomingContext = %v", f.md)
	case len(f.grpcMD["x-a"]) != 2 || f.grpcMD.Get(":authority") == nil ||
		f.grpcMD.Get("user-agent") == nil || f.grpcMD.Get("content-type")[0] != "application/grpc":
		return fmt.Errorf("grpc-go metadata.FromIncomingContext = %v", f.grpcMD)
	case f.peer == nil || f.peer.Addr == nil || f.peer.LocalAddr == nil:
		return fmt.Errorf("peer.FromContext = %v", f.peer)
	case f.method != path:
		return fmt.Errorf("grpc.Method = %q", f.method)
	case f.streamType != "server.grpcTransportStream":
		return fmt.Errorf("grpc.ServerTransportStreamFromContext is a %s", f.streamType)
	}
	return nil
}
