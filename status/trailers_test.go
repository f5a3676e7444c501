package status_test

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/h2grpc/h2grpc/status"
)

// detailsBin encodes s as grpc-status-details-bin, independently of the
// package under test.
func detailsBin(t testing.TB, s *spb.Status, enc *base64.Encoding) string {
	t.Helper()
	b, err := proto.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeToString(b)
}

func mustAny(t testing.TB, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEncodeDetails(t *testing.T) {
	withDetails, err := status.New(status.InvalidArgument, "bad\nthing").WithDetails(wrapperspb.String("field"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		e     *status.Error
		empty bool
	}{
		{"nil", nil, true},
		{"no details", status.New(status.Internal, "x"), true},
		{"details", withDetails, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := status.EncodeDetails(tt.e)
			if err != nil {
				t.Fatal(err)
			}
			if (got == "") != tt.empty {
				t.Fatalf("EncodeDetails() = %q, want empty: %v", got, tt.empty)
			}
			if tt.empty {
				return
			}
			if strings.ContainsAny(got, "=\n") {
				t.Errorf("EncodeDetails() = %q is padded or wrapped", got)
			}
			b, err := base64.RawStdEncoding.DecodeString(got)
			if err != nil {
				t.Fatal(err)
			}
			var s spb.Status
			if err := proto.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&s, tt.e.Proto()) {
				t.Errorf("decoded details = %v, want %v", &s, tt.e.Proto())
			}
		})
	}
}

func TestParse(t *testing.T) {
	d1 := mustAny(t, wrapperspb.String("one"))
	raw := base64.RawStdEncoding
	std := base64.StdEncoding
	tests := []struct {
		name       string
		grpcStatus string
		message    string
		details    string
		wantNil    bool
		wantCode   status.Code
		wantMsg    string // exact, unless wantSubstr
		wantSubstr bool
		wantDet    int
	}{
		{name: "ok", grpcStatus: "0", wantNil: true},
		{name: "ok with message", grpcStatus: "0", message: "fine", wantNil: true},
		{name: "ok leading zero", grpcStatus: "00", wantNil: true},
		{name: "plain", grpcStatus: "5", message: "not%20found", wantCode: status.NotFound, wantMsg: "not found"},
		{name: "no message", grpcStatus: "13", wantCode: status.Internal, wantMsg: ""},
		{name: "malformed message kept", grpcStatus: "2", message: "50%", wantCode: status.Unknown, wantMsg: "50%"},
		{name: "undefined code kept", grpcStatus: "17", message: "m", wantCode: 17, wantMsg: "m"},
		{name: "max code", grpcStatus: "4294967295", wantCode: 4294967295},
		{name: "empty status", grpcStatus: "", wantCode: status.Internal, wantMsg: "malformed grpc-status", wantSubstr: true},
		{name: "sign", grpcStatus: "+5", wantCode: status.Internal, wantMsg: "malformed grpc-status", wantSubstr: true},
		{name: "negative", grpcStatus: "-1", wantCode: status.Internal, wantMsg: "malformed grpc-status", wantSubstr: true},
		{name: "space", grpcStatus: " 5", wantCode: status.Internal, wantMsg: "malformed grpc-status", wantSubstr: true},
		{name: "letters", grpcStatus: "OK", wantCode: status.Internal, wantMsg: "malformed grpc-status", wantSubstr: true},
		{name: "overflow", grpcStatus: "4294967296", wantCode: status.Internal, wantMsg: "malformed grpc-status", wantSubstr: true},
		{
			name: "details unpadded", grpcStatus: "3", message: "ignored",
			details:  detailsBin(t, &spb.Status{Code: 3, Message: "from details", Details: []*anypb.Any{d1}}, raw),
			wantCode: status.InvalidArgument, wantMsg: "from details", wantDet: 1,
		},
		{
			name: "details padded", grpcStatus: "3",
			details:  detailsBin(t, &spb.Status{Code: 3, Message: "m", Details: []*anypb.Any{d1}}, std),
			wantCode: status.InvalidArgument, wantMsg: "m", wantDet: 1,
		},
		{
			name: "details without message", grpcStatus: "3", message: "from%20header",
			details:  detailsBin(t, &spb.Status{Code: 3, Details: []*anypb.Any{d1}}, raw),
			wantCode: status.InvalidArgument, wantMsg: "from header", wantDet: 1,
		},
		{
			name: "details code disagrees", grpcStatus: "3", message: "hdr",
			details:  detailsBin(t, &spb.Status{Code: 5, Message: "m"}, raw),
			wantCode: status.Internal, wantMsg: "disagrees", wantSubstr: true,
		},
		{
			name: "details negative code", grpcStatus: "4294967295",
			details:  detailsBin(t, &spb.Status{Code: -1}, raw),
			wantCode: status.Internal, wantMsg: "disagrees", wantSubstr: true,
		},
		{
			name: "ok with consistent details", grpcStatus: "0",
			details: detailsBin(t, &spb.Status{Code: 0}, raw), wantNil: true,
		},
		{
			name: "ok with disagreeing details", grpcStatus: "0",
			details:  detailsBin(t, &spb.Status{Code: 13, Message: "m"}, raw),
			wantCode: status.Internal, wantMsg: "disagrees", wantSubstr: true,
		},
		{
			name: "ok with bad details", grpcStatus: "0", details: "!!!",
			wantCode: status.Internal, wantMsg: "grpc-status-details-bin", wantSubstr: true,
		},
		{
			name: "bad base64", grpcStatus: "3", details: "a$b",
			wantCode: status.Internal, wantMsg: "bad base64", wantSubstr: true,
		},
		{
			name: "bad padding", grpcStatus: "3", details: "CAM==",
			wantCode: status.Internal, wantMsg: "bad base64", wantSubstr: true,
		},
		{
			name: "line break", grpcStatus: "3", details: "CA\nM",
			wantCode: status.Internal, wantMsg: "bad base64", wantSubstr: true,
		},
		{
			name: "bad proto", grpcStatus: "3", details: raw.EncodeToString([]byte{0xff, 0xff, 0xff}),
			wantCode: status.Internal, wantMsg: "bad google.rpc.Status", wantSubstr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := status.Parse(tt.grpcStatus, tt.message, tt.details)
			if (got == nil) != tt.wantNil {
				t.Fatalf("Parse() = %v, want nil: %v", got, tt.wantNil)
			}
			if got.Code() != tt.wantCode {
				t.Errorf("Code() = %s, want %s (%v)", got.Code(), tt.wantCode, got)
			}
			if tt.wantSubstr {
				if !strings.Contains(got.Message(), tt.wantMsg) {
					t.Errorf("Message() = %q, want it to contain %q", got.Message(), tt.wantMsg)
				}
			} else if got.Message() != tt.wantMsg {
				t.Errorf("Message() = %q, want %q", got.Message(), tt.wantMsg)
			}
			if n := len(got.Details()); n != tt.wantDet {
				t.Errorf("%d details, want %d", n, tt.wantDet)
			}
		})
	}
}

