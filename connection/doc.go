// Package connection runs one HTTP/2 connection for gRPC: the connection
// manager of nameko-grpc, on golang.org/x/net/http2's Framer and hpack. It
// turns frames into events on streams (onRequestReceived, onDataReceived,
// onStreamEnded, onStreamReset, onWindowUpdated, onTrailersReceived,
// onGoAway) and writes what streams send, with HTTP/2 flow control at both
// levels.
//
// Who owns what:
//   - The reader goroutine reads frames and dispatches them; it never writes.
//     Frames it must answer (SETTINGS and PING ACKs, WINDOW_UPDATE for
//     discarded data, RST_STREAM, GOAWAY) go to a bounded control queue that
//     the control writer goroutine drains; a stream about to write DATA
//     drains it first, so an ACK leaves before the DATA its SETTINGS allow.
//     The control writer runs only while there is work: queueing a frame
//     starts it, and it exits once nothing is left, so an idle connection
//     has one goroutine, its reader, and mostly not even that: a reader
//     on goroutines of its own (a client connection's, or a server
//     connection's run by Start rather than Serve) that has had nothing to
//     read for 50-100 ms parks (Conn.awaitData): it exits, and the idle
//     poller (idlepoll_linux.go, one epoll set waited on through Go's
//     poller) starts a new one once the socket is readable or closed. Where the
//     socket is not a plain TCP or Unix one (TLS) or there is no epoll, the
//     reader waits on its goroutine.
//     The reader hands work on once per read from the socket, not per
//     frame (batch.go): handler starts and receive wake-ups queued while it
//     parses what one read brought are delivered just before it reads
//     again, so a goroutine is woken once with all its frames.
//     With one call in flight, no goroutine is handed anything: a server
//     reader runs the unary handler whose request it has read itself,
//     its socket watched by the idle poller meanwhile so that anything
//     else the client sends starts another reader (inline.go); a client
//     connection with no stream open parks its reader at once, and the
//     unary caller that finds it parked reads its own response
//     (Stream.ReadResponse, callerread.go). The reader is whichever
//     goroutine holds it: the one that cleared parked.
//     After a connection error the reader reads on, discarding, until the
//     peer closes or a second has passed (Conn.linger), so that the GOAWAY
//     is not lost to the reset of a socket closed with unread data.
//   - Writes are made by whoever holds wmu, into a buffered writer on the
//     socket: the caller's goroutine when a stream sends (no hand-off per
//     message), the control writer for queued control frames. The last
//     writer in line flushes, so a unary call's HEADERS, DATA and trailers
//     leave in one write; the flush lets wmu go while it writes, and
//     writers arriving meanwhile chain their frames for its next write, so
//     concurrent sends share syscalls (conn_write.go, flushOut).
//   - Socket buffers come from a pool and are held only while there is
//     something to write or to parse (sockbuf.go): an idle connection
//     holds none.
//   - Connection state (stream table, windows, peer settings, GOAWAY state)
//     is owned by mu, which is never held across I/O.
//
// Lock order: wmu before mu; a stream's own locks are never held while
// taking either.
//
// This package is the only importer of golang.org/x/net/http2 and hpack. It
// may import stream/, status/, metadata/ and the standard library; never
// grpc-go, server/ or client/.
package connection
