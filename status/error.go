package status

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Error is the one RPC error type of h2grpc: a non-OK gRPC status with its
// code, message and optional details. A nil *Error, and a nil error, mean OK.
//
// An Error is immutable once made and safe for concurrent use. The methods
// accept a nil receiver and then describe OK.
//
// Take care not to return a nil *Error as a non-nil error interface; [Error.Err]
// does the conversion.
type Error struct {
	code    Code
	msg     string
	details []*anypb.Any // owned by the Error; never mutated after construction
}

var _ error = (*Error)(nil)

// New returns a status with code c and message msg. New(OK, ...) returns a
// non-nil *Error whose code is OK; callers throughout h2grpc treat only a nil
// *Error as OK, so prefer nil to New(OK, ...).
func New(c Code, msg string) *Error {
	return &Error{code: c, msg: msg}
}

// Newf is [New] with a message formatted by [fmt.Sprintf].
func Newf(c Code, format string, a ...any) *Error {
	return New(c, fmt.Sprintf(format, a...))
}

// FromProto returns the status s describes. It returns nil when s is nil or its
// code is OK. The details are copied, so s may be changed afterwards.
func FromProto(s *spb.Status) *Error {
	if s.GetCode() == 0 {
		return nil
	}
	return &Error{
		code:    Code(s.GetCode()),
		msg:     s.GetMessage(),
		details: cloneDetails(s.GetDetails()),
	}
}

// Err returns e as an error: nil when e is nil, e otherwise. It avoids the
// typed-nil trap of returning a nil *Error as an error interface.
func (e *Error) Err() error {
	if e == nil {
		return nil
	}
	return e
}

// Error returns "rpc error: code = <code> desc = <message>" with the code
// spelled as grpc-go's codes.Code spells it ("InvalidArgument",
// "Code(17)"): the same text grpc-go gives, so logs, middleware and code
// that matches on it see no difference.
func (e *Error) Error() string {
	return "rpc error: code = " + goCodeName(e.Code()) + " desc = " + e.Message()
}

// goNames are the codes as grpc-go's codes.Code.String spells them.
var goNames = [...]string{
	"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
	"NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
	"FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
	"Internal", "Unavailable", "DataLoss", "Unauthenticated",
}

func goCodeName(c Code) string {
	if c <= maxCode {
		return goNames[c]
	}
	return "Code(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// Code returns the status code; OK for a nil receiver.
func (e *Error) Code() Code {
	if e == nil {
		return OK
	}
	return e.code
}

// Message returns the status message (not percent-encoded); "" for a nil
// receiver.
func (e *Error) Message() string {
	if e == nil {
		return ""
	}
	return e.msg
}

// Details returns the status details, or nil when there are none. The slice
// is a fresh copy, but the messages it points to are shared with e: callers
// must not mutate them (use [Error.Proto] for a deep copy).
func (e *Error) Details() []*anypb.Any {
	if e == nil || len(e.details) == 0 {
		return nil
	}
	out := make([]*anypb.Any, len(e.details))
	copy(out, e.details)
	return out
}

// Proto returns the status as a google.rpc.Status. The result is a fresh deep
// copy the caller owns. It returns nil for a nil receiver.
func (e *Error) Proto() *spb.Status {
	if e == nil {
		return nil
	}
	return &spb.Status{
		Code:    int32(e.code),
		Message: e.msg,
		Details: cloneDetails(e.details),
	}
}

// WithDetails returns a new status with the same code and message as e and
// details appended, each packed with [anypb.New]. e is not changed. It fails
// when e is nil or OK (an OK status carries no details), or when a detail
// cannot be packed.
func (e *Error) WithDetails(details ...proto.Message) (*Error, error) {
	if e.Code() == OK {
		return nil, errors.New("status: WithDetails: an OK status carries no details")
	}
	ds := make([]*anypb.Any, 0, len(e.details)+len(details))
	ds = append(ds, e.details...)
	for i, d := range details {
		a, err := anypb.New(d)
		if err != nil {
			return nil, fmt.Errorf("status: WithDetails: detail %d (%T): %w", i, d, err)
		}
		ds = append(ds, a)
	}
	return &Error{code: e.code, msg: e.msg, details: ds}, nil
}

// Is reports whether target is an *Error with the same code and message as e,
// so that [errors.Is] matches equal statuses. Details are not compared.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return e.Code() == t.Code() && e.Message() == t.Message()
}

// FromError returns the status err stands for:
//
//   - nil: (nil, true), meaning OK;
//   - an error with an *Error in its chain ([errors.As]): (that *Error, true);
//   - [context.Canceled] or [context.DeadlineExceeded] (also wrapped): a
//     CANCELLED or DEADLINE_EXCEEDED status with err's text, and true;
//   - anything else: an UNKNOWN status with err's text, and false.
func FromError(err error) (*Error, bool) {
	if err == nil {
		return nil, true
	}
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	switch {
	case errors.Is(err, context.Canceled):
		return New(Canceled, err.Error()), true
	case errors.Is(err, context.DeadlineExceeded):
		return New(DeadlineExceeded, err.Error()), true
	}
	return New(Unknown, err.Error()), false
}

// Convert is [FromError] without the boolean.
func Convert(err error) *Error {
	e, _ := FromError(err)
	return e
}

// CodeOf returns the code of err: OK for nil, else Convert(err).Code().
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	return Convert(err).Code()
}

// cloneDetails deep-copies details; nil or empty gives nil.
func cloneDetails(details []*anypb.Any) []*anypb.Any {
	if len(details) == 0 {
		return nil
	}
	out := make([]*anypb.Any, len(details))
	for i, d := range details {
		out[i] = proto.CloneOf(d)
	}
	return out
}
