package connection

import "golang.org/x/net/http2"

// Closed streams, RFC 9113 §5.1. A stream leaves Conn.streams once it is
// closed, and what a later frame on its id gets depends on how it closed:
//
//   - We reset it (sent RST_STREAM): the peer may have sent frames before
//     it saw our reset, and they are ignored ("An endpoint MUST minimally
//     process and then discard any frames it receives in this state"); the
//     header block was decoded already (HPACK state), DATA is credited to
//     the connection. These ids are remembered in Conn.resets.
//   - We sent our final GOAWAY before the peer opened it: ignored too
//     (§6.8, the peer retries it elsewhere).
//   - It closed with END_STREAM both ways, or the peer reset it: DATA is a
//     stream error of type STREAM_CLOSED (§5.1 "half-closed (remote)" and
//     "closed", §6.1), HEADERS a connection error of type STREAM_CLOSED
//     on the server (a client ignores them: onClientHeaders says why).
//   - The peer never opened it, but opened a higher id, which closed it
//     implicitly (§5.1.1): HEADERS on it would open a stream out of order,
//     a connection error of type PROTOCOL_ERROR. These ids are remembered
//     in Conn.rare.skipped.
//
// Both records are bounded: an endpoint may limit the period over which it
// ignores such frames (RFC 7540 §5.1 said so in as many words; RFC 9113
// lets any frame on a closed stream be an error). When an id has dropped
// out of resets, a late frame on it is taken as one on a stream that
// closed normally: DATA gets RST_STREAM(STREAM_CLOSED), HEADERS ends the
// connection, as x/net's and grpc-go's servers answer every HEADERS on a
// closed stream. When a range has dropped out of skipped, HEADERS on one
// of its ids gets STREAM_CLOSED instead of PROTOCOL_ERROR: a connection
// error either way.

// resetMemory is how many of the streams we reset are remembered, so that
// frames the peer sent before it saw our RST_STREAM are ignored. A peer
// would have to keep this many resets in flight for one to be forgotten.
const resetMemory = 1024

// skipMemory is how many ranges of skipped stream ids are remembered.
const skipMemory = 32

// idLog remembers the last resetMemory stream ids added to it. Owned by
// Conn.mu. Its zero value is empty; it allocates on the first add.
type idLog struct {
	ring []uint32 // ids in the order they were added, oldest at next once full
	next int
	set  map[uint32]struct{}
}

func (l *idLog) add(id uint32) {
	if _, ok := l.set[id]; ok {
		return
	}
	if l.set == nil {
		l.set = make(map[uint32]struct{})
	}
	if len(l.ring) < resetMemory {
		l.ring = append(l.ring, id)
	} else {
		delete(l.set, l.ring[l.next])
		l.ring[l.next] = id
		l.next = (l.next + 1) % resetMemory
	}
	l.set[id] = struct{}{}
}

func (l *idLog) has(id uint32) bool {
	_, ok := l.set[id]
	return ok
}

// idRange is the stream ids lo, lo+2, ... hi.
type idRange struct{ lo, hi uint32 }

// notePeerIDLocked records that the peer used id, higher than every id it
// used before, for a new stream; ids it skipped are closed without having
// been opened. Conn.mu must be held.
func (c *Conn) notePeerIDLocked(id uint32) {
	lo := c.lastPeerID + 2
	if c.lastPeerID == 0 {
		lo = 1
	}
	if id > lo {
		rare := c.rareLocked()
		if len(rare.skipped) == skipMemory {
			copy(rare.skipped, rare.skipped[1:])
			rare.skipped = rare.skipped[:skipMemory-1]
		}
		rare.skipped = append(rare.skipped, idRange{lo, id - 2})
	}
	c.lastPeerID = id
}

// noteResetLocked records that we reset stream id (sent, or queued,
// RST_STREAM on it). Conn.mu must be held.
func (c *Conn) noteResetLocked(id uint32) {
	if id != 0 {
		c.resets.add(id)
	}
}

// ignoreClosedLocked reports whether frames on id, a stream of the peer's
// or ours that is no longer in the table (and not idle), are to be
// ignored: we reset it, or it is above our final GOAWAY. Conn.mu must be
// held.
func (c *Conn) ignoreClosedLocked(id uint32) bool {
	if c.goAwaySent && c.server && id%2 == 1 && id > c.goAwayLast {
		return true
	}
	return c.resets.has(id)
}

// closedHeadersLocked answers a header block on id, a stream the peer
// opened (on a server) that is no longer in the table: nil when the block
// is to be ignored, else the connection error. Conn.mu must be held.
func (c *Conn) closedHeadersLocked(id uint32) error {
	if c.ignoreClosedLocked(id) {
		return nil
	}
	if c.rare != nil {
		for _, r := range c.rare.skipped {
			if r.lo <= id && id <= r.hi {
				return http2.ConnectionError(http2.ErrCodeProtocol)
			}
		}
	}
	return http2.ConnectionError(http2.ErrCodeStreamClosed)
}
