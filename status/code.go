package status

import "strconv"

// Code is a gRPC status code, as carried in grpc-status (see gRPC's
// doc/statuscodes.md). Values above [Unauthenticated] can arrive from a peer;
// they are kept as they are.
type Code uint32

// The status codes defined by gRPC.
const (
	OK                 Code = 0  // Not an error; returned on success.
	Canceled           Code = 1  // The operation was cancelled, typically by the caller.
	Unknown            Code = 2  // Unknown error, or an error from an unknown error space.
	InvalidArgument    Code = 3  // The client specified an invalid argument.
	DeadlineExceeded   Code = 4  // The deadline expired before the operation could complete.
	NotFound           Code = 5  // Some requested entity was not found.
	AlreadyExists      Code = 6  // The entity the client tried to create already exists.
	PermissionDenied   Code = 7  // The caller may not execute the operation.
	ResourceExhausted  Code = 8  // Some resource has been exhausted.
	FailedPrecondition Code = 9  // The system is not in a state required for the operation.
	Aborted            Code = 10 // The operation was aborted, typically by a concurrency issue.
	OutOfRange         Code = 11 // The operation was attempted past the valid range.
	Unimplemented      Code = 12 // The operation is not implemented or not supported.
	Internal           Code = 13 // Internal error: an invariant of the system is broken.
	Unavailable        Code = 14 // The service is currently unavailable; retrying may help.
	DataLoss           Code = 15 // Unrecoverable data loss or corruption.
	Unauthenticated    Code = 16 // The request lacks valid authentication credentials.
)

// maxCode is the highest code gRPC defines.
const maxCode = Unauthenticated

var codeNames = [...]string{
	OK:                 "OK",
	Canceled:           "CANCELLED",
	Unknown:            "UNKNOWN",
	InvalidArgument:    "INVALID_ARGUMENT",
	DeadlineExceeded:   "DEADLINE_EXCEEDED",
	NotFound:           "NOT_FOUND",
	AlreadyExists:      "ALREADY_EXISTS",
	PermissionDenied:   "PERMISSION_DENIED",
	ResourceExhausted:  "RESOURCE_EXHAUSTED",
	FailedPrecondition: "FAILED_PRECONDITION",
	Aborted:            "ABORTED",
	OutOfRange:         "OUT_OF_RANGE",
	Unimplemented:      "UNIMPLEMENTED",
	Internal:           "INTERNAL",
	Unavailable:        "UNAVAILABLE",
	DataLoss:           "DATA_LOSS",
	Unauthenticated:    "UNAUTHENTICATED",
}

// wireCodes are the grpc-status values of the defined codes, precomputed so
// that writing a status does not allocate.
var wireCodes = [...]string{
	"0", "1", "2", "3", "4", "5", "6", "7", "8",
	"9", "10", "11", "12", "13", "14", "15", "16",
}

// String returns the code's name as gRPC's doc/statuscodes.md spells it
// ("OK", "CANCELLED", ..., "UNAUTHENTICATED"), or "CODE(n)" for a value gRPC
// does not define.
func (c Code) String() string {
	if c <= maxCode {
		return codeNames[c]
	}
	return "CODE(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// WireCode returns c as a grpc-status header value: its decimal digits. It
// does not allocate for the codes gRPC defines (0..16).
func WireCode(c Code) string {
	if c <= maxCode {
		return wireCodes[c]
	}
	return strconv.FormatUint(uint64(c), 10)
}

// AppendCode appends c in its grpc-status form (decimal digits) to dst and
// returns the extended slice.
func AppendCode(dst []byte, c Code) []byte {
	return strconv.AppendUint(dst, uint64(c), 10)
}

// parseCode parses a grpc-status value: one or more ASCII decimal digits
// whose value fits in 32 bits. It accepts leading zeros.
func parseCode(s string) (Code, bool) {
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + uint64(d)
		if v > 1<<32-1 {
			return 0, false
		}
	}
	return Code(v), true
}