// TestParseRoundTrip sends statuses the way a server writes them and parses
// them the way a client reads them.
func TestParseRoundTrip(t *testing.T) {
	base := status.New(status.ResourceExhausted, "quota: 100% used\nretry later ✓")
	withDetails, err := base.WithDetails(wrapperspb.String("a"), wrapperspb.Int32(2))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*status.Error{base, withDetails, status.New(status.Unknown, "")} {
		det, err := status.EncodeDetails(e)
		if err != nil {
			t.Fatal(err)
		}
		got := status.Parse(status.WireCode(e.Code()), status.EncodeMessage(e.Message()), det)
		if !proto.Equal(got.Proto(), e.Proto()) {
			t.Errorf("round trip of %v gave %v", e.Proto(), got.Proto())
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("0", "", "")
	f.Add("14", "unavailable%0A", "")
	f.Add("3", "m", "CAMSAW0")
	f.Add("x", "%", "!!")
	f.Fuzz(func(t *testing.T, grpcStatus, message, details string) {
		got := status.Parse(grpcStatus, message, details)
		n, err := strconv.ParseUint(grpcStatus, 10, 32)
		valid := err == nil && grpcStatus != "" && grpcStatus[0] >= '0' && grpcStatus[0] <= '9'
		switch {
		case !valid:
			if got.Code() != status.Internal {
				t.Fatalf("Parse(%q, ...) = %v, want INTERNAL for a malformed grpc-status", grpcStatus, got)
			}
		case details == "":
			if got.Code() != status.Code(n) {
				t.Fatalf("Parse(%q, %q, \"\") code = %s, want %d", grpcStatus, message, got.Code(), n)
			}
			if got != nil && got.Message() != status.DecodeMessage(message) {
				t.Fatalf("Parse(%q, %q, \"\") message = %q", grpcStatus, message, got.Message())
			}
		default:
			// With details the result is the grpc-status code or INTERNAL.
			if c := got.Code(); c != status.Code(n) && c != status.Internal {
				t.Fatalf("Parse(%q, %q, %q) code = %s", grpcStatus, message, details, c)
			}
		}
		if got != nil && got.Code() == status.OK {
			t.Fatalf("Parse returned a non-nil OK status: %v", got)
		}
		if got != nil {
			// Whatever Parse accepted must survive a server writing it again.
			det, err := status.EncodeDetails(got)
			if err != nil {
				t.Fatal(err)
			}
			again := status.Parse(status.WireCode(got.Code()), status.EncodeMessage(got.Message()), det)
			if !proto.Equal(again.Proto(), got.Proto()) {
				t.Fatalf("re-parse of %v gave %v", got.Proto(), again.Proto())
			}
		}
	})
}

// A message that is not UTF-8 does not cost the details: they carry it
// made valid, and grpc-message carries its exact bytes.
func TestEncodeDetailsInvalidUTF8Message(t *testing.T) {
	st, err := status.New(status.InvalidArgument, "bad \xff byte").WithDetails(wrapperspb.String("detail"))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := status.EncodeDetails(st)
	if err != nil || enc == "" {
		t.Fatalf("EncodeDetails: %q, %v", enc, err)
	}
	got := status.Parse("3", status.EncodeMessage(st.Message()), enc)
	if got.Code() != status.InvalidArgument || len(got.Details()) != 1 || got.Message() != "bad \uFFFD byte" {
		t.Fatalf("Parse: %v with %d details", got, len(got.Details()))
	}
}
