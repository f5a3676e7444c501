package main

import (
	"encoding/base64"
	"strings"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	conformancev1 "github.com/h2grpc/h2grpc/interop/conformance/gen/conformancev1"
)

// The suite's Header messages carry the values of binary ("-bin") keys in
// base64, while metadata.MD carries them decoded.

// metadataToHeaders converts received metadata to the suite's headers,
// encoding binary values in unpadded base64 as gRPC sends them. md is left
// unchanged.
func metadataToHeaders(md metadata.MD) []*conformancev1.Header {
	headers := make([]*conformancev1.Header, 0, len(md))
	for key, values := range md {
		if strings.HasSuffix(key, "-bin") {
			encoded := make([]string, len(values))
			for i, v := range values {
				encoded[i] = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			values = encoded
		}
		headers = append(headers, &conformancev1.Header{Name: key, Value: values})
	}
	return headers
}

// headersToMetadata converts the suite's headers to metadata to send,
// decoding binary values from base64, padded or not. A binary value that is
// not base64 is sent as it is.
func headersToMetadata(headers []*conformancev1.Header) metadata.MD {
	md := make(metadata.MD, len(headers))
	for _, h := range headers {
		key := strings.ToLower(h.GetName())
		values := h.GetValue()
		if strings.HasSuffix(key, "-bin") {
			decoded := make([]string, len(values))
			for i, v := range values {
				decoded[i] = decodeBinaryHeader(v)
			}
			values = decoded
		}
		md[key] = append(md[key], values...)
	}
	return md
}

// decodeBinaryHeader decodes v from base64, padded or not; it returns v
// itself when v is not base64.
func decodeBinaryHeader(v string) string {
	enc := base64.StdEncoding
	if len(v)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(v)
	if err != nil {
		return v
	}
	return string(b)
}

// protoToStatus returns the gRPC error e describes, with its details.
func protoToStatus(e *conformancev1.Error) error {
	return status.ErrorProto(&spb.Status{
		Code:    int32(e.GetCode()),
		Message: e.GetMessage(),
		Details: e.GetDetails(),
	})
}
