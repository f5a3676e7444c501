package connection

import (
	"testing"
	"unsafe"
)

// An open idle stream costs its Stream on the server: keep it within the
// 640-byte size class (it was 1408 bytes, in the 1536 class, with three
// header blocks inline; issue 6).
func TestStreamSize(t *testing.T) {
	if n := unsafe.Sizeof(Stream{}); n > 640 {
		t.Errorf("Stream is %d bytes, over the 640-byte size class", n)
	}
}
