package stream

import (
	"encoding/binary"

	"github.com/h2grpc/h2grpc/status"
)

// PrefixLen is the size of the prefix in front of every gRPC message.
const PrefixLen = 5

// DefaultMaxRecvSize is the receive size limit used when none is set, as in
// grpc-go: 4 MiB.
const DefaultMaxRecvSize = 4 << 20

// Prefix returns the 5-byte prefix of a message of n bytes.
func Prefix(compressed bool, n int) [PrefixLen]byte {
	var p [PrefixLen]byte
	if compressed {
		p[0] = 1
	}
	binary.BigEndian.PutUint32(p[1:], uint32(n))
	return p
}

// Message is one received gRPC message. Data is borrowed from a pool: the
// receiver owns it until Release, after which Data must not be used.
type Message struct {
	Data       []byte
	Compressed bool
	buf        *[]byte
}

// Release hands the message's buffer back to the pool. It is safe to call on
// a zero Message and more than once.
func (m *Message) Release() {
	if m.buf != nil {
		putBuffer(m.buf)
		m.buf = nil
	}
	m.Data = nil
}

// Decoder assembles messages from bytes that arrive in pieces of any size:
// a message may span many DATA frames, and a frame may carry many messages.
// The zero value is ready to use with DefaultMaxRecvSize. A Decoder is not
// safe for concurrent use.
type Decoder struct {
	// MaxSize is the largest message accepted; 0 means DefaultMaxRecvSize.
	// It is checked against the length in the prefix, before any buffer is
	// taken for the message.
	MaxSize int

	// Kept small: every open stream holds one.
	buf  *[]byte // pooled buffer of the message being assembled; nil for an empty one
	size uint32  // the announced length of the message being assembled
	nmsg uint32  // bytes of it filled
	hdr  [PrefixLen]byte
	nhdr uint8 // bytes of hdr filled
}

// Feed consumes bytes from p until one message is complete or p runs out. It
// returns how many bytes it consumed and, when a message completed, that
// message. Call it again with the rest of p. A malformed prefix gives an
// INTERNAL status error; a message over MaxSize gives RESOURCE_EXHAUSTED.
// After an error the Decoder must not be fed again.
func (d *Decoder) Feed(p []byte) (n int, m Message, done bool, err error) {
	if d.nhdr < PrefixLen {
		c := copy(d.hdr[d.nhdr:], p)
		d.nhdr += uint8(c)
		n = c
		if d.nhdr < PrefixLen {
			return n, Message{}, false, nil
		}
		if d.hdr[0] > 1 {
			return n, Message{}, false, status.Newf(status.Internal,
				"grpc: invalid compressed flag %d in message prefix", d.hdr[0])
		}
		size := binary.BigEndian.Uint32(d.hdr[1:])
		if limit := d.maxSize(); uint64(size) > uint64(limit) {
			return n, Message{}, false, status.Newf(status.ResourceExhausted,
				"grpc: received message larger than max (%d vs. %d)", size, limit)
		}
		if size > 0 {
			d.buf = getBuffer(int(size))
		}
		d.size, d.nmsg = size, 0
	}
	var msg []byte // the message being assembled
	if d.buf != nil {
		msg = (*d.buf)[:d.size]
	}
	c := copy(msg[d.nmsg:], p[n:])
	d.nmsg += uint32(c)
	n += c
	if d.nmsg < d.size {
		return n, Message{}, false, nil
	}
	m = Message{Data: msg, Compressed: d.hdr[0] == 1, buf: d.buf}
	d.nhdr, d.buf, d.size, d.nmsg = 0, nil, 0, 0
	return n, m, true, nil
}

// Pending reports whether a message has been started but not completed.
func (d *Decoder) Pending() bool { return d.nhdr > 0 }

// Reset drops any partly assembled message and returns its buffer.
func (d *Decoder) Reset() {
	if d.buf != nil {
		putBuffer(d.buf)
	}
	*d = Decoder{MaxSize: d.MaxSize}
}

func (d *Decoder) maxSize() int {
	if d.MaxSize <= 0 {
		return DefaultMaxRecvSize
	}
	return d.MaxSize
}
