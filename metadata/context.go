package metadata

import "context"

type incomingKey struct{}
type outgoingKey struct{}

// NewIncomingContext returns ctx carrying md as the metadata a server call
// received. The server does this for handlers; tests may too.
func NewIncomingContext(ctx context.Context, md MD) context.Context {
	return context.WithValue(ctx, incomingKey{}, md)
}

// FromIncomingContext returns the metadata a server call received. The MD
// is shared: copy it before changing it.
func FromIncomingContext(ctx context.Context) (MD, bool) {
	md, ok := ctx.Value(incomingKey{}).(MD)
	return md, ok
}

// NewOutgoingContext returns ctx carrying md to be sent with calls made
// with it, replacing any metadata ctx already carried for sending.
func NewOutgoingContext(ctx context.Context, md MD) context.Context {
	return context.WithValue(ctx, outgoingKey{}, md)
}

// AppendToOutgoingContext returns ctx with the key-value pairs kv added to
// the metadata it carries for sending; keys are lowercased. It panics on an
// odd number of arguments, as grpc-go's does.
func AppendToOutgoingContext(ctx context.Context, kv ...string) context.Context {
	if len(kv)%2 == 1 {
		panic("metadata: AppendToOutgoingContext got an odd number of arguments")
	}
	md, _ := FromOutgoingContext(ctx)
	md = md.Copy()
	if md == nil {
		md = MD{}
	}
	for i := 0; i < len(kv); i += 2 {
		md.Append(kv[i], kv[i+1])
	}
	return NewOutgoingContext(ctx, md)
}

// FromOutgoingContext returns the metadata ctx carries for sending. The MD
// is shared: copy it before changing it.
func FromOutgoingContext(ctx context.Context) (MD, bool) {
	md, ok := ctx.Value(outgoingKey{}).(MD)
	return md, ok
}
