package client

import (
	"io"

	grpcmd "google.golang.org/grpc/metadata"

	"github.com/h2grpc/h2grpc/internal/grpccompat"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/stream"
)

// This file is what a call shows of the response's metadata: Header,
// Trailer, and the call options that ask for them.

// fillOptions stores what grpc.Header, grpc.Trailer, grpc.Peer and their
// h2grpc counterparts asked for, and runs grpc.OnFinish callbacks, once
// the call has ended, as grpc-go does.
func (c *Call) fillOptions() {
	o := &c.opts
	if o.header != nil || o.grpcHeader != nil {
		var md metadata.MD
		if h, _ := c.st().Recv.Header(); h != nil {
			md = responseHeaderMD(h)
		}
		if o.header != nil {
			*o.header = md
		}
		if o.grpcHeader != nil {
			*o.grpcHeader = grpcmd.MD(md)
		}
	}
	if o.trailer != nil || o.grpcTrailer != nil {
		md := c.trailerMD()
		if o.trailer != nil {
			*o.trailer = md
		}
		if o.grpcTrailer != nil {
			*o.grpcTrailer = grpcmd.MD(md)
		}
	}
	if o.peer != nil {
		*o.peer = peerOf(c.st().Conn())
	}
	for _, f := range o.onFinish {
		f(c.err)
	}
}

// Header returns the response headers' metadata, waiting for them. It
// returns nil and no error when the call ended without headers (a
// trailers-only response; RecvMsg tells the status).
func (c *Call) Header() (grpcmd.MD, error) {
	for {
		st := c.st()
		h, err := st.Recv.Header()
		switch {
		case h != nil:
			return grpcmd.MD(responseHeaderMD(h)), nil
		case err == nil || err == io.EOF:
			return nil, nil
		case c.retry(st):
			// Refused before the server saw it: wait on the new stream.
		default:
			return nil, grpccompat.Wrap(c.failureStatus(err))
		}
	}
}

// Trailer returns the trailers' metadata once RecvMsg has returned an
// error; before that it returns nil.
func (c *Call) Trailer() grpcmd.MD { return grpcmd.MD(c.trailerMD()) }

// trailerMD is the trailers' metadata as grpc-go shows it: the custom keys
// and grpc-status-details-bin, decoded.
func (c *Call) trailerMD() metadata.MD {
	tr := c.st().Recv.Trailer()
	if tr == nil {
		return nil
	}
	if tr.GRPCDetails == "" {
		return tr.MD
	}
	md := make(metadata.MD, len(tr.MD)+1)
	for k, v := range tr.MD {
		md[k] = v
	}
	if b, err := metadata.DecodeBin(tr.GRPCDetails); err == nil {
		md["grpc-status-details-bin"] = b
	}
	return md
}

// responseHeaderMD is the response headers' metadata as grpc-go shows it:
// the custom keys and content-type.
func responseHeaderMD(h *stream.Header) metadata.MD {
	md := make(metadata.MD, len(h.MD)+1)
	for k, v := range h.MD {
		md[k] = v
	}
	if h.ContentType != "" {
		md["content-type"] = []string{h.ContentType}
	}
	return md
}
