package stream

import (
	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/method"
	"github.com/h2grpc/h2grpc/status"
)

// This file turns values into message payloads and back: the codec, then
// the call's compression, both ways. Server and client calls use it alike.

// Marshal encodes v with codec into a pooled buffer and, when comp is not
// nil, compresses the encoding into another; the caller sends B, flagged
// compressed as Marshal says, then releases the buffer. As in grpc-go, a
// nil v is the empty message. An encoding shorter than minSize bytes, and
// an empty one, is sent uncompressed (flag 0): compressing it would cost
// more than it saves.
func Marshal(codec method.Codec, comp compression.Compressor, minSize int, v any) (buf Buffer, compressed bool, err error) {
	if v == nil {
		return GetBuffer(0), false, nil
	}
	var data []byte
	if sm, ok := codec.(method.SizedMarshaler); ok {
		// Measured once, for the buffer, and encoded without measuring
		// again.
		buf = GetBuffer(sm.Size(v))
		data, err = sm.MarshalSized(buf.B, v)
	} else {
		buf = GetBuffer(method.SizeHint(codec, v, 512))
		data, err = codec.Marshal(buf.B, v)
	}
	buf.B = data
	if err != nil {
		buf.Release()
		return Buffer{}, false, status.Newf(status.Internal, "grpc: error while marshaling: %v", err)
	}
	if comp == nil || len(data) == 0 || len(data) < minSize {
		return buf, false, nil
	}
	out := GetBuffer(len(data)/2 + 64)
	out.B, err = comp.Compress(out.B, data)
	buf.Release()
	if err != nil {
		out.Release()
		return Buffer{}, false, status.Newf(status.Internal, "grpc: error while compressing: %v", err)
	}
	return out, true, nil
}

// Unmarshal decodes msg into v with codec, first decompressing it with
// comp when its flag says it is compressed; limit bounds the decompressed
// size (RESOURCE_EXHAUSTED past it). It releases msg. A compressed message
// on a call without an encoding is INTERNAL, as the spec says.
func Unmarshal(msg Message, codec method.Codec, comp compression.Compressor, limit int, v any) error {
	defer msg.Release()
	data := msg.Data
	if msg.Compressed {
		if comp == nil {
			return status.New(status.Internal, "grpc: compressed flag set on a message with no grpc-encoding")
		}
		out := GetBuffer(min(2*len(data)+64, limit))
		defer out.Release()
		var err error
		if out.B, err = comp.Decompress(out.B, data, limit); err != nil {
			if status.CodeOf(err) == status.ResourceExhausted {
				return status.Newf(status.ResourceExhausted,
					"grpc: received message after decompression larger than max %d", limit)
			}
			return status.Newf(status.Internal, "grpc: failed to decompress the received message: %v", err)
		}
		data = out.B
	}
	if err := codec.Unmarshal(data, v); err != nil {
		return status.Newf(status.Internal, "grpc: failed to unmarshal the received message: %v", err)
	}
	return nil
}
