package stream_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// FuzzReceiveStream feeds arbitrary DATA payloads to a ReceiveStream the way
// the connection's reader does (OnData, then OnEnd), taking messages with
// Recv in between, and checks what a bad peer must never cause: a message
// over the size limit, an error other than INTERNAL (malformed) or
// RESOURCE_EXHAUSTED (too large), messages that differ from what a
// Decoder makes of the same bytes, or flow-control credit lost or given
// twice. Every byte fed must come back as credit exactly once, from
// OnData, Consumed or Drain; a byte lost would shrink the connection's
// window for good.
//
// The input is cut into payloads at the lengths in cuts; after payload i,
// up to takes[i]%3 complete messages are taken (a message is known to be
// complete from a Decoder fed alongside, so Recv never blocks).
func FuzzReceiveStream(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 0}, []byte{2, 9}, []byte{0, 2}, uint16(0))
	f.Fuzz(func(t *testing.T, raw, cuts, takes []byte, maxSize uint16) {
		r, flow := newReceive(int(maxSize))
		limit := int(maxSize)
		if limit == 0 {
			limit = stream.DefaultMaxRecvSize
		}

		ref := stream.Decoder{MaxSize: int(maxSize)}
		var want [][]byte // messages, as the reference decoder sees them
		var wantErr error // how it ended, nil while it goes on
		var got [][]byte
		credit := 0
		recv := func() {
			m, err := r.Recv()
			if err != nil {
				t.Fatalf("Recv of message %d of %d complete ones: %v", len(got), len(want), err)
			}
			if len(m.Data) > limit {
				t.Fatalf("Recv returned %d bytes, over the limit %d", len(m.Data), limit)
			}
			got = append(got, bytes.Clone(m.Data))
			m.Release()
		}

		for i, p := range chunks(raw, cuts) {
			c, err := r.OnData(p)
			if c < 0 || c > len(p) {
				t.Fatalf("OnData of %d bytes gave %d credit", len(p), c)
			}
			credit += c
			if wantErr != nil {
				if err != nil {
					t.Fatalf("OnData after the stream broke: %v", err)
				}
			} else {
				for q := p; len(q) > 0 && wantErr == nil; {
					n, m, done, ferr := ref.Feed(q)
					q = q[n:]
					wantErr = ferr
					if done {
						want = append(want, bytes.Clone(m.Data))
						m.Release()
					}
				}
				if (err == nil) != (wantErr == nil) || err != nil && status.CodeOf(err) != status.CodeOf(wantErr) {
					t.Fatalf("OnData error %v, the Decoder's %v", err, wantErr)
				}
			}
			if i < len(takes) {
				for k := int(takes[i] % 3); k > 0 && len(got) < len(want); k-- {
					recv()
				}
			}
		}
		if wantErr == nil && ref.Pending() {
			wantErr = status.New(status.Internal, "ended in the middle of a message")
		}
		r.OnEnd(nil)
		for len(got) < len(want) {
			recv()
		}
		_, err := r.Recv()
		switch {
		case wantErr == nil && err != io.EOF:
			t.Fatalf("after the last message Recv = %v, want io.EOF", err)
		case wantErr != nil && status.CodeOf(err) != status.CodeOf(wantErr):
			t.Fatalf("after the last message Recv = %v, want %v", err, wantErr)
		}
		if c := status.CodeOf(err); err != io.EOF && c != status.Internal && c != status.ResourceExhausted {
			t.Fatalf("stream ended with %v: want INTERNAL or RESOURCE_EXHAUSTED", err)
		}
		if len(got) != len(want) {
			t.Fatalf("received %d messages, the Decoder %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("message %d: received %q, the Decoder %q", i, got[i], want[i])
			}
		}

		drained := r.Drain(io.EOF)
		if total := credit + flow.take() + drained; total != len(raw) {
			t.Fatalf("credited %d bytes (OnData %d, Drain %d) of %d fed", total, credit, drained, len(raw))
		}
	})
}
