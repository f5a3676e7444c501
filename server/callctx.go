package server

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/stream"
)

// callContext is a handler's context: the stream's context (with the
// request's deadline, if any; see connection.Stream.Context) plus, in one value, what a chain of
// context.WithValue would hold: the call itself (CallFromContext),
// h2grpc's incoming metadata, and what grpc-go gives its handlers:
// grpc-go's incoming metadata (with the four request headers grpc-go shows
// handlers besides the custom ones: :authority, user-agent, content-type
// and grpc-accept-encoding), the peer (with the handshake's AuthInfo on a
// connection with credentials), and the transport stream that
// grpc.SetHeader, grpc.SendHeader, grpc.SetTrailer and grpc.Method use.
//
// It lives inside its Call, so a call's context costs no allocation of its
// own. grpc-go's metadata and the peer, which few handlers read, are made
// on first use: every lookup returns the same MD and Peer, and lookups may
// come from any goroutine. Deadline, Done and Err are the embedded
// context's, the stream's (connection.Stream.Context), and so is
// AfterFunc: contexts derived from it register with the stream's context
// as they would with a context.WithCancel through a chain of values.
type callContext struct {
	context.Context
	c *Call
	h *stream.Header // the request's header block; h.MD is h2grpc's incoming metadata

	// peer is made on first use, as few handlers ask for it: kept
	// inline, it took the Call to the next size class.
	peer atomic.Pointer[peer.Peer]

	// grpcMD is made on first use too; a pointer, not a sync.Once and a
	// map, which took the Call to the next size class.
	grpcMD atomic.Pointer[grpcMDBox]
}

// grpcMDBox holds grpc-go's incoming metadata and, in the same
// allocation, the values of the four request headers it shows.
type grpcMDBox struct {
	md   grpcmd.MD
	vals [4]string
}

func (x *callContext) Value(key any) any {
	switch key {
	case any(callKey{}):
		return x.c
	case keys.incoming:
		return x.h.MD
	case keys.grpcIncoming:
		return x.grpcMDFor()
	case keys.peer:
		return x.peerInfo()
	case keys.transportStream:
		return grpcTransportStream{x.c}
	}
	return x.Context.Value(key)
}

// afterFuncer is the method the context package looks for on a parent
// context that is not one of its own: it registers a child's cancellation
// with it instead of starting a goroutine to watch the parent's Done.
type afterFuncer interface {
	AfterFunc(func()) (stop func() bool)
}

// AfterFunc passes the stream context's on, so that the contexts a
// handler derives from its own (context.WithCancel, WithTimeout,
// AfterFunc) are registered with the stream's context, as they would be
// with a context.WithCancel, instead of each starting a goroutine.
func (x *callContext) AfterFunc(f func()) (stop func() bool) {
	if a, ok := x.Context.(afterFuncer); ok {
		return a.AfterFunc(f)
	}
	return context.AfterFunc(x.Context, f)
}

// keepAfterFunc gives ctx, a context made over base (a handler's context
// wrapped with more values), base's AfterFunc, for the same reason as
// callContext.AfterFunc.
func keepAfterFunc(ctx context.Context, base afterFuncer) context.Context {
	if _, ok := ctx.(afterFuncer); ok {
		return ctx
	}
	return &withAfterFunc{ctx, base}
}

type withAfterFunc struct {
	context.Context
	base afterFuncer
}

func (w *withAfterFunc) AfterFunc(f func()) (stop func() bool) { return w.base.AfterFunc(f) }

func (w *withAfterFunc) String() string { return contextName(w.Context) }

// String names the context when it is printed, as the context package's
// own types do.
func (x *callContext) String() string {
	return contextName(x.Context) + ".WithValue(h2grpc server call " + x.c.desc.Path + ")"
}

func contextName(ctx context.Context) string {
	if s, ok := ctx.(interface{ String() string }); ok {
		return s.String()
	}
	return "context"
}

// peerInfo returns the client as grpc-go's peer package describes it, the
// same Peer on every call, from any goroutine.
func (x *callContext) peerInfo() *peer.Peer {
	if p := x.peer.Load(); p != nil {
		return p
	}
	c := x.c
	p := &peer.Peer{Addr: c.Peer(), LocalAddr: c.st.Conn().LocalAddr(), AuthInfo: c.AuthInfo()}
	if !x.peer.CompareAndSwap(nil, p) {
		p = x.peer.Load()
	}
	return p
}

