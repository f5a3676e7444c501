package method_test

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/h2grpc/h2grpc/method"
)

func TestProtoName(t *testing.T) {
	if got := method.Proto.Name(); got != "proto" {
		t.Errorf("Proto.Name() = %q, want \"proto\"", got)
	}
}

func TestProtoMarshalAppends(t *testing.T) {
	msg := wrapperspb.String("hello")
	want, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dst  []byte
	}{
		{"nil", nil},
		{"prefix", []byte{0, 0, 0, 0, 0}},
		{"prefix with room", append(make([]byte, 0, 64), 1, 2, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := bytes.Clone(tt.dst)
			got, err := method.Proto.Marshal(tt.dst, msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:len(prefix)], prefix) {
				t.Errorf("Marshal changed the prefix: %x, want %x", got[:len(prefix)], prefix)
			}
			if !bytes.Equal(got[len(prefix):], want) {
				t.Errorf("Marshal appended %x, want %x", got[len(prefix):], want)
			}
			if cap(tt.dst) >= len(got) && len(tt.dst) > 0 && &got[0] != &tt.dst[:1][0] {
				t.Errorf("Marshal did not reuse a buffer with room")
			}
		})
	}
}

func TestProtoMarshalAllocs(t *testing.T) {
	msg := wrapperspb.String("hello")
	buf := make([]byte, 0, 64)
	n := testing.AllocsPerRun(100, func() {
		var err error
		if _, err = method.Proto.Marshal(buf[:0], msg); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("Marshal into a buffer with room allocates %v times, want 0", n)
	}
}

func TestProtoRejectsNonMessages(t *testing.T) {
	tests := []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"string", "hello"},
		{"bytes", []byte("x")},
		{"struct", struct{ A int }{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte{9}
			got, err := method.Proto.Marshal(dst, tt.v)
			if err == nil || !strings.Contains(err.Error(), "not a proto.Message") {
				t.Errorf("Marshal(%T) error = %v, want \"not a proto.Message\"", tt.v, err)
			}
			if !bytes.Equal(got, dst) {
				t.Errorf("Marshal(%T) returned %x on error, want dst unchanged", tt.v, got)
			}
			if err := method.Proto.Unmarshal([]byte{}, tt.v); err == nil || !strings.Contains(err.Error(), "not a proto.Message") {
				t.Errorf("Unmarshal(%T) error = %v, want \"not a proto.Message\"", tt.v, err)
			}
		})
	}
}

func TestProtoUnmarshal(t *testing.T) {
	good, err := proto.Marshal(wrapperspb.String("hi"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr bool
	}{
		{name: "empty", in: nil, want: ""},
		{name: "value", in: good, want: "hi"},
		{name: "truncated", in: good[:len(good)-1], wantErr: true},
		{name: "bad utf8", in: []byte{0x0a, 0x01, 0xff}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := wrapperspb.String("previous contents")
			err := method.Proto.Unmarshal(tt.in, m)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Unmarshal() error = %v, want error: %v", err, tt.wantErr)
			}
			if !tt.wantErr && m.GetValue() != tt.want {
				t.Errorf("Unmarshal() = %q, want %q (contents must be replaced)", m.GetValue(), tt.want)
			}
		})
	}
}

func TestProtoUnmarshalIntoNil(t *testing.T) {
	var m *wrapperspb.StringValue
	err := method.Proto.Unmarshal([]byte{0x0a, 0x01, 'a'}, m)
	if err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("Unmarshal into a nil message = %v, want an error", err)
	}
}

// TestProtoUnmarshalDoesNotRetain recycles the input buffer after Unmarshal
// and checks that the message did not change with it.
func TestProtoUnmarshalDoesNotRetain(t *testing.T) {
	tests := []struct {
		name string
		msg  proto.Message
		new  func() proto.Message
	}{
		{"string", wrapperspb.String("a string value"), func() proto.Message { return new(wrapperspb.StringValue) }},
		{"bytes", wrapperspb.Bytes([]byte("some bytes value")), func() proto.Message { return new(wrapperspb.BytesValue) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := method.Proto.Marshal(nil, tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			got := tt.new()
			if err := method.Proto.Unmarshal(b, got); err != nil {
				t.Fatal(err)
			}
			for i := range b {
				b[i] = 'X'
			}
			if !proto.Equal(got, tt.msg) {
				t.Errorf("after recycling the buffer the message is %v, want %v", got, tt.msg)
			}
		})
	}
}

func BenchmarkProtoMarshal(b *testing.B) {
	msg := wrapperspb.String(strings.Repeat("x", 100))
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = method.Proto.Marshal(buf[:0], msg); err != nil {
			b.Fatal(err)
		}
	}
}

func TestProtoSizeHint(t *testing.T) {
	m := wrapperspb.String("sized")
	want := proto.Size(m)
	if got := method.SizeHint(method.Proto, m, 512); got != want {
		t.Fatalf("SizeHint = %d, want proto.Size %d", got, want)
	}
	if got := method.SizeHint(method.Proto, "not a message", 512); got != 0 {
		t.Fatalf("SizeHint of a non-message = %d, want 0", got)
	}
	if got := method.SizeHint(noSizer{}, m, 512); got != 512 {
		t.Fatalf("SizeHint of a codec without Size = %d, want the fallback 512", got)
	}
}

type noSizer struct{ method.Codec }

// MarshalSized, right after Size, encodes what Marshal does, nested
// messages included (their sizes come from the cache Size filled in).
func TestProtoMarshalSized(t *testing.T) {
	sm := method.Proto.(method.SizedMarshaler)
	msg := &structpb.ListValue{Values: []*structpb.Value{
		structpb.NewStringValue("nested"),
		structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewNumberValue(1)}}),
	}}
	want, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	prefix := []byte{1, 2, 3}
	if n := sm.Size(msg); n != len(want) {
		t.Fatalf("Size = %d, want %d", n, len(want))
	}
	got, err := sm.MarshalSized(bytes.Clone(prefix), msg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(prefix, want...)) {
		t.Errorf("MarshalSized = %x, want %x", got, append(prefix, want...))
	}
	if _, err := sm.MarshalSized(nil, "not a message"); err == nil {
		t.Error("MarshalSized of a non-message: no error")
	}
}
