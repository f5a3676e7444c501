package status

// This file maps HTTP statuses and HTTP/2 error codes to gRPC codes (gRPC's
// doc/http-grpc-status-mapping.md; SPEC.md, "Responses" and "RST_STREAM and
// connection events").

// FromHTTPStatus returns the code a client reports for a response that has
// no grpc-status (a proxy answered): 400 INTERNAL, 401 UNAUTHENTICATED, 403
// PERMISSION_DENIED, 404 UNIMPLEMENTED, 429, 502, 503 and 504 UNAVAILABLE,
// anything else UNKNOWN. Callers skip 1xx responses before asking.
func FromHTTPStatus(httpStatus int) Code {
	switch httpStatus {
	case 400:
		return Internal
	case 401:
		return Unauthenticated
	case 403:
		return PermissionDenied
	case 404:
		return Unimplemented
	case 429, 502, 503, 504:
		return Unavailable
	}
	return Unknown
}

// HTTP/2 error codes (RFC 9113, section 7) that map to something other than
// INTERNAL.
const (
	http2RefusedStream      = 0x7
	http2Cancel             = 0x8
	http2EnhanceYourCalm    = 0xb
	http2InadequateSecurity = 0xc
)

// FromHTTP2ErrCode returns the code for an RST_STREAM or GOAWAY error code,
// given as the raw number RFC 9113 assigns: CANCEL gives CANCELLED,
// REFUSED_STREAM UNAVAILABLE, ENHANCE_YOUR_CALM RESOURCE_EXHAUSTED,
// INADEQUATE_SECURITY PERMISSION_DENIED, and every other code, NO_ERROR
// included, INTERNAL. A client whose deadline passed reports
// DEADLINE_EXCEEDED for its own CANCEL; that is the caller's decision.
func FromHTTP2ErrCode(code uint32) Code {
	switch code {
	case http2Cancel:
		return Canceled
	case http2RefusedStream:
		return Unavailable
	case http2EnhanceYourCalm:
		return ResourceExhausted
	case http2InadequateSecurity:
		return PermissionDenied
	}
	return Internal
}
