package h2test

import (
	"encoding/binary"
	"net"
	"sync"

	"golang.org/x/net/http2"
)

// WriteRecorder is a net.Conn that records the bytes of each Write call
// before passing it on. It is safe for concurrent use.
type WriteRecorder struct {
	net.Conn

	mu     sync.Mutex
	writes [][]byte
}

// Write records b as one write and writes it to the wrapped Conn.
func (w *WriteRecorder) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, append([]byte{}, b...))
	w.mu.Unlock()
	return w.Conn.Write(b)
}

// Writes returns the recorded writes, in order.
func (w *WriteRecorder) Writes() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]byte(nil), w.writes...)
}

// WrittenFrame is a frame found in recorded writes, with the write that
// carried it.
type WrittenFrame struct {
	Type     http2.FrameType
	Flags    http2.Flags
	StreamID uint32
	Length   uint32
	// Write is the index of the write that carried the whole frame, or -1
	// when the frame was split across writes.
	Write int
}

// SplitWrites parses the frames in writes, after skipping the first skip
// bytes (24 for a client's preface), and says which write carried each. A
// truncated last frame is left out.
func SplitWrites(writes [][]byte, skip int) []WrittenFrame {
	var all []byte
	var ends []int // ends[i]: offset just past write i
	for _, w := range writes {
		all = append(all, w...)
		ends = append(ends, len(all))
	}
	writeAt := func(off int) int {
		for i, e := range ends {
			if off < e {
				return i
			}
		}
		return len(ends)
	}
	var out []WrittenFrame
	for off := skip; off+9 <= len(all); {
		n := int(all[off])<<16 | int(all[off+1])<<8 | int(all[off+2])
		end := off + 9 + n
		if end > len(all) {
			break
		}
		f := WrittenFrame{
			Type:     http2.FrameType(all[off+3]),
			Flags:    http2.Flags(all[off+4]),
			StreamID: binary.BigEndian.Uint32(all[off+5:]) & (1<<31 - 1),
			Length:   uint32(n),
			Write:    writeAt(off),
		}
		if writeAt(end-1) != f.Write {
			f.Write = -1
		}
		out = append(out, f)
		off = end
	}
	return out
}
