// Adapted from connectrpc.com/conformance internal/grpcutil and
// internal/cancellation.go, Apache-2.0, Copyright 2023-2024 The Connect
// Authors.

package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/h2grpc/h2grpc/interop/conformance/gen/conformancev1"
)

// protoHeaders converts metadata received (response headers or trailers)
// into the suite's headers. Values of -bin keys, which metadata holds
// decoded, are base64-encoded without padding, as the suite writes them.
func protoHeaders(md metadata.MD) []*pb.Header {
	hdrs := make([]*pb.Header, 0, len(md))
	for key, vals := range md {
		if strings.HasSuffix(key, "-bin") {
			enc := make([]string, len(vals))
			for i, v := range vals {
				enc[i] = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			vals = enc
		}
		hdrs = append(hdrs, &pb.Header{Name: key, Value: vals})
	}
	return hdrs
}

// withRequestHeaders adds the case's request headers to the outgoing
// metadata of ctx. The suite writes values of -bin keys in base64, padded
// or not; metadata wants them decoded, and encodes them again on the wire.
// A value that is not base64 goes as it is.
func withRequestHeaders(ctx context.Context, hdrs []*pb.Header) context.Context {
	var kv []string
	for _, h := range hdrs {
		key := strings.ToLower(h.GetName())
		for _, v := range h.GetValue() {
			if strings.HasSuffix(key, "-bin") {
				if b, err := decodeBinaryHeader(v); err == nil {
					v = string(b)
				}
			}
			kv = append(kv, key, v)
		}
	}
	if len(kv) == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// decodeBinaryHeader decodes base64, padded or unpadded.
func decodeBinaryHeader(v string) ([]byte, error) {
	if len(v)%4 != 0 {
		return base64.RawStdEncoding.DecodeString(v)
	}
	return base64.StdEncoding.DecodeString(v)
}

// protoError converts an RPC's error into the suite's, nil for nil. The
// error is read with grpc-go's status package, which h2grpc's errors
// satisfy; the details are the google.rpc.Status's, as sent.
func protoError(err error) *pb.Error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	return &pb.Error{
		Code:    pb.Code(st.Code()),
		Message: proto.String(st.Message()),
		Details: st.Proto().GetDetails(),
	}
}

// cancelTiming is when a case cancels its call. Each field is negative
// when the case does not ask for it.
type cancelTiming struct {
	beforeCloseSend   bool
	afterCloseSendMs  int
	afterNumResponses int
}

// cancelTimingOf reads the case's cancel setting. A setting without a
// timing means cancelling right after the requests are closed.
func cancelTimingOf(c *pb.ClientCompatRequest_Cancel) (cancelTiming, error) {
	t := cancelTiming{afterCloseSendMs: -1, afterNumResponses: -1}
	if c == nil {
		return t, nil
	}
	switch timing := c.GetCancelTiming().(type) {
	case *pb.ClientCompatRequest_Cancel_BeforeCloseSend:
		t.beforeCloseSend = true
	case *pb.ClientCompatRequest_Cancel_AfterCloseSendMs:
		t.afterCloseSendMs = int(timing.AfterCloseSendMs)
	case *pb.ClientCompatRequest_Cancel_AfterNumResponses:
		t.afterNumResponses = int(timing.AfterNumResponses)
	case nil:
		t.afterCloseSendMs = 0
	default:
		return t, fmt.Errorf("provided CancelTiming has an unexpected type %T", timing)
	}
	return t, nil
}
