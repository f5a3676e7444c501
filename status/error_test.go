package status_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/h2grpc/h2grpc/status"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		err      *status.Error
		wantCode status.Code
		wantMsg  string
		wantText string
	}{
		{"new", status.New(status.NotFound, "no such thing"), status.NotFound, "no such thing",
			"rpc error: code = NotFound desc = no such thing"},
		{"newf", status.Newf(status.Internal, "x=%d y=%q", 1, "z"), status.Internal, `x=1 y="z"`,
			`rpc error: code = Internal desc = x=1 y="z"`},
		{"ok allowed", status.New(status.OK, ""), status.OK, "", "rpc error: code = OK desc = "},
		{"undefined code", status.New(99, "m"), 99, "m", "rpc error: code = Code(99) desc = m"},
		{"nil", nil, status.OK, "", "rpc error: code = OK desc = "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Code(); got != tt.wantCode {
				t.Errorf("Code() = %s, want %s", got, tt.wantCode)
			}
			if got := tt.err.Message(); got != tt.wantMsg {
				t.Errorf("Message() = %q, want %q", got, tt.wantMsg)
			}
			if got := tt.err.Error(); got != tt.wantText {
				t.Errorf("Error() = %q, want %q", got, tt.wantText)
			}
			if got := tt.err.Details(); got != nil {
				t.Errorf("Details() = %v, want nil", got)
			}
		})
	}
}

func TestErr(t *testing.T) {
	var e *status.Error
	if err := e.Err(); err != nil {
		t.Errorf("nil *Error.Err() = %v, want a nil error", err)
	}
	s := status.New(status.Aborted, "a")
	if err := s.Err(); err != error(s) {
		t.Errorf("Err() = %v, want the *Error itself", err)
	}
}

func TestFromProto(t *testing.T) {
	detail, err := anypb.New(wrapperspb.String("d"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      *spb.Status
		wantNil bool
		code    status.Code
		msg     string
		details int
	}{
		{"nil", nil, true, 0, "", 0},
		{"ok", &spb.Status{Code: 0, Message: "ignored"}, true, 0, "", 0},
		{"plain", &spb.Status{Code: 5, Message: "nf"}, false, status.NotFound, "nf", 0},
		{"details", &spb.Status{Code: 3, Message: "bad", Details: []*anypb.Any{detail}}, false,
			status.InvalidArgument, "bad", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := status.FromProto(tt.in)
			if (got == nil) != tt.wantNil {
				t.Fatalf("FromProto() = %v, want nil: %v", got, tt.wantNil)
			}
			if got.Code() != tt.code || got.Message() != tt.msg || len(got.Details()) != tt.details {
				t.Errorf("FromProto() = (%s, %q, %d details), want (%s, %q, %d details)",
					got.Code(), got.Message(), len(got.Details()), tt.code, tt.msg, tt.details)
			}
		})
	}
}

func TestFromProtoCopies(t *testing.T) {
	detail, err := anypb.New(wrapperspb.String("d"))
	if err != nil {
		t.Fatal(err)
	}
	in := &spb.Status{Code: 3, Message: "bad", Details: []*anypb.Any{detail}}
	e := status.FromProto(in)
	in.Message = "changed"
	in.Details[0].TypeUrl = "changed"
	if e.Message() != "bad" {
		t.Errorf("message followed the source proto: %q", e.Message())
	}
	if got := e.Details()[0].GetTypeUrl(); got == "changed" {
		t.Errorf("details alias the source proto")
	}
}

func TestProtoIsDeepCopy(t *testing.T) {
	e, err := status.New(status.Internal, "m").WithDetails(wrapperspb.Int64(7))
	if err != nil {
		t.Fatal(err)
	}
	p := e.Proto()
	want := &spb.Status{Code: int32(status.Internal), Message: "m", Details: p.GetDetails()}
	if !proto.Equal(p, want) || len(p.GetDetails()) != 1 {
		t.Fatalf("Proto() = %v", p)
	}
	p.Message = "changed"
	p.Details[0].TypeUrl = "changed"
	p.Details = append(p.Details, p.Details[0])
	q := e.Proto()
	if q.GetMessage() != "m" || len(q.GetDetails()) != 1 || q.GetDetails()[0].GetTypeUrl() == "changed" {
		t.Errorf("mutating one Proto() changed the next: %v", q)
	}
	var nilErr *status.Error
	if nilErr.Proto() != nil {
		t.Errorf("nil.Proto() != nil")
	}
}

