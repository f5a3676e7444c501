package server

import (
	"testing"
	"unsafe"
)

// A Call (with its context inline) stays within the 160-byte size class:
// one is held per open stream (168 bytes, in the 176 class, with grpc-go's
// metadata made under a sync.Once).
func TestCallSize(t *testing.T) {
	if n := unsafe.Sizeof(Call{}); n > 160 {
		t.Errorf("Call is %d bytes, over the 160-byte size class", n)
	}
}
