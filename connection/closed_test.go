package connection

import (
	"errors"
	"testing"

	"golang.org/x/net/http2"
)

// The records of closed.go are bounded: these internal tests check what
// is forgotten, and what a frame on a forgotten id gets then.

// TestResetLogForgetsOldest: the log of streams we reset keeps the last
// resetMemory ids; a header block on one it forgot is taken as one on a
// stream that closed normally, a connection error of type STREAM_CLOSED.
func TestResetLogForgetsOldest(t *testing.T) {
	c := &Conn{server: true}
	for id := uint32(1); id <= 2*resetMemory+1; id += 2 {
		c.notePeerIDLocked(id)
		c.noteResetLocked(id)
	}
	c.noteResetLocked(2*resetMemory + 1) // again: not a second entry
	if len(c.resets.ring) != resetMemory || len(c.resets.set) != resetMemory {
		t.Fatalf("log holds %d ids (%d in the set), want %d", len(c.resets.ring), len(c.resets.set), resetMemory)
	}
	if err := c.closedHeadersLocked(3); err != nil {
		t.Errorf("HEADERS on stream 3, still remembered: %v, want it ignored", err)
	}
	var ce http2.ConnectionError
	if err := c.closedHeadersLocked(1); !errors.As(err, &ce) || http2.ErrCode(ce) != http2.ErrCodeStreamClosed {
		t.Errorf("HEADERS on stream 1, forgotten: %v, want a STREAM_CLOSED connection error", err)
	}
}

// TestSkippedIDs: ids the peer skipped when it opened a stream are closed
// without having been opened; a header block on one is a connection error
// of type PROTOCOL_ERROR (RFC 9113 §5.1.1), on an id that was opened (and
// closed normally) one of type STREAM_CLOSED. Only the last skipMemory
// ranges are remembered.
func TestSkippedIDs(t *testing.T) {
	c := &Conn{server: true}
	for _, id := range []uint32{3, 5, 11} { // skips 1, then 7 and 9
		c.notePeerIDLocked(id)
	}
	want := map[uint32]http2.ErrCode{
		1: http2.ErrCodeProtocol, 3: http2.ErrCodeStreamClosed, 5: http2.ErrCodeStreamClosed,
		7: http2.ErrCodeProtocol, 9: http2.ErrCodeProtocol, 11: http2.ErrCodeStreamClosed,
	}
	for id, code := range want {
		var ce http2.ConnectionError
		if err := c.closedHeadersLocked(id); !errors.As(err, &ce) || http2.ErrCode(ce) != code {
			t.Errorf("HEADERS on stream %d: %v, want a %v connection error", id, err, code)
		}
	}
	for range skipMemory {
		c.notePeerIDLocked(c.lastPeerID + 4) // skips one id each time
	}
	if len(c.rare.skipped) != skipMemory || c.rare.skipped[0].lo == 1 {
		t.Errorf("skipped = %v, want the last %d ranges", c.rare.skipped, skipMemory)
	}
	var ce http2.ConnectionError
	if err := c.closedHeadersLocked(1); !errors.As(err, &ce) || http2.ErrCode(ce) != http2.ErrCodeStreamClosed {
		t.Errorf("HEADERS on stream 1, forgotten: %v, want a STREAM_CLOSED connection error", err)
	}
}
