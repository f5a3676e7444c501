package stream_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// encode returns payload with its 5-byte prefix.
func encode(compressed bool, payload []byte) []byte {
	p := stream.Prefix(compressed, len(payload))
	return append(p[:], payload...)
}

// pattern returns n bytes that differ from one position to the next, so a
// misplaced byte shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestPrefix(t *testing.T) {
	tests := []struct {
		compressed bool
		n          int
		want       [stream.PrefixLen]byte
	}{
		{false, 0, [5]byte{0, 0, 0, 0, 0}},
		{true, 0, [5]byte{1, 0, 0, 0, 0}},
		{false, 258, [5]byte{0, 0, 0, 1, 2}},
		{true, 0x01020304, [5]byte{1, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		if got := stream.Prefix(tt.compressed, tt.n); got != tt.want {
			t.Errorf("Prefix(%v, %d) = %v, want %v", tt.compressed, tt.n, got, tt.want)
		}
	}
}

func TestDecoderByteByByte(t *testing.T) {
	payload := pattern(300)
	in := encode(false, payload)
	var d stream.Decoder
	for i := range in {
		n, m, done, err := d.Feed(in[i : i+1])
		if err != nil {
			t.Fatalf("Feed(byte %d): %v", i, err)
		}
		if n != 1 {
			t.Fatalf("Feed(byte %d) consumed %d bytes, want 1", i, n)
		}
		last := i == len(in)-1
		if done != last {
			t.Fatalf("Feed(byte %d): done = %v, want %v", i, done, last)
		}
		if !last && !d.Pending() {
			t.Fatalf("after byte %d: Pending() = false in the middle of a message", i)
		}
		if done {
			if !bytes.Equal(m.Data, payload) || m.Compressed {
				t.Fatalf("message = %d bytes (compressed %v), want the %d-byte payload", len(m.Data), m.Compressed, len(payload))
			}
			m.Release()
		}
	}
	if d.Pending() {
		t.Error("Pending() = true after the message completed")
	}
}

func TestDecoderManyMessagesInOneBuffer(t *testing.T) {
	sizes := []int{0, 1, 5, 1000, 0, 70000, 3}
	var in []byte
	for i, n := range sizes {
		in = append(in, encode(i%2 == 1, pattern(n))...)
	}
	var d stream.Decoder
	got := 0
	for p := in; len(p) > 0; {
		n, m, done, err := d.Feed(p)
		if err != nil {
			t.Fatalf("Feed: %v", err)
		}
		if !done {
			t.Fatalf("Feed consumed %d bytes of a complete buffer without finishing a message", n)
		}
		if want := stream.PrefixLen + sizes[got]; n != want {
			t.Errorf("message %d: Feed consumed %d bytes, want %d (one message at a time)", got, n, want)
		}
		if !bytes.Equal(m.Data, pattern(sizes[got])) || m.Compressed != (got%2 == 1) {
			t.Errorf("message %d: got %d bytes compressed=%v, want %d bytes compressed=%v",
				got, len(m.Data), m.Compressed, sizes[got], got%2 == 1)
		}
		m.Release()
		p = p[n:]
		got++
	}
	if got != len(sizes) {
		t.Errorf("decoded %d messages, want %d", got, len(sizes))
	}
}

func TestDecoderZeroLength(t *testing.T) {
	var d stream.Decoder
	in := encode(false, nil)
	n, m, done, err := d.Feed(append(in, 0xAA)) // a byte of the next message must stay
	if err != nil || !done || n != stream.PrefixLen || len(m.Data) != 0 {
		t.Fatalf("Feed(empty message) = %d, %d bytes, done %v, %v; want 5, 0 bytes, done, nil", n, len(m.Data), done, err)
	}
	m.Release()
	if d.Pending() {
		t.Error("Pending() = true after an empty message")
	}
	// An empty Feed changes nothing.
	if n, _, done, err := d.Feed(nil); n != 0 || done || err != nil {
		t.Errorf("Feed(nil) = %d, done %v, %v; want 0, false, nil", n, done, err)
	}
}

func TestDecoderCompressedFlag(t *testing.T) {
	for _, flag := range []byte{0, 1} {
		var d stream.Decoder
		_, m, done, err := d.Feed([]byte{flag, 0, 0, 0, 1, 'x'})
		if err != nil || !done {
			t.Fatalf("flag %d: done %v, err %v", flag, done, err)
		}
		if m.Compressed != (flag == 1) {
			t.Errorf("flag %d: Compressed = %v", flag, m.Compressed)
		}
		m.Release()
	}
	for _, flag := range []byte{2, 0x80, 0xFF} {
		var d stream.Decoder
		_, _, done, err := d.Feed([]byte{flag, 0, 0, 0, 1, 'x'})
		if done || status.CodeOf(err) != status.Internal {
			t.Errorf("flag %#x: done %v, err %v; want an INTERNAL error", flag, done, err)
		}
	}
}

func TestDecoderMaxSize(t *testing.T) {
	d := stream.Decoder{MaxSize: 10}
	_, m, done, err := d.Feed(encode(false, pattern(10)))
	if err != nil || !done || len(m.Data) != 10 {
		t.Fatalf("10 bytes with MaxSize 10: done %v, err %v", done, err)
	}
	m.Release()

	d = stream.Decoder{MaxSize: 10}
	n, _, done, err := d.Feed(encode(false, pattern(11)))
	if done || status.CodeOf(err) != status.ResourceExhausted {
		t.Fatalf("11 bytes with MaxSize 10: done %v, err %v; want RESOURCE_EXHAUSTED", done, err)
	}
	if n != stream.PrefixLen {
		t.Errorf("the error came after %d bytes, want right after the 5-byte prefix", n)
	}
}

func TestDecoderDefaultLimit(t *testing.T) {
	var d stream.Decoder
	in := encode(false, pattern(stream.DefaultMaxRecvSize))
	n, m, done, err := d.Feed(in)
	if err != nil || !done || n != len(in) || len(m.Data) != stream.DefaultMaxRecvSize {
		t.Fatalf("a 4 MiB message: consumed %d of %d, done %v, err %v", n, len(in), done, err)
	}
	m.Release()

	p := stream.Prefix(false, stream.DefaultMaxRecvSize+1)
	_, _, done, err = d.Feed(p[:])
	if done || status.CodeOf(err) != status.ResourceExhausted {
		t.Fatalf("a 4 MiB + 1 message: done %v, err %v; want RESOURCE_EXHAUSTED", done, err)
	}
}

// TestDecoderLimitBeforeAllocation announces the largest length a prefix
// can hold: the decoder must refuse it without taking a buffer for it. It
// measures bytes allocated rather than allocations: the error costs a few
// small ones, and under -race sync.Pool drops items at random (fmt's
// printers among them), so counts wobble while bytes stay far from 4 GiB.
func TestDecoderLimitBeforeAllocation(t *testing.T) {
	refuse := func(length uint32, maxSize int) func() {
		in := []byte{0, byte(length >> 24), byte(length >> 16), byte(length >> 8), byte(length)}
		return func() {
			d := stream.Decoder{MaxSize: maxSize}
			if _, _, _, err := d.Feed(in); status.CodeOf(err) != status.ResourceExhausted {
				t.Fatalf("length %#x, MaxSize %d: err %v, want RESOURCE_EXHAUSTED", length, maxSize, err)
			}
		}
	}
	bytesPerRun := func(f func()) uint64 {
		const runs = 100
		f() // warm up
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			f()
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / runs
	}
	// A length just over a small limit costs only the error; 0xFFFFFFFF
	// against the default limit must cost no more than that.
	small := bytesPerRun(refuse(1<<10+1, 1<<10))
	huge := bytesPerRun(refuse(0xFFFFFFFF, 0))
	if huge > 4<<10 || huge > small+1<<10 {
		t.Errorf("refusing length 0xFFFFFFFF allocates %d bytes per run (refusing 1025 > 1024: %d)", huge, small)
	}
}

func TestDecoderReset(t *testing.T) {
	var d stream.Decoder
	in := encode(false, pattern(100))
	d.Feed(in[:50])
	if !d.Pending() {
		t.Fatal("Pending() = false in the middle of a message")
	}
	d.Reset()
	if d.Pending() {
		t.Fatal("Pending() = true after Reset")
	}
	n, m, done, err := d.Feed(in)
	if err != nil || !done || n != len(in) || !bytes.Equal(m.Data, pattern(100)) {
		t.Fatalf("after Reset: consumed %d, done %v, err %v", n, done, err)
	}
	m.Release()
	// Reset keeps the limit.
	d = stream.Decoder{MaxSize: 3}
	d.Reset()
	if _, _, _, err := d.Feed(encode(false, pattern(4))); status.CodeOf(err) != status.ResourceExhausted {
		t.Errorf("Reset lost MaxSize: err %v", err)
	}
}

func TestMessageRelease(t *testing.T) {
	var zero stream.Message
	zero.Release() // a zero Message is fine
	var d stream.Decoder
	_, m, _, _ := d.Feed(encode(false, pattern(10)))
	m.Release()
	if m.Data != nil {
		t.Error("Data is still set after Release")
	}
	m.Release() // twice is fine
}
