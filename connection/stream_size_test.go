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

// A server stream is allocated with its context: keep the two within the
// 640-byte size class, which holds 632 bytes and the 8-byte header the
// runtime puts before an object over 512 bytes (with the context's rarely
// used parts and its cause inline, they took 736 bytes, in the 768 class;
// with its deadline inline and the stream's flags apart, 696, in the 704
// class).
func TestServerStreamSize(t *testing.T) {
	if n := unsafe.Sizeof(serverStream{}); n > 632 {
		t.Errorf("serverStream is %d bytes, over the 640-byte size class with its header", n)
	}
}

// An idle connection costs its Conn: keep it within the 1024-byte size
// class, which holds 1016 bytes and the runtime's 8-byte header (1104
// bytes, in the 1152 class, with its rarely used fields inline and its
// flags apart).
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 1016 {
		t.Errorf("Conn is %d bytes, over the 1024-byte size class with its header", n)
	}
}
