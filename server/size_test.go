package server

import (
	"testing"
	"unsafe"
)

// A Call (with its context inline) stays within the 176-byte size class:
// one is held per open stream.
func TestCallSize(t *testing.T) {
	if n := unsafe.Sizeof(Call{}); n > 176 {
		t.Errorf("Call is %d bytes, over the 176-byte size class", n)
	}
}
