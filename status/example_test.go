package status_test

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/h2grpc/h2grpc/status"
)

func ExampleError() {
	err := status.New(status.NotFound, "no user 42").Err()
	fmt.Println(err)
	fmt.Println(status.CodeOf(err))
	fmt.Println(errors.Is(fmt.Errorf("lookup: %w", err), status.New(status.NotFound, "no user 42")))
	fmt.Println(status.CodeOf(context.DeadlineExceeded))
	fmt.Println(status.CodeOf(nil))
	// Output:
	// rpc error: code = NotFound desc = no user 42
	// NOT_FOUND
	// true
	// DEADLINE_EXCEEDED
	// OK
}

// A server writes the status trailers; a client parses them back.
func ExampleParse() {
	sent, _ := status.New(status.InvalidArgument, "name: 100% wrong\n").WithDetails(wrapperspb.String("name"))

	grpcStatus := status.WireCode(sent.Code())
	grpcMessage := status.EncodeMessage(sent.Message())
	details, _ := status.EncodeDetails(sent)
	fmt.Println(grpcStatus, grpcMessage)

	got := status.Parse(grpcStatus, grpcMessage, details)
	fmt.Printf("%s %q %d\n", got.Code(), got.Message(), len(got.Details()))
	fmt.Println(status.Parse("0", "", "") == nil)
	// Output:
	// 3 name: 100%25 wrong%0A
	// INVALID_ARGUMENT "name: 100% wrong\n" 1
	// true
}