// grpcMDFor returns grpc-go's view of the request metadata, made on first
// use: h2grpc's plus the four request headers grpc-go shows. The user
// metadata's value slices are shared, as the chain of values did.
func (x *callContext) grpcMDFor() grpcmd.MD {
	if b := x.grpcMD.Load(); b != nil {
		return b.md
	}
	h := x.h
	b := new(grpcMDBox)
	b.md = make(grpcmd.MD, len(h.MD)+4)
	for k, vs := range h.MD {
		b.md[k] = vs
	}
	for i, kv := range [...]struct{ k, v string }{
		{":authority", h.Authority},
		{"user-agent", h.UserAgent},
		{"content-type", h.ContentType},
		{"grpc-accept-encoding", h.AcceptEncoding},
	} {
		if kv.v != "" {
			b.vals[i] = kv.v
			b.md[kv.k] = b.vals[i : i+1 : i+1]
		}
	}
	if !x.grpcMD.CompareAndSwap(nil, b) {
		b = x.grpcMD.Load() // another goroutine's, so that every lookup returns the same MD
	}
	return b.md
}

// initCallContext makes c's context over parent, the stream's context (with
// the request's deadline, if any), for the request header h.
func (c *Call) initCallContext(parent context.Context, h *stream.Header) {
	x := &c.cctx
	x.Context, x.c, x.h = parent, c, h
	c.ctx = x
	if !keys.ok {
		c.ctx = keepAfterFunc(withValueChain(parent, c, h), x)
	}
}

// withValueChain is callContext as a chain of context.WithValue: the way
// to give handlers their values should keys not have found the context keys
// of grpc-go's functions.
func withValueChain(ctx context.Context, c *Call, h *stream.Header) context.Context {
	ctx = context.WithValue(metadata.NewIncomingContext(ctx, h.MD), callKey{}, c)
	x := &c.cctx
	ctx = grpcmd.NewIncomingContext(ctx, x.grpcMDFor())
	ctx = peer.NewContext(ctx, x.peerInfo())
	return grpc.NewContextWithServerTransportStream(ctx, grpcTransportStream{c})
}

// keys holds the context keys that metadata.FromIncomingContext, grpc-go's
// metadata.FromIncomingContext, peer.FromContext and
// grpc.ServerTransportStreamFromContext look up. grpc-go's key types are
// unexported; each function is asked once, at start-up, to look in a
// context that notes the key it is asked for. ok is false if any of them
// did not make exactly one lookup: then handlers get a chain of
// context.WithValue instead, which works whatever the functions look for.
var keys = findContextKeys()

type contextKeys struct {
	incoming, grpcIncoming, peer, transportStream any
	ok                                            bool
}

func findContextKeys() contextKeys {
	var k contextKeys
	var ok [4]bool
	k.incoming, ok[0] = recordKey(func(ctx context.Context) { metadata.FromIncomingContext(ctx) })
	k.grpcIncoming, ok[1] = recordKey(func(ctx context.Context) { grpcmd.FromIncomingContext(ctx) })
	k.peer, ok[2] = recordKey(func(ctx context.Context) { peer.FromContext(ctx) })
	k.transportStream, ok[3] = recordKey(func(ctx context.Context) { grpc.ServerTransportStreamFromContext(ctx) })
	k.ok = ok == [4]bool{true, true, true, true}
	if k.ok {
		// The keys must be distinct from each other and from callKey, and
		// usable in a switch (comparable).
		seen := map[any]bool{callKey{}: true}
		for _, key := range [...]any{k.incoming, k.grpcIncoming, k.peer, k.transportStream} {
			if seen[key] {
				k.ok = false
			}
			seen[key] = true
		}
	}
	return k
}

// recordKey runs lookup on a context that notes the keys asked of it, and
// returns the key if there was exactly one, of a comparable type.
func recordKey(lookup func(context.Context)) (key any, ok bool) {
	defer func() {
		if recover() != nil { // an uncomparable key in the map above, or a surprise
			key, ok = nil, false
		}
	}()
	var r keyRecorder
	r.Context = context.Background()
	lookup(&r)
	if len(r.keys) != 1 {
		return nil, false
	}
	_ = map[any]bool{r.keys[0]: true} // panics if not comparable
	return r.keys[0], true
}

type keyRecorder struct {
	context.Context
	keys []any
}

func (r *keyRecorder) Value(key any) any {
	r.keys = append(r.keys, key)
	return nil
}
