package status

import (
	"encoding/base64"
	"fmt"
	"strings"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

// This file holds the status trailers: grpc-status, grpc-message and
// grpc-status-details-bin (SPEC.md, "Responses").

// EncodeDetails returns the grpc-status-details-bin value for e: the
// google.rpc.Status (code, message, details) in protobuf form, base64-encoded
// with the standard alphabet and no padding. It returns "" when e is nil or
// has no details; then the header is not sent.
func EncodeDetails(e *Error) (string, error) {
	if e == nil || len(e.details) == 0 {
		return "", nil
	}
	b, err := proto.Marshal(&spb.Status{
		Code: int32(e.code),
		// protobuf strings must be UTF-8; a message that is not would
		// lose the details altogether. Its exact bytes still travel,
		// percent-encoded, in grpc-message.
		Message: strings.ToValidUTF8(e.msg, "\uFFFD"),
		Details: e.details, // read only
	})
	if err != nil {
		return "", fmt.Errorf("status: encoding grpc-status-details-bin: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// Parse returns the status a client reports from the trailer values
// grpc-status, grpc-message and grpc-status-details-bin, each given raw as
// received ("" when absent). It returns nil for OK.
//
//   - grpcStatus must be ASCII decimal digits whose value fits in 32 bits;
//     anything else (also "") gives INTERNAL "malformed grpc-status ...".
//   - message is percent-decoded with [DecodeMessage].
//   - details, when not "", is base64 (padded or unpadded) of a
//     google.rpc.Status. Bad base64 or a bad protobuf gives INTERNAL; a code
//     that differs from grpcStatus gives INTERNAL with a message saying they
//     disagree. When the codes agree the result carries the details, and the
//     details' message unless it is empty, in which case the decoded
//     grpc-message.
//
// A details header sent along with an OK grpc-status is still checked, so an
// inconsistent one turns OK into INTERNAL. An absent grpc-status is the
// caller's case, not Parse's: trailers without it mean UNKNOWN, and a
// response without it is mapped with [FromHTTPStatus] (SPEC.md).
func Parse(grpcStatus, message, details string) *Error {
	code, ok := parseCode(grpcStatus)
	if !ok {
		return Newf(Internal, "malformed grpc-status %q", clip(grpcStatus))
	}
	if details == "" {
		if code == OK {
			return nil
		}
		return New(code, DecodeMessage(message))
	}
	st, err := decodeDetails(details)
	if err != nil {
		return Newf(Internal, "malformed grpc-status-details-bin: %v", err)
	}
	if Code(uint32(st.GetCode())) != code || st.GetCode() < 0 {
		return Newf(Internal,
			"grpc-status-details-bin code %d disagrees with grpc-status %d (grpc-message %q)",
			st.GetCode(), code, clip(DecodeMessage(message)))
	}
	if code == OK {
		return nil
	}
	e := &Error{code: code, msg: st.GetMessage(), details: st.GetDetails()}
	if e.msg == "" {
		e.msg = DecodeMessage(message)
	}
	return e
}

// decodeDetails decodes a grpc-status-details-bin value.
func decodeDetails(v string) (*spb.Status, error) {
	// encoding/base64 skips CR and LF; a header value cannot hold them, so
	// refuse them rather than decode something the peer did not mean.
	if strings.ContainsAny(v, "\r\n") {
		return nil, fmt.Errorf("bad base64: line break in value")
	}
	enc := base64.RawStdEncoding
	if strings.HasSuffix(v, "=") {
		enc = base64.StdEncoding
	}
	b, err := enc.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("bad base64: %w", err)
	}
	st := new(spb.Status)
	if err := proto.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("bad google.rpc.Status: %w", err)
	}
	return st, nil
}

// clip shortens s for use in an error message, so that a hostile peer cannot
// make an error text arbitrarily long.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
