package server

import (
	"context"

	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/status"
)

type callKey struct{}

// CallFromContext returns the call a handler's context belongs to, or nil.
func CallFromContext(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// SetHeader adds md to the response headers of the call ctx belongs to,
// as grpc-go's grpc.SetHeader does.
func SetHeader(ctx context.Context, md metadata.MD) error {
	c := CallFromContext(ctx)
	if c == nil {
		return errNoCall
	}
	return c.SetHeader(md)
}

// SendHeader adds md to the response headers and sends them now.
func SendHeader(ctx context.Context, md metadata.MD) error {
	c := CallFromContext(ctx)
	if c == nil {
		return errNoCall
	}
	return c.SendHeader(md)
}

// SetTrailer adds md to the trailers of the call ctx belongs to.
func SetTrailer(ctx context.Context, md metadata.MD) error {
	c := CallFromContext(ctx)
	if c == nil {
		return errNoCall
	}
	return c.SetTrailer(md)
}

// SetSendCompressor chooses the compression of the responses of the call
// ctx belongs to; see Call.SetSendCompressor. grpc-go's
// grpc.SetSendCompressor cannot work on h2grpc (it checks for grpc-go's own
// stream type); this is its counterpart.
func SetSendCompressor(ctx context.Context, name string) error {
	c := CallFromContext(ctx)
	if c == nil {
		return errNoCall
	}
	return c.SetSendCompressor(name)
}

// SetMessageCompression turns compression of the following responses of
// the call ctx belongs to off or back on; see Call.SetMessageCompression.
func SetMessageCompression(ctx context.Context, on bool) error {
	c := CallFromContext(ctx)
	if c == nil {
		return errNoCall
	}
	c.SetMessageCompression(on)
	return nil
}

// RecvCompressed reports whether the last request of the call ctx belongs
// to arrived compressed; see Call.RecvCompressed. It is false outside a
// call.
func RecvCompressed(ctx context.Context) bool {
	c := CallFromContext(ctx)
	return c != nil && c.RecvCompressed()
}

var errNoCall = status.New(status.Internal, "h2grpc: context is not a server call's")
