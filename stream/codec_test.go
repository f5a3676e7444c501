package stream_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/method"
	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// received makes the Message a ReceiveStream would deliver for payload.
func received(t *testing.T, payload []byte, compressed bool) stream.Message {
	t.Helper()
	var d stream.Decoder
	flag := byte(0)
	if compressed {
		flag = 1
	}
	frame := append([]byte{flag, byte(len(payload) >> 24), byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload))}, payload...)
	_, msg, ok, err := d.Feed(frame)
	if err != nil || !ok {
		t.Fatalf("decode: %v %v", ok, err)
	}
	return msg
}

func TestMarshalUnmarshalEachCompressor(t *testing.T) {
	in := wrapperspb.String(strings.Repeat("h2grpc ", 1000))
	for _, name := range append(compression.Names(), "identity") {
		t.Run(name, func(t *testing.T) {
			comp := compression.Get(name) // nil for identity
			buf, compressed, err := stream.Marshal(method.Proto, comp, 0, in)
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := proto.Marshal(in)
			if comp != nil && len(buf.B) >= len(plain)/4 {
				t.Errorf("%d bytes compressed from %d", len(buf.B), len(plain))
			}
			if comp == nil && string(buf.B) != string(plain) {
				t.Error("identity payload is not the plain encoding")
			}
			out := new(wrapperspb.StringValue)
			if compressed != (comp != nil) {
				t.Errorf("compressed = %v", compressed)
			}
			err = stream.Unmarshal(received(t, buf.B, compressed), method.Proto, comp, 1<<20, out)
			buf.Release()
			if err != nil || out.Value != in.Value {
				t.Fatalf("round trip: %v", err)
			}
		})
	}
}

func TestUnmarshalErrors(t *testing.T) {
	gzip := compression.Get("gzip")
	big, _, _ := stream.Marshal(method.Proto, gzip, 0, wrapperspb.String(strings.Repeat("x", 64<<10)))
	defer big.Release()
	for _, tc := range []struct {
		name       string
		payload    []byte
		compressed bool
		comp       compression.Compressor
		limit      int
		want       status.Code
	}{
		{"compressed flag without encoding", []byte{1, 2, 3}, true, nil, 1 << 20, status.Internal},
		{"corrupt compressed data", []byte{1, 2, 3}, true, gzip, 1 << 20, status.Internal},
		{"inflates past the limit", big.B, true, gzip, 32 << 10, status.ResourceExhausted},
		{"not a protobuf", []byte{0xff, 0xff}, false, nil, 1 << 20, status.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := stream.Unmarshal(received(t, tc.payload, tc.compressed), method.Proto, tc.comp, tc.limit, new(wrapperspb.StringValue))
			if status.CodeOf(err) != tc.want {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// A nil message and an empty encoding go out as an empty, uncompressed
// payload, as grpc-go sends them.
func TestMarshalEmpty(t *testing.T) {
	for _, v := range []any{nil, &wrapperspb.StringValue{}} {
		buf, compressed, err := stream.Marshal(method.Proto, compression.Get("gzip"), 0, v)
		if err != nil || compressed || len(buf.B) != 0 {
			t.Errorf("Marshal(%v): %d bytes, compressed %v, %v; want 0, false, nil", v, len(buf.B), compressed, err)
		}
		buf.Release()
	}
}

// Marshal measures a message each time it sends it: one changed since its
// last send (a submessage grown, one removed) goes out as it is now, not
// with the sizes the last send left in it (the proto codec encodes with
// the sizes its own measuring left, method.SizedMarshaler).
func TestMarshalMeasuresEachSend(t *testing.T) {
	inner := &structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue("a")}}
	msg := &structpb.ListValue{Values: []*structpb.Value{structpb.NewListValue(inner), structpb.NewBoolValue(true)}}
	for i, change := range []func(){
		func() {},
		func() { inner.Values[0] = structpb.NewStringValue(strings.Repeat("grown ", 40)) },
		func() { inner.Values = append(inner.Values, structpb.NewNumberValue(7)) },
		func() { msg.Values = msg.Values[1:] },
	} {
		change()
		buf, _, err := stream.Marshal(method.Proto, nil, 0, msg)
		if err != nil {
			t.Fatal(err)
		}
		got := new(structpb.ListValue)
		err = proto.Unmarshal(buf.B, got)
		buf.Release()
		if err != nil || !proto.Equal(got, msg) {
			t.Fatalf("send %d: decoded %v (%v), want %v", i, got, err, msg)
		}
	}
}

// BenchmarkMarshal marshals a small message with a submessage, the shape of
// the benchmark harness's ping-pong request.
func BenchmarkMarshal(b *testing.B) {
	msg := &structpb.ListValue{Values: []*structpb.Value{
		structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue("x")}}),
		structpb.NewNumberValue(1),
	}}
	b.ReportAllocs()
	for b.Loop() {
		buf, _, err := stream.Marshal(method.Proto, nil, 0, msg)
		if err != nil {
			b.Fatal(err)
		}
		buf.Release()
	}
}
