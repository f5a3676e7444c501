package status_test

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/h2grpc/h2grpc/status"
)

// FuzzParseDetails fuzzes grpc-status-details-bin below its base64: the
// input is the google.rpc.Status bytes themselves, base64-encoded padded or
// not, so the fuzzer explores the protobuf (FuzzParse mutates the base64
// text, which mostly stops at bad base64). Parse must agree with decoding
// the bytes directly: INTERNAL, with a bounded message, for bytes that are
// not a google.rpc.Status or whose code is not grpc-status; otherwise the
// status of the details, with the grpc-message only when the details carry
// no message.
func FuzzParseDetails(f *testing.F) {
	f.Add("3", "m", []byte("\x08\x03\x12\x03bad"), false)
	f.Fuzz(func(t *testing.T, grpcStatus, message string, raw []byte, padded bool) {
		enc := base64.RawStdEncoding
		if padded {
			enc = base64.StdEncoding
		}
		details := enc.EncodeToString(raw)
		got := status.Parse(grpcStatus, message, details)

		code, err := strconv.ParseUint(grpcStatus, 10, 32)
		if err != nil || grpcStatus == "" || grpcStatus[0] < '0' || grpcStatus[0] > '9' || details == "" {
			return // FuzzParse covers these
		}
		var st spb.Status
		uerr := proto.Unmarshal(raw, &st)
		agree := uerr == nil && st.GetCode() >= 0 && uint64(st.GetCode()) == code
		switch {
		case !agree:
			if got.Code() != status.Internal {
				t.Fatalf("Parse(%q, %q, %q) = %v, want INTERNAL (unmarshal: %v, details code %d)",
					grpcStatus, message, details, got, uerr, st.GetCode())
			}
			// The reason is ours, with the peer's text clipped.
			if msg := got.Message(); len(msg) > 512 || !strings.Contains(msg, "grpc-status-details-bin") {
				t.Fatalf("Parse(%q, %q, %q) message %q: want a short one about grpc-status-details-bin",
					grpcStatus, message, details, msg)
			}
			if len(got.Details()) > 0 {
				t.Fatalf("Parse(%q, %q, %q) kept the details of a refused header", grpcStatus, message, details)
			}
		case code == 0:
			if got != nil {
				t.Fatalf("Parse(%q, %q, %q) = %v, want nil (OK)", grpcStatus, message, details, got)
			}
		default:
			wantMsg := st.GetMessage()
			if wantMsg == "" {
				wantMsg = status.DecodeMessage(message)
			}
			want := &spb.Status{Code: int32(code), Message: wantMsg, Details: st.GetDetails()}
			if !proto.Equal(got.Proto(), want) {
				t.Fatalf("Parse(%q, %q, %q) = %v, want %v", grpcStatus, message, details, got.Proto(), want)
			}
			// What was accepted can be sent on again.
			again, err := status.EncodeDetails(got)
			if err != nil {
				t.Fatalf("Parse(%q, %q, %q) = %v, which EncodeDetails refuses: %v", grpcStatus, message, details, got.Proto(), err)
			}
			if len(st.GetDetails()) > 0 {
				// The details carry the message as UTF-8 (protobuf
				// strings must be); everything else comes back as it was.
				want := proto.Clone(got.Proto()).(*spb.Status)
				want.Message = strings.ToValidUTF8(want.Message, "\uFFFD")
				if back := status.Parse(grpcStatus, "", again); !proto.Equal(back.Proto(), want) {
					t.Fatalf("re-parse of %v gave %v, want %v", got.Proto(), back.Proto(), want)
				}
			}
		}
	})
}
