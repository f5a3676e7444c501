package method

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Codec is the seam between messages and bytes. Implementations are safe for
// concurrent use.
type Codec interface {
	// Name returns the content-subtype, as in "application/grpc+proto":
	// "proto" for protobuf.
	Name() string
	// Marshal appends the encoding of v to dst and returns the extended slice,
	// so callers can marshal into pooled buffers.
	Marshal(dst []byte, v any) ([]byte, error)
	// Unmarshal decodes b into v. It must not keep b, or any part of it, after
	// returning: callers recycle the buffer.
	Unmarshal(b []byte, v any) error
}

// Proto is the protobuf codec, content-subtype "proto". Values must be
// [proto.Message]s; anything else is an error. Unmarshal replaces the
// message's contents and copies what it keeps out of b.
var Proto Codec = protoCodec{}

type protoCodec struct{}

var (
	_ Codec          = protoCodec{}
	_ SizedMarshaler = protoCodec{}
)

// Sizer is what a Codec may add to say how large v's encoding will be, so
// callers can take a buffer of the right size from a pool instead of
// growing one while marshalling.
type Sizer interface {
	Size(v any) int
}

// SizedMarshaler is what a Sizer may add to marshal a value it has just
// measured without measuring it again: protobuf's Marshal walks the message
// once to size it and once to encode it, and a caller that sized v for its
// buffer (Size) would otherwise pay for the first walk twice.
type SizedMarshaler interface {
	Sizer
	// MarshalSized is Marshal for a v that Size measured last, on the
	// same goroutine, and that has not changed since. On any other v its
	// output is undefined.
	MarshalSized(dst []byte, v any) ([]byte, error)
}

// SizeHint returns c's estimate of v's encoded size when c is a Sizer, else
// fallback.
func SizeHint(c Codec, v any, fallback int) int {
	if s, ok := c.(Sizer); ok {
		return s.Size(v)
	}
	return fallback
}

// Size returns the encoded size of v, or 0 when v is not a proto.Message.
func (protoCodec) Size(v any) int {
	if m, ok := v.(proto.Message); ok {
		return proto.Size(m)
	}
	return 0
}

func (protoCodec) Name() string { return "proto" }

func (protoCodec) Marshal(dst []byte, v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return dst, fmt.Errorf("method: proto codec: cannot marshal %T: not a proto.Message", v)
	}
	out, err := proto.MarshalOptions{}.MarshalAppend(dst, m)
	if err != nil {
		return dst, fmt.Errorf("method: proto codec: marshal %T: %w", v, err)
	}
	return out, nil
}

// MarshalSized marshals with the sizes Size left in the message and its
// submessages (UseCachedSize), as grpc-go's proto codec does.
func (protoCodec) MarshalSized(dst []byte, v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return dst, fmt.Errorf("method: proto codec: cannot marshal %T: not a proto.Message", v)
	}
	out, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(dst, m)
	if err != nil {
		return dst, fmt.Errorf("method: proto codec: marshal %T: %w", v, err)
	}
	return out, nil
}

func (protoCodec) Unmarshal(b []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("method: proto codec: cannot unmarshal into %T: not a proto.Message", v)
	}
	if !m.ProtoReflect().IsValid() {
		return fmt.Errorf("method: proto codec: cannot unmarshal into a nil %T", v)
	}
	// proto.Unmarshal copies bytes and strings out of b (buffer aliasing is
	// an option it does not set), so b may be recycled afterwards.
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("method: proto codec: unmarshal %T: %w", v, err)
	}
	return nil
}
