package client_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// Limits set for the whole Conn apply to every call, and a call's own
// option wins over them.
func TestConnMessageSizeLimits(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	c := dial(t, addr, client.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(100), grpc.MaxCallSendMsgSize(1000)))
	ec := pb.NewExampleClient(c)
	ctx := testserver.Context(t, 10*time.Second)
	big := strings.Repeat("x", 500) // request fits 1000, the echoed reply not 100

	if _, err := ec.UnaryUnary(ctx, &pb.ExampleRequest{Value: big}); status.CodeOf(err) != status.ResourceExhausted {
		t.Errorf("reply over the Conn's receive limit: %v, want RESOURCE_EXHAUSTED", err)
	}
	if _, err := ec.UnaryUnary(ctx, &pb.ExampleRequest{Value: big + big + big}); status.CodeOf(err) != status.ResourceExhausted ||
		!strings.Contains(err.Error(), "larger than max") {
		t.Errorf("request over the Conn's send limit: %v, want RESOURCE_EXHAUSTED", err)
	}
	if r, err := ec.UnaryUnary(ctx, &pb.ExampleRequest{Value: big}, grpc.MaxCallRecvMsgSize(1000)); err != nil || r.Message != big {
		t.Errorf("with the call's own larger limit: %v", err)
	}
	if r, err := ec.UnaryUnary(ctx, &pb.ExampleRequest{Value: "small"}); err != nil || r.Message != "small" {
		t.Errorf("within the limits: %v", err)
	}
}
