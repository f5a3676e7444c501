package stream

import "github.com/h2grpc/h2grpc/metadata"

// Header is one header block of a call, decoded: the request headers, the
// response headers, or the trailers. The connection fills it from HPACK
// fields on receipt and encodes it on send, so the call layers never see raw
// header fields. Fields that do not apply to a block are left empty and are
// not sent.
type Header struct {
	// Request pseudo-headers.
	Method    string // :method
	Scheme    string // :scheme
	Authority string // :authority
	Path      string // :path

	// Status is the response's :status; 0 when absent.
	Status int

	ContentType    string // content-type
	UserAgent      string // user-agent
	TE             string // te
	Timeout        string // grpc-timeout, raw
	Encoding       string // grpc-encoding
	AcceptEncoding string // grpc-accept-encoding

	// Status of the call, in its wire form (trailers or trailers-only).
	GRPCStatus  string // grpc-status, raw digits; "" when absent
	GRPCMessage string // grpc-message, percent-encoded
	GRPCDetails string // grpc-status-details-bin, base64

	// MD is the application metadata: every field that is not reserved,
	// with -bin values decoded to their bytes.
	MD metadata.MD

	// Invalid, when not empty, says why the block could not be taken as it
	// came (for example a -bin value that is not base64). The fields above
	// hold what could be decoded.
	Invalid string
}