func TestDetailsSliceIsCopy(t *testing.T) {
	e, err := status.New(status.Internal, "m").WithDetails(wrapperspb.Int64(1), wrapperspb.Int64(2))
	if err != nil {
		t.Fatal(err)
	}
	d := e.Details()
	d[0] = nil
	if e.Details()[0] == nil {
		t.Errorf("Details() returned the Error's own slice")
	}
}

func TestWithDetails(t *testing.T) {
	base := status.New(status.FailedPrecondition, "pre")
	one, err := base.WithDetails(wrapperspb.String("a"))
	if err != nil {
		t.Fatal(err)
	}
	two, err := one.WithDetails(durationpb.New(3), wrapperspb.Bool(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(base.Details()) != 0 {
		t.Errorf("WithDetails changed its receiver")
	}
	if len(one.Details()) != 1 {
		t.Errorf("one has %d details, want 1", len(one.Details()))
	}
	ds := two.Details()
	if len(ds) != 3 || two.Code() != status.FailedPrecondition || two.Message() != "pre" {
		t.Fatalf("two = %v with %d details", two, len(ds))
	}
	var s wrapperspb.StringValue
	if err := ds[0].UnmarshalTo(&s); err != nil || s.GetValue() != "a" {
		t.Errorf("detail 0 = %v (%v), want \"a\"", &s, err)
	}
	var d durationpb.Duration
	if err := ds[1].UnmarshalTo(&d); err != nil || d.AsDuration() != 3 {
		t.Errorf("detail 1 = %v (%v), want 3ns", &d, err)
	}
}

func TestWithDetailsRefused(t *testing.T) {
	tests := []struct {
		name string
		e    *status.Error
	}{
		{"nil", nil},
		{"ok", status.New(status.OK, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.e.WithDetails(wrapperspb.String("a"))
			if err == nil || got != nil {
				t.Errorf("WithDetails() = (%v, %v), want an error", got, err)
			}
		})
	}
}

func TestIs(t *testing.T) {
	a := status.New(status.NotFound, "x")
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"same", a, a, true},
		{"equal", a, status.New(status.NotFound, "x"), true},
		{"wrapped", fmt.Errorf("ctx: %w", a), status.New(status.NotFound, "x"), true},
		{"other code", a, status.New(status.Internal, "x"), false},
		{"other message", a, status.New(status.NotFound, "y"), false},
		{"plain error", a, errors.New("rpc error: code = NotFound desc = x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Errorf("errors.Is = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFromError(t *testing.T) {
	nf := status.New(status.NotFound, "nf")
	var typedNil *status.Error
	tests := []struct {
		name    string
		err     error
		wantNil bool
		want    *status.Error // compared by code+message
		wantOK  bool
		same    bool // the *Error found must be nf itself
	}{
		{"nil", nil, true, nil, true, false},
		{"typed nil", typedNil, true, nil, true, false},
		{"status", nf, false, nf, true, true},
		{"wrapped status", fmt.Errorf("wrap: %w", nf), false, nf, true, true},
		{"canceled", context.Canceled, false, status.New(status.Canceled, "context canceled"), true, false},
		{"deadline", context.DeadlineExceeded, false,
			status.New(status.DeadlineExceeded, "context deadline exceeded"), true, false},
		{"wrapped deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), false,
			status.New(status.DeadlineExceeded, "call: context deadline exceeded"), true, false},
		{"other", io.EOF, false, status.New(status.Unknown, "EOF"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := status.FromError(tt.err)
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			if (got == nil) != tt.wantNil {
				t.Fatalf("FromError() = %v, want nil: %v", got, tt.wantNil)
			}
			if got.Code() != tt.want.Code() || got.Message() != tt.want.Message() {
				t.Errorf("FromError() = %v, want %v", got, tt.want)
			}
			if tt.same && got != nf {
				t.Errorf("FromError() returned a new *Error, want the one in the chain")
			}
			if c := status.Convert(tt.err); c != got && (c.Code() != got.Code() || c.Message() != got.Message()) {
				t.Errorf("Convert() = %v, want %v", c, got)
			}
			if c := status.CodeOf(tt.err); c != tt.want.Code() {
				t.Errorf("CodeOf() = %s, want %s", c, tt.want.Code())
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	e, err := status.New(status.Internal, "m").WithDetails(wrapperspb.String("d"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				_ = e.Proto()
				_ = e.Details()
				if _, err := e.WithDetails(wrapperspb.Int32(1)); err != nil {
					t.Error(err)
				}
				if _, err := status.EncodeDetails(e); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
