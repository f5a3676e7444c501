package server_test

import (
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// jsonCodec is a codec registered the grpc-go way; it counts its use so a
// test can tell it, not protobuf, carried the messages.
type jsonCodec struct{ marshals, unmarshals atomic.Int64 }

func (c *jsonCodec) Name() string { return "testjson" }
func (c *jsonCodec) Marshal(v any) ([]byte, error) {
	c.marshals.Add(1)
	return protojson.Marshal(v.(proto.Message))
}
func (c *jsonCodec) Unmarshal(b []byte, v any) error {
	c.unmarshals.Add(1)
	return protojson.Unmarshal(b, v.(proto.Message))
}

var testJSON = &jsonCodec{}

func init() { encoding.RegisterCodec(testJSON) }

// A content-subtype names a codec registered with grpc-go's
// encoding.RegisterCodec, on both h2grpc's client and server, and grpc-go's
// client reaches h2grpc's server with it too.
func TestContentSubtypeFromGRPCRegistry(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	ctx := testserver.Context(t, 5*time.Second)
	c := dial(t, addr)
	before := testJSON.marshals.Load()
	resp, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{Value: "json"}, grpc.CallContentSubtype("testjson"))
	if err != nil || resp.Message != "json" {
		t.Fatalf("h2grpc client: %v", err)
	}
	// Client marshals the request, server the response.
	if n := testJSON.marshals.Load() - before; n != 2 {
		t.Errorf("the json codec marshalled %d messages, want 2", n)
	}

	gc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	before = testJSON.unmarshals.Load()
	var gresp pb.ExampleReply
	if err := gc.Invoke(ctx, testserver.Unary, &pb.ExampleRequest{Value: "g"}, &gresp, grpc.CallContentSubtype("testjson")); err != nil || gresp.Message != "g" {
		t.Fatalf("grpc-go client: %v", err)
	}
	if n := testJSON.unmarshals.Load() - before; n != 2 {
		t.Errorf("the json codec unmarshalled %d messages, want 2", n)
	}

	// ForceCodec uses the codec as it is, its name as the subtype.
	before = testJSON.marshals.Load()
	if _, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{}, grpc.ForceCodec(testJSON)); err != nil {
		t.Fatalf("ForceCodec: %v", err)
	}
	if n := testJSON.marshals.Load() - before; n != 2 {
		t.Errorf("ForceCodec: the json codec marshalled %d messages, want 2", n)
	}

	_, err = client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{}, grpc.CallContentSubtype("nosuchcodec"))
	if status.CodeOf(err) != status.Internal {
		t.Fatalf("unknown subtype: %v, want INTERNAL before sending", err)
	}
}
