package stream_test

import (
	"testing"

	"github.com/h2grpc/h2grpc/stream"
)

func TestBuffer(t *testing.T) {
	for _, hint := range []int{0, 1, 256, 257, 4096, 1 << 20, 4 << 20, 4<<20 + 1} {
		b := stream.GetBuffer(hint)
		if len(b.B) != 0 || cap(b.B) < hint {
			t.Errorf("GetBuffer(%d): len %d cap %d", hint, len(b.B), cap(b.B))
		}
		b.B = append(b.B, pattern(hint+10)...) // may outgrow the pooled array
		b.Release()
		if b.B != nil {
			t.Errorf("GetBuffer(%d): B still set after Release", hint)
		}
		b.Release() // twice is fine
	}
	var zero stream.Buffer
	zero.Release()
}
