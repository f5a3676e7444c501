package grpccompat

import (
	"testing"

	"google.golang.org/grpc/encoding"

	"github.com/h2grpc/h2grpc/method"
)

// testCodec is a registered codec; its tag tells registrations apart.
type testCodec struct{ tag string }

func (testCodec) Name() string                        { return "h2grpc-grpccompat-test" }
func (testCodec) Marshal(any) ([]byte, error)         { return nil, nil }
func (testCodec) Unmarshal([]byte, any) error         { return nil }
func (uncomparableCodec) Name() string                { return "h2grpc-grpccompat-uncomparable" }
func (uncomparableCodec) Marshal(any) ([]byte, error) { return nil, nil }
func (uncomparableCodec) Unmarshal([]byte, any) error { return nil }

type uncomparableCodec struct{ _ []byte }

func tagOf(t *testing.T, c method.Codec) string {
	t.Helper()
	a, ok := c.(codec)
	if !ok {
		t.Fatalf("codec is a %T", c)
	}
	return a.c.(testCodec).tag
}

func TestCodecForReusesAdapterWhileRegistrationStands(t *testing.T) {
	const sub = "h2grpc-grpccompat-test"
	if CodecFor("proto") != method.Proto || CodecFor("") != method.Proto {
		t.Error("proto is not method.Proto")
	}
	if CodecFor("h2grpc-grpccompat-none") != nil {
		t.Error("an unregistered subtype has a codec")
	}
	encoding.RegisterCodec(testCodec{tag: "first"})
	c1 := CodecFor(sub)
	if got := tagOf(t, c1); got != "first" {
		t.Fatalf("codec %q, want first", got)
	}
	if n := testing.AllocsPerRun(10, func() { CodecFor(sub); ContentType(sub) }); n != 0 && !raceEnabled {
		t.Errorf("CodecFor and ContentType of a known subtype allocate %v times", n)
	}
	if got := ContentType(sub); got != "application/grpc+"+sub {
		t.Errorf("ContentType = %q", got)
	}
	encoding.RegisterCodec(testCodec{tag: "second"}) // replaced: the adapter follows
	if got := tagOf(t, CodecFor(sub)); got != "second" {
		t.Fatalf("codec %q after the new registration, want second", got)
	}
	encoding.RegisterCodec(uncomparableCodec{}) // found each time, never cached
	for range 2 {
		if c := CodecFor("h2grpc-grpccompat-uncomparable"); c == nil || c.Name() != "h2grpc-grpccompat-uncomparable" {
			t.Fatalf("uncomparable codec: %v", c)
		}
	}
	if got := ContentType("x"); got != "application/grpc+x" {
		t.Errorf("ContentType(x) = %q", got)
	}
}

// keepingCodec unmarshals by keeping the bytes, as a pass-through codec
// does: grpc-go lets an encoding.Codec keep the buffer it is given.
type keepingCodec struct{}

func (keepingCodec) Name() string                { return "h2grpc-grpccompat-keeping" }
func (keepingCodec) Marshal(any) ([]byte, error) { return nil, nil }
func (keepingCodec) Unmarshal(b []byte, v any) error {
	*v.(*[]byte) = b
	return nil
}

func TestCodecMayKeepUnmarshalBuffer(t *testing.T) {
	c := Codec(keepingCodec{})
	b := []byte("first")
	var kept []byte
	if err := c.Unmarshal(b, &kept); err != nil {
		t.Fatal(err)
	}
	copy(b, "reuse") // the caller recycles its buffer
	if string(kept) != "first" {
		t.Errorf("kept %q after the caller reused its buffer, want %q", kept, "first")
	}
	if err := c.Unmarshal([]byte{}, &kept); err != nil || kept != nil {
		t.Errorf("empty message: kept %#v, %v; want nil, as grpc-go gives", kept, err)
	}
}
