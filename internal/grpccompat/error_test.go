package grpccompat_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/internal/grpccompat"
	"github.com/h2grpc/h2grpc/status"
)

// A wrapped status reads the same through h2grpc's status package and
// grpc-go's, details included.
func TestWrapReadsBothWays(t *testing.T) {
	st, err := status.New(status.NotFound, "no such thing\twith a tab").WithDetails(&errdetails.ErrorInfo{Reason: "GONE"})
	if err != nil {
		t.Fatal(err)
	}
	w := grpccompat.Wrap(st)
	if w.Error() != st.Error() {
		t.Errorf("text %q, want %q", w.Error(), st.Error())
	}
	if grpcstatus.Code(w) != codes.NotFound || status.CodeOf(w) != status.NotFound {
		t.Errorf("codes: grpc-go %v, h2grpc %v", grpcstatus.Code(w), status.CodeOf(w))
	}
	gs, ok := grpcstatus.FromError(w)
	if !ok || gs.Message() != "no such thing\twith a tab" || len(gs.Details()) != 1 {
		t.Fatalf("grpc-go FromError: %v %v", gs, ok)
	}
	if info, ok := gs.Details()[0].(*errdetails.ErrorInfo); !ok || info.Reason != "GONE" {
		t.Errorf("details %v", gs.Details())
	}
	var back *status.Error
	if !errors.As(w, &back) || back != st {
		t.Error("errors.As does not find the h2grpc status")
	}
	if !errors.Is(w, grpcstatus.ErrorProto(st.Proto())) || !errors.Is(w, st) {
		t.Error("errors.Is does not match the same status in either form")
	}
	if errors.Is(w, grpcstatus.Error(codes.NotFound, "other")) {
		t.Error("errors.Is matched a different message")
	}
	for _, e := range []error{nil, io.EOF, errors.New("plain")} {
		if grpccompat.Wrap(e) != e {
			t.Errorf("Wrap(%v) changed it", e)
		}
	}
}

func TestFromGRPC(t *testing.T) {
	detailed, _ := grpcstatus.New(codes.InvalidArgument, "bad").WithDetails(&errdetails.BadRequest{})
	plain := errors.New("plain")
	for _, tc := range []struct {
		name string
		in   error
		code status.Code
		msg  string
	}{
		{"grpc-go status", grpcstatus.Error(codes.Aborted, "abort"), status.Aborted, "abort"},
		{"with details", detailed.Err(), status.InvalidArgument, "bad"},
		// grpc-go's status.FromError keeps the wrapping text; so does the wire.
		{"wrapped", fmt.Errorf("ctx: %w", grpcstatus.Error(codes.Aborted, "abort")), status.Aborted, "ctx: rpc error: code = Aborted desc = abort"},
		{"h2grpc status, wrapped for grpc-go", grpccompat.Wrap(status.New(status.DataLoss, "lost")), status.DataLoss, "lost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := grpccompat.FromGRPC(tc.in).(*status.Error)
			if !ok || got.Code() != tc.code || got.Message() != tc.msg {
				t.Fatalf("got %v, want %v %q", got, tc.code, tc.msg)
			}
			if tc.name == "with details" && len(got.Details()) != 1 {
				t.Errorf("details lost: %v", got.Details())
			}
		})
	}
	if got := grpccompat.FromGRPC(plain); got != plain {
		t.Errorf("a plain error became %v", got)
	}
	if got := grpccompat.FromGRPC(context.Canceled); got != context.Canceled {
		t.Errorf("context.Canceled became %v", got)
	}
	if got := grpccompat.FromGRPC(grpcstatus.New(codes.OK, "").Err()); got != nil {
		t.Errorf("an OK status became %v", got)
	}
}

type upper struct{}

func (upper) Name() string                    { return "Upper" }
func (upper) Marshal(v any) ([]byte, error)   { return []byte(v.(string)), nil }
func (upper) Unmarshal(b []byte, v any) error { *v.(*string) = string(b); return nil }

func TestCodecAdapter(t *testing.T) {
	c := grpccompat.Codec(upper{})
	b, err := c.Marshal([]byte("pre:"), "x")
	if err != nil || string(b) != "pre:x" {
		t.Fatalf("Marshal appends: %q %v", b, err)
	}
	var s string
	if err := c.Unmarshal([]byte("y"), &s); err != nil || s != "y" {
		t.Fatalf("Unmarshal: %q %v", s, err)
	}
	if grpccompat.CodecFor("proto") == nil || grpccompat.CodecFor("") == nil {
		t.Error("protobuf not found")
	}
	if grpccompat.CodecFor("nosuch") != nil {
		t.Error("an unregistered subtype found a codec")
	}
}

// The text of every code, defined or not, is grpc-go's.
func TestErrorTextIsGRPCGos(t *testing.T) {
	for c := 1; c <= 17; c++ { // OK is no error
		ours := grpccompat.Wrap(status.New(status.Code(c), "m\tn")).Error()
		theirs := grpcstatus.Error(codes.Code(c), "m\tn").Error()
		if ours != theirs {
			t.Errorf("code %d: %q, grpc-go %q", c, ours, theirs)
		}
	}
}
