package status_test

import (
	"strconv"
	"testing"

	"github.com/h2grpc/h2grpc/status"
)

func TestCodeString(t *testing.T) {
	tests := []struct {
		code status.Code
		want string
	}{
		{status.OK, "OK"},
		{status.Canceled, "CANCELLED"},
		{status.Unknown, "UNKNOWN"},
		{status.InvalidArgument, "INVALID_ARGUMENT"},
		{status.DeadlineExceeded, "DEADLINE_EXCEEDED"},
		{status.NotFound, "NOT_FOUND"},
		{status.AlreadyExists, "ALREADY_EXISTS"},
		{status.PermissionDenied, "PERMISSION_DENIED"},
		{status.ResourceExhausted, "RESOURCE_EXHAUSTED"},
		{status.FailedPrecondition, "FAILED_PRECONDITION"},
		{status.Aborted, "ABORTED"},
		{status.OutOfRange, "OUT_OF_RANGE"},
		{status.Unimplemented, "UNIMPLEMENTED"},
		{status.Internal, "INTERNAL"},
		{status.Unavailable, "UNAVAILABLE"},
		{status.DataLoss, "DATA_LOSS"},
		{status.Unauthenticated, "UNAUTHENTICATED"},
		{17, "CODE(17)"},
		{4294967295, "CODE(4294967295)"},
	}
	for _, tt := range tests {
		if got := tt.code.String(); got != tt.want {
			t.Errorf("Code(%d).String() = %q, want %q", uint32(tt.code), got, tt.want)
		}
	}
}

func TestCodeValues(t *testing.T) {
	// The numeric values are wire format; pin them.
	codes := []status.Code{
		status.OK, status.Canceled, status.Unknown, status.InvalidArgument,
		status.DeadlineExceeded, status.NotFound, status.AlreadyExists,
		status.PermissionDenied, status.ResourceExhausted, status.FailedPrecondition,
		status.Aborted, status.OutOfRange, status.Unimplemented, status.Internal,
		status.Unavailable, status.DataLoss, status.Unauthenticated,
	}
	for i, c := range codes {
		if uint32(c) != uint32(i) {
			t.Errorf("code %s = %d, want %d", c, uint32(c), i)
		}
	}
}

func TestWireCode(t *testing.T) {
	for c := status.Code(0); c < 40; c++ {
		want := strconv.FormatUint(uint64(c), 10)
		if got := status.WireCode(c); got != want {
			t.Errorf("WireCode(%d) = %q, want %q", uint32(c), got, want)
		}
		if got := string(status.AppendCode([]byte("x"), c)); got != "x"+want {
			t.Errorf("AppendCode(x, %d) = %q, want %q", uint32(c), got, "x"+want)
		}
	}
	if got := status.WireCode(4294967295); got != "4294967295" {
		t.Errorf("WireCode(max) = %q", got)
	}
}

func TestWireCodeAllocs(t *testing.T) {
	var sink string
	allocs := testing.AllocsPerRun(100, func() {
		for c := status.OK; c <= status.Unauthenticated; c++ {
			sink = status.WireCode(c)
		}
	})
	_ = sink
	if allocs != 0 {
		t.Errorf("WireCode allocates %v times per run, want 0", allocs)
	}
}

func BenchmarkWireCode(b *testing.B) {
	b.ReportAllocs()
	var sink string
	for i := 0; b.Loop(); i++ {
		sink = status.WireCode(status.Code(i % 17))
	}
	_ = sink
}
