package stream_test

import (
	"bytes"
	"testing"

	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// decoded is a message or the error that ended decoding.
type decoded struct {
	data       []byte
	compressed bool
	code       status.Code // set when decoding failed here
}

// chunks splits b at lengths taken from cuts in turn; a length of 0 gives
// an empty piece, and the rest of b (perhaps empty) is the last piece.
func chunks(b, cuts []byte) [][]byte {
	var out [][]byte
	for progress := true; progress && len(b) > 0; {
		progress = false
		for _, c := range cuts {
			n := min(int(c), len(b))
			out = append(out, b[:n])
			b = b[n:]
			progress = progress || n > 0
		}
	}
	return append(out, b)
}

// decodeAll feeds the pieces to a Decoder and returns what came out, and
// whether a message was left unfinished.
func decodeAll(t *testing.T, maxSize int, pieces [][]byte) (out []decoded, pending bool) {
	d := stream.Decoder{MaxSize: maxSize}
	for _, p := range pieces {
		for first := true; first || len(p) > 0; first = false {
			n, m, done, err := d.Feed(p)
			if n < 0 || n > len(p) {
				t.Fatalf("Feed consumed %d of %d bytes", n, len(p))
			}
			if err != nil {
				if done {
					t.Fatalf("Feed returned a message and an error (%v)", err)
				}
				return append(out, decoded{code: status.CodeOf(err)}), false
			}
			if n == 0 && !done && len(p) > 0 {
				t.Fatalf("Feed made no progress on %d bytes", len(p))
			}
			if done {
				out = append(out, decoded{data: bytes.Clone(m.Data), compressed: m.Compressed})
				m.Release()
			}
			p = p[n:]
		}
	}
	return out, d.Pending()
}

// FuzzDecoder checks that the way bytes are split across Feed calls never
// matters: random input decodes to the same messages (or the same error) in
// any split, and encoded messages come back as they were.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 3, 'a', 'b', 'c'}, []byte{1}, uint16(0))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'x'}, []byte{2, 7}, uint16(8))
	f.Add([]byte{2, 0, 0, 0, 1, 'x'}, []byte{}, uint16(0))
	f.Add([]byte{0, 0xFF, 0xFF, 0xFF, 0xFF}, []byte{3}, uint16(0))
	f.Add([]byte("hello, world: some bytes to cut into messages"), []byte{0, 5, 1, 9}, uint16(100))
	f.Fuzz(func(t *testing.T, raw, cuts []byte, maxSize uint16) {
		// Arbitrary bytes: any split gives what one Feed of everything gives.
		want, wantPending := decodeAll(t, int(maxSize), [][]byte{raw})
		got, gotPending := decodeAll(t, int(maxSize), chunks(raw, cuts))
		if !equalDecoded(got, want) || gotPending != wantPending {
			t.Fatalf("split input decoded to %v (pending %v), whole input to %v (pending %v)",
				got, gotPending, want, wantPending)
		}

		// Messages cut out of raw, encoded and concatenated, come back
		// unchanged in any split.
		var msgs []decoded
		var enc []byte
		for i, p := range chunks(raw, reverse(cuts)) {
			m := decoded{data: p, compressed: i%3 == 1}
			msgs = append(msgs, m)
			pre := stream.Prefix(m.compressed, len(p))
			enc = append(append(enc, pre[:]...), p...)
		}
		got, pending := decodeAll(t, 0, chunks(enc, cuts))
		if !equalDecoded(got, msgs) || pending {
			t.Fatalf("encoded %d messages, decoded %v (pending %v)", len(msgs), got, pending)
		}
	})
}

func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return r
}

func equalDecoded(a, b []decoded) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].data, b[i].data) || a[i].compressed != b[i].compressed || a[i].code != b[i].code {
			return false
		}
	}
	return true
}
