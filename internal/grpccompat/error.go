package grpccompat

import (
	"errors"
	"io"

	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/h2grpc/h2grpc/status"
)

// Error is an RPC error as server/ and client/ return it: an h2grpc
// *status.Error (errors.As and status.FromError find it) that grpc-go's
// status.FromError and status.Code understand too, through the GRPCStatus
// method they look for. Its text is the same as both packages give.
type Error struct {
	s *status.Error
}

// Error returns "rpc error: code = ... desc = ...", as grpc-go's does.
func (e *Error) Error() string { return e.s.Error() }

// Unwrap returns the h2grpc status.
func (e *Error) Unwrap() error { return e.s }

// GRPCStatus returns the status as grpc-go's type, with the details.
func (e *Error) GRPCStatus() *grpcstatus.Status { return grpcstatus.FromProto(e.s.Proto()) }

// Is reports whether target is the same status (code, message and
// details), whether target is h2grpc's or grpc-go's, as grpc-go's own
// status errors compare.
func (e *Error) Is(target error) bool {
	if e.s.Is(target) {
		return true
	}
	g, ok := target.(grpcStatuser)
	return ok && proto.Equal(e.s.Proto(), g.GRPCStatus().Proto())
}

// Wrap returns err in the form both surfaces return: an *status.Error
// becomes an *Error; nil, io.EOF and every other error are returned as
// they are.
func Wrap(err error) error {
	if s, ok := err.(*status.Error); ok && s != nil {
		return &Error{s}
	}
	return err
}

// FromGRPC returns err in h2grpc's form: an error carrying a grpc-go status
// (from grpc-go's status.Error, status.Errorf or Status.Err, wrapped or
// not) becomes the *status.Error with the same code, message and details;
// every other error is returned as it is, for status.Convert to map.
func FromGRPC(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var e *Error
	if errors.As(err, &e) {
		return e.s
	}
	var g grpcStatuser
	if !errors.As(err, &g) {
		return err
	}
	gs := g.GRPCStatus()
	if gs == nil {
		return err
	}
	p := gs.Proto()
	if _, direct := err.(grpcStatuser); !direct {
		// A wrapped status keeps the wrapping text, as grpc-go's
		// status.FromError gives it.
		p.Message = err.Error()
	}
	if st := status.FromProto(p); st != nil {
		return st
	}
	return nil // an OK status carried as an error: grpc-go treats it as success
}

type grpcStatuser interface{ GRPCStatus() *grpcstatus.Status }
