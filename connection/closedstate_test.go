package connection_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/status"
)

// Frames on streams that are not open (RFC 9113 §5.1, closed.go), as the
// fake peer sends them.

// TestServerClosedStreams: what frames on a stream that is no longer open
// get depends on how it closed (RFC 9113 §5.1, closed.go): after our
// RST_STREAM they are dropped (the peer may have sent them before it saw
// it), DATA credited to the connection; after END_STREAM both ways, or the
// peer's own RST_STREAM, DATA is a stream error and HEADERS a connection
// error, both STREAM_CLOSED; streams above our final GOAWAY are ignored.
func TestServerClosedStreams(t *testing.T) {
	msg := h2test.Message(pattern(100))
	lateFrames := func(p *h2test.Peer, id uint32) {
		p.WriteData(id, false, msg)
		p.WriteHeaders(id, true, h2test.TrailerFields("0"))
		p.WriteWindowUpdate(id, 100)
		p.WriteRSTStream(id, http2.ErrCodeCancel)
	}
	t.Run("we cancelled it", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
				st.Cancel(errors.New("cancelled by the handler"))
			})
			p := s.peer
			p.Handshake()
			p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
			expectRST(t, p, 1, http2.ErrCodeCancel)
			lateFrames(p, 1)
			expectNone(t, p)
			expectAlive(t, p)
		})
	})
	t.Run("we answered before the request ended", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
				setResponseHeader(st)
				st.Send.Close(okStatus())
			})
			p := s.peer
			p.Handshake()
			p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
			p.Expect(http2.FrameHeaders, 1)
			expectRST(t, p, 1, http2.ErrCodeNo)
			lateFrames(p, 1)
			expectNone(t, p)
			expectAlive(t, p)
		})
	})
	t.Run("refused", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			s := startServer(t, ctx, connection.Config{MaxConcurrentStreams: 1}, func(st *connection.Stream) {
				<-st.Context().Done()
			})
			p := s.peer
			p.Handshake()
			p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
			p.WriteHeaders(3, false, h2test.RequestFields("/s/M"))
			expectRST(t, p, 3, http2.ErrCodeRefusedStream)
			lateFrames(p, 3)
			expectNone(t, p)
			expectAlive(t, p)
		})
	})
	t.Run("ended both ways", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			got := make(chan [][]byte, 1)
			s := startServer(t, ctx, connection.Config{}, recvThenClose(got))
			p := s.peer
			p.Handshake()
			p.WriteHeaders(1, true, h2test.RequestFields("/s/M"))
			p.Expect(http2.FrameHeaders, 1)
			p.WriteData(1, false, msg)
			expectRST(t, p, 1, http2.ErrCodeStreamClosed)
			p.WriteData(1, false, msg) // reset now: dropped
			expectNone(t, p)
			expectAlive(t, p)
		})
	})
	t.Run("reset by the client: DATA", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
				<-st.Context().Done()
			})
			p := s.peer
			p.Handshake()
			p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
			p.WriteRSTStream(1, http2.ErrCodeCancel)
			p.WriteData(1, true, msg) // h2spec http2/5.1/8
			expectRST(t, p, 1, http2.ErrCodeStreamClosed)
			expectAlive(t, p)
		})
	})
	t.Run("reset by the client: HEADERS", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
				<-st.Context().Done()
			})
			p := s.peer
			p.Handshake()
			p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
			p.WriteRSTStream(1, http2.ErrCodeCancel)
			p.WriteHeaders(1, true, h2test.RequestFields("/s/M")) // h2spec http2/5.1/9
			expectGoAway(t, p.WaitClosed(), 1, http2.ErrCodeStreamClosed)
		})
	})
	t.Run("above our final GOAWAY", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			release := make(chan struct{})
			s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
				waitOrDone(st, release)
				setResponseHeader(st)
				st.Send.Close(okStatus())
			})
			p := s.peer
			p.Handshake()
			p.WriteHeaders(1, true, h2test.RequestFields("/s/M"))
			shut := make(chan error, 1)
			go func() { shut <- s.conn.Shutdown(ctx) }()
			fs := idle(p)
			if len(fs) != 2 || fs[1].Type != http2.FramePing {
				t.Fatalf("Shutdown wrote %v, want GOAWAY and PING", fs)
			}
			p.WritePing(true, fs[1].Ping)
			if f := p.Next(); f.Type != http2.FrameGoAway || f.LastStreamID != 1 {
				t.Fatalf("got %v, want GOAWAY(1)", f)
			}
			p.WriteHeaders(3, false, h2test.RequestFields("/s/M"))
			lateFrames(p, 3)
			expectNone(t, p)
			close(release)
			p.Expect(http2.FrameHeaders, 1)
			if err := <-shut; err != nil {
				t.Errorf("Shutdown = %v", err)
			}
		})
	})
}

// TestClientClosedStreams: on the client, frames on a stream it cancelled
// are dropped; DATA on a stream that ended both ways is a stream error of
// type STREAM_CLOSED. A late header block is dropped in every case
// (onClientHeaders says why).
func TestClientClosedStreams(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			cl := startClient(t, ctx, connection.Config{})
			p := cl.peer
			p.Handshake()
			st := cl.newCall(t, ctx)
			if err := st.Send.Send([]byte("req"), false); err != nil {
				t.Fatal(err)
			}
			p.Expect(http2.FrameHeaders, 1)
			p.Expect(http2.FrameData, 1)
			st.Cancel(status.New(status.Canceled, "cancelled"))
			expectRST(t, p, 1, http2.ErrCodeCancel)
			respond(p, 1, []byte("late"))
			expectNone(t, p)
			expectAlive(t, p)
		})
	})
	t.Run("ended both ways", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			cl := startClient(t, ctx, connection.Config{})
			p := cl.peer
			p.Handshake()
			st := cl.newCall(t, ctx)
			if err := st.Send.SendLast([]byte("req"), false, nil); err != nil {
				t.Fatal(err)
			}
			p.Expect(http2.FrameHeaders, 1)
			p.Expect(http2.FrameData, 1)
			respond(p, 1, []byte("resp"))
			expectCall(t, st, []byte("resp"))
			st.Finish()
			p.WriteData(1, false, h2test.Message([]byte("late")))
			expectRST(t, p, 1, http2.ErrCodeStreamClosed)
			p.WriteHeaders(1, true, h2test.TrailerFields("0"))
			expectNone(t, p)
			expectAlive(t, p)
		})
	})
}

// TestStreamErrorOnIdleStream: a malformed header block (here a field name
// with an upper-case letter, which the Framer refuses as a stream error)
// on a stream only we may open and have not is a connection error: an
// RST_STREAM on an idle stream would be one at the peer (RFC 9113 §5.1).
func TestStreamErrorOnIdleStream(t *testing.T) {
	bad := []hpack.HeaderField{field(":status", "200"), field("X-Upper", "x")}
	t.Run("server", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			s := startServer(t, ctx, connection.Config{}, func(*connection.Stream) {})
			p := s.peer
			p.Handshake()
			p.WriteHeaders(2, true, bad)
			expectGoAway(t, p.WaitClosed(), 0, http2.ErrCodeProtocol)
		})
	})
	t.Run("client", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			cl := startClient(t, ctx, connection.Config{})
			p := cl.peer
			p.Handshake()
			p.WriteHeaders(3, true, bad)
			expectGoAway(t, p.WaitClosed(), 0, http2.ErrCodeProtocol)
		})
	})
}
