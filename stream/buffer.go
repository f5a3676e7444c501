package stream

import (
	"math/bits"
	"sync"
)

// Message buffers come from size-classed pools so that steady traffic does
// not allocate per message. Classes are powers of two from 256 B to 4 MiB;
// larger messages are rare enough to allocate exactly and leave to the GC.
const (
	minClassShift = 8  // 256 B
	maxClassShift = 22 // 4 MiB
)

var pools [maxClassShift - minClassShift + 1]sync.Pool

func class(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minClassShift
}

// getBuffer returns a buffer with capacity of at least n.
func getBuffer(n int) *[]byte {
	c := class(n)
	if c >= len(pools) {
		b := make([]byte, n)
		return &b
	}
	if v := pools[c].Get(); v != nil {
		return v.(*[]byte)
	}
	b := make([]byte, 1<<(c+minClassShift))
	return &b
}

// putBuffer returns b to the pool of the largest class it can serve, so a
// buffer that append grew past its class still comes back; buffers under
// the smallest class or over the largest are dropped.
func putBuffer(b *[]byte) {
	c := bits.Len(uint(cap(*b))) - 1 - minClassShift
	if c < 0 || c >= len(pools) {
		return
	}
	*b = (*b)[:cap(*b)]
	pools[c].Put(b)
}

// Buffer is a pooled byte slice for encoding an outgoing message. Take one
// with GetBuffer, append the encoding to B[:0], send it, then Release it.
// A Buffer must not be used after Release.
type Buffer struct {
	B   []byte
	ptr *[]byte
}

// GetBuffer returns a pooled buffer with room for at least sizeHint bytes;
// B has length 0.
func GetBuffer(sizeHint int) Buffer {
	p := getBuffer(sizeHint)
	return Buffer{B: (*p)[:0], ptr: p}
}

// Release hands the buffer back to the pool. If B grew beyond the pooled
// array (append reallocated), the larger array is pooled instead.
func (b *Buffer) Release() {
	if b.ptr == nil {
		return
	}
	if cap(b.B) != cap(*b.ptr) {
		*b.ptr = b.B[:cap(b.B)]
	}
	putBuffer(b.ptr)
	*b = Buffer{}
}
