package compression

import "strings"

// This file holds the encoding negotiation of SPEC.md, "Compression": never
// compress with an algorithm the peer did not advertise.

// Negotiate returns the grpc-encoding a server answers a request with: the
// request's own grpc-encoding when it is a built-in algorithm, else ""
// (identity, no compression). It never returns an algorithm the client did
// not advertise.
//
// A client advertises an algorithm by naming it in grpc-accept-encoding
// (acceptEncoding, comma-separated, spaces allowed) or by compressing its
// request with it. gRPC's compression document lets a peer leave encodings it
// supports out of grpc-accept-encoding, so the request's own encoding counts
// as advertised whatever the list says; the list therefore cannot change the
// answer, and is taken for the day a server has a preference of its own (use
// [Advertises] for that check). An identity request gets an identity answer,
// as the default is no compression. It does not allocate.
func Negotiate(requestEncoding, acceptEncoding string) string {
	if Get(requestEncoding) == nil {
		return ""
	}
	// The request's own encoding is advertised by the request itself;
	// Advertises(acceptEncoding, requestEncoding) is not needed.
	_ = acceptEncoding
	return requestEncoding
}

// Advertises reports whether the grpc-accept-encoding value acceptEncoding, a
// comma-separated list whose elements may have spaces or tabs around them,
// names the encoding name. Names match exactly, as grpc-encoding values do;
// an empty name never matches. It does not allocate.
func Advertises(acceptEncoding, name string) bool {
	if name == "" {
		return false
	}
	for rest := acceptEncoding; ; {
		elem, more, found := strings.Cut(rest, ",")
		if strings.Trim(elem, " \t") == name {
			return true
		}
		if !found {
			return false
		}
		rest = more
	}
}
