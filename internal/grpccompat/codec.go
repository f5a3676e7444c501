package grpccompat

import (
	"google.golang.org/grpc/encoding"

	"github.com/h2grpc/h2grpc/method"
)

// CodecFor returns the codec for a content-subtype: h2grpc's protobuf codec
// for "proto", else a codec registered with grpc-go's encoding.RegisterCodec
// under that name, else nil. Codecs registered only with
// encoding.RegisterCodecV2 are not found: their interface is built on
// grpc-go's mem package, which h2grpc does not use.
func CodecFor(subtype string) method.Codec {
	if subtype == "" || subtype == "proto" {
		return method.Proto
	}
	if c := encoding.GetCodec(subtype); c != nil {
		return Codec(c)
	}
	return nil
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

func (c codec) Unmarshal(b []byte, v any) error { return c.c.Unmarshal(b, v) }
