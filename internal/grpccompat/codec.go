package grpccompat

import (
	"reflect"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/encoding"

	"github.com/h2grpc/h2grpc/method"
)

// CodecFor returns the codec for a content-subtype: h2grpc's protobuf codec
// for "proto", else a codec registered with grpc-go's encoding.RegisterCodec
// under that name, else nil. Codecs registered only with
// encoding.RegisterCodecV2 are not found: their interface is built on
// grpc-go's mem package, which h2grpc does not use.
//
// The adapter of a registered codec is made once and reused while the
// registration stays the same, so a call does not allocate one.
func CodecFor(subtype string) method.Codec {
	if subtype == "" || subtype == "proto" {
		return method.Proto
	}
	c := encoding.GetCodec(subtype)
	if c == nil {
		return nil
	}
	if a, ok := (*adapters.Load())[subtype]; ok && a.from == c {
		return a.codec
	}
	mc := Codec(c)
	if reflect.TypeOf(c).Comparable() { // a.from == c above cannot panic
		storeAdapter(subtype, adapter{from: c, codec: mc, contentType: "application/grpc+" + subtype})
	}
	return mc
}

// ContentType returns "application/grpc+" + subtype, without allocating
// for "proto" and the subtypes CodecFor has found.
func ContentType(subtype string) string {
	if subtype == "proto" {
		return "application/grpc+proto"
	}
	if a, ok := (*adapters.Load())[subtype]; ok {
		return a.contentType
	}
	return "application/grpc+" + subtype
}

// adapter is what CodecFor made for a registered codec.
type adapter struct {
	from        encoding.Codec // the registered codec; of a comparable type
	codec       method.Codec   // its adapter
	contentType string         // "application/grpc+" + its content-subtype
}

// adapters maps content-subtypes to their adapters. Readers load it
// without a lock; writers replace it under adaptersMu. It holds at most
// one entry per name registered with encoding.RegisterCodec.
var (
	adapters   atomic.Pointer[map[string]adapter]
	adaptersMu sync.Mutex
)

func init() { adapters.Store(&map[string]adapter{}) }

func storeAdapter(subtype string, a adapter) {
	adaptersMu.Lock()
	defer adaptersMu.Unlock()
	old := *adapters.Load()
	m := make(map[string]adapter, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[subtype] = a
	adapters.Store(&m)
}

// Codec adapts a grpc-go codec to method.Codec.
func Codec(c encoding.Codec) method.Codec { return codec{c} }

type codec struct{ c encoding.Codec }

func (c codec) Name() string { return c.c.Name() }

func (c codec) Marshal(dst []byte, v any) ([]byte, error) {
	b, err := c.c.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// Unmarshal hands the codec a copy of b, which it may keep: grpc-go gives
// an encoding.Codec a buffer of its own (mem.BufferSlice.Materialize, nil
// when empty), and a pass-through codec that aliases it into the message
// relies on that, while b is recycled once Unmarshal returns
// (method.Codec).
func (c codec) Unmarshal(b []byte, v any) error {
	var own []byte
	if len(b) > 0 {
		own = make([]byte, len(b))
		copy(own, b)
	}
	return c.c.Unmarshal(own, v)
}
