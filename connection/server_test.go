package connection_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// recvThenClose answers with trailers-only once the request has ended, and
// reports the messages it received.
func recvThenClose(got chan<- [][]byte) func(*connection.Stream) {
	return func(st *connection.Stream) {
		msgs, err := recvAll(st)
		if err != io.EOF {
			msgs = append(msgs, []byte("error: "+err.Error()))
		}
		got <- msgs
		setResponseHeader(st)
		st.Send.Close(okStatus())
	}
}

// TestServerMessageFraming: DATA frame boundaries have nothing to do with
// message boundaries.
func TestServerMessageFraming(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		got := make(chan [][]byte, 1)
		s := startServer(t, ctx, connection.Config{}, recvThenClose(got))
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))

		split := h2test.Message(pattern(1000))
		for off := 0; off < len(split); off += 7 { // one message over 144 frames
			p.WriteData(1, false, split[off:min(off+7, len(split))])
		}
		p.WriteData(1, false, nil) // an empty frame changes nothing
		// Three messages (one of them empty) in one frame that ends the stream.
		p.WriteData(1, true, h2test.Messages(pattern(3), nil, pattern(300)))

		want := [][]byte{pattern(1000), pattern(3), {}, pattern(300)}
		msgs := <-got
		if len(msgs) != len(want) {
			t.Fatalf("handler got %d messages, want %d: %q", len(msgs), len(want), msgs)
		}
		for i := range want {
			if !bytes.Equal(msgs[i], want[i]) {
				t.Errorf("message %d: got %d bytes, want %d", i, len(msgs[i]), len(want[i]))
			}
		}
		if f := p.Expect(http2.FrameHeaders, 1); !f.EndStream() || f.Header("grpc-status") != "0" {
			t.Errorf("response = %v, want trailers-only", f)
		}
	})
}

// TestServerResetMidMessage: RST_STREAM from the client ends the handler's
// Recv with CANCELLED and its stream's context, and is not answered.
func TestServerResetMidMessage(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		type result struct{ recvErr, cause error }
		res := make(chan result, 1)
		s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
			_, err := st.Recv.Recv()
			select {
			case <-st.Context().Done():
				res <- result{err, context.Cause(st.Context())}
			case <-ctx.Done():
				res <- result{err, errors.New("the stream's context never ended")}
			}
			// Too late: the stream is gone.
			setResponseHeader(st)
			if err := st.Send.Close(okStatus()); err == nil {
				t.Error("Close after the reset succeeded")
			}
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
		p.WriteData(1, false, h2test.Message(pattern(100))[:55])
		p.WriteRSTStream(1, http2.ErrCodeCancel)
		r := <-res
		if status.CodeOf(r.recvErr) != status.Canceled {
			t.Errorf("Recv = %v, want CANCELLED", r.recvErr)
		}
		if status.CodeOf(r.cause) != status.Canceled {
			t.Errorf("context cause = %v, want CANCELLED", r.cause)
		}
		expectNone(t, p) // no RST_STREAM back, no trailers
		p.WritePing(false, [8]byte{})
		p.Expect(http2.FramePing, 0)
	})
}

// TestServerHeadersOnClosedStream: what a HEADERS frame on a stream that is
// no longer open gets.
func TestServerHeadersOnClosedStream(t *testing.T) {
	// Closed by END_STREAM both ways: RFC 9113 §5.1 ("closed": frames after
	// END_STREAM are a connection error of type STREAM_CLOSED).
	t.Run("closed", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			got := make(chan [][]byte, 1)
			s := startServer(t, ctx, connection.Config{}, recvThenClose(got))
			p := s.peer
			p.Handshake()
			p.WriteHeaders(1, true, h2test.RequestFields("/s/M"))
			<-got
			p.Expect(http2.FrameHeaders, 1)
			expectNone(t, p)
			p.WriteHeaders(1, true, h2test.RequestFields("/s/M"))
			expectGoAway(t, p.WaitClosed(), 1, http2.ErrCodeStreamClosed)
		})
	})
	// A second block after the client's END_STREAM, while the server still
	// answers (half-closed remote): a stream error of type STREAM_CLOSED
	// (RFC 9113 §5.1); the stream ends, the connection lives on.
	t.Run("half-closed", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			cause := make(chan error, 1)
			s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
				<-st.Context().Done()
				cause <- context.Cause(st.Context())
				setResponseHeader(st)
				st.Send.Close(okStatus())
			})
			p := s.peer
			p.Handshake()
			p.WriteHeaders(1, true, h2test.RequestFields("/s/M"))
			expectNone(t, p)
			p.WriteHeaders(1, true, h2test.TrailerFields("0"))
			if err := <-cause; err == nil {
				t.Error("the stream's context did not end")
			}
			fs := idle(p)
			if len(fs) != 1 || fs[0].Type != http2.FrameRSTStream || fs[0].StreamID != 1 || fs[0].ErrCode != http2.ErrCodeStreamClosed {
				t.Fatalf("got %v, want RST_STREAM(1, STREAM_CLOSED) alone", fs)
			}
			p.WritePing(false, [8]byte{})
			p.Expect(http2.FramePing, 0)
		})
	})
	// A new block on a lower id than one already opened, never opened
	// itself: opening 5 closed 3 implicitly, and a stream opened out of
	// order is an "unexpected stream identifier", a connection error of
	// type PROTOCOL_ERROR (RFC 9113 §5.1.1).
	t.Run("lower id", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			got := make(chan [][]byte, 2)
			s := startServer(t, ctx, connection.Config{}, recvThenClose(got))
			p := s.peer
			p.Handshake()
			p.WriteHeaders(5, true, h2test.RequestFields("/s/M"))
			p.Expect(http2.FrameHeaders, 5)
			p.WriteHeaders(3, true, h2test.RequestFields("/s/M"))
			expectGoAway(t, p.WaitClosed(), 5, http2.ErrCodeProtocol)
		})
	})
	t.Run("even id", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			s := startServer(t, ctx, connection.Config{}, func(*connection.Stream) {})
			p := s.peer
			p.Handshake()
			p.WriteHeaders(2, true, h2test.RequestFields("/s/M"))
			expectGoAway(t, p.WaitClosed(), 0, http2.ErrCodeProtocol)
		})
	})
}

// TestServerDataAfterEndStream: DATA after the client's END_STREAM is a
// stream error of type STREAM_CLOSED (RFC 9113 §6.1). Once it has reset the
// stream the server must send nothing more on it (§5.1): the handler's
// response fails instead of following the RST_STREAM.
func TestServerDataAfterEndStream(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		release := make(chan struct{})
		closeErr := make(chan error, 1)
		s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
			waitOrDone(st, release)
			setResponseHeader(st)
			closeErr <- st.Send.SendLast([]byte("late"), false, okStatus())
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, true, h2test.RequestFields("/s/M"))
		expectNone(t, p)
		p.WriteData(1, false, h2test.Message(nil))
		fs := idle(p)
		if len(fs) != 1 || fs[0].Type != http2.FrameRSTStream || fs[0].ErrCode != http2.ErrCodeStreamClosed {
			t.Fatalf("got %v, want RST_STREAM(1, STREAM_CLOSED)", fs)
		}
		close(release)
		if err := <-closeErr; err == nil {
			t.Error("the handler's response on the reset stream succeeded")
		}
		expectNone(t, p)
	})
}

// TestServerRefusedStream: a stream beyond MaxConcurrentStreams gets
// RST_STREAM(REFUSED_STREAM); once a slot frees, new streams are taken.
func TestServerRefusedStream(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		release := make(chan struct{})
		s := startServer(t, ctx, connection.Config{MaxConcurrentStreams: 1}, func(st *connection.Stream) {
			waitOrDone(st, release)
			setResponseHeader(st)
			st.Send.Close(okStatus())
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, true, h2test.RequestFields("/s/M"))
		expectNone(t, p)
		p.WriteHeaders(3, true, h2test.RequestFields("/s/M"))
		fs := idle(p)
		if len(fs) != 1 || fs[0].Type != http2.FrameRSTStream || fs[0].StreamID != 3 || fs[0].ErrCode != http2.ErrCodeRefusedStream {
			t.Fatalf("got %v, want RST_STREAM(3, REFUSED_STREAM)", fs)
		}
		close(release)
		if f := p.Expect(http2.FrameHeaders, 1); !f.EndStream() {
			t.Fatalf("got %v, want the response to stream 1", f)
		}
		p.WriteHeaders(5, true, h2test.RequestFields("/s/M"))
		if f := p.Expect(http2.FrameHeaders, 5); !f.EndStream() {
			t.Fatalf("got %v, want the response to stream 5", f)
		}
	})
}

// TestServerTrailersOnly: a handler that sends nothing answers with one
// HEADERS frame carrying :status, content-type and the status.
func TestServerTrailersOnly(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
			setResponseHeader(st)
			st.Send.Close(&stream.Header{GRPCStatus: "12", GRPCMessage: "nope"})
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, true, h2test.RequestFields("/s/M"))
		f := p.Expect(http2.FrameHeaders, 1)
		if !f.EndStream() || len(f.Fields) == 0 || f.Fields[0].Name != ":status" || f.Header(":status") != "200" ||
			f.Header("content-type") != "application/grpc" || f.Header("grpc-status") != "12" || f.Header("grpc-message") != "nope" {
			t.Errorf("got %v, want one trailers-only block, :status first", f)
		}
		expectNone(t, p)
	})
}

// checkOneWrite checks that the frames of stream id in the recorded writes
// are of the types want, in order, and all left in a single Write call.
func checkOneWrite(t *testing.T, rec *h2test.WriteRecorder, skip int, id uint32, want ...http2.FrameType) {
	t.Helper()
	var got []h2test.WrittenFrame
	for _, f := range h2test.SplitWrites(rec.Writes(), skip) {
		if f.StreamID == id {
			got = append(got, f)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("stream %d: frames %+v, want types %v", id, got, want)
	}
	for i, f := range got {
		if f.Type != want[i] {
			t.Errorf("stream %d frame %d: %v, want %v", id, i, f.Type, want[i])
		}
		if f.Write < 0 || f.Write != got[0].Write {
			t.Errorf("stream %d: frame %d (%v) left in write %d, frame 0 in write %d; want one write", id, i, f.Type, f.Write, got[0].Write)
		}
	}
}

// TestServerUnaryResponseOneWrite: a unary response (header block, the
// message, trailers) leaves in one write.
func TestServerUnaryResponseOneWrite(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
			msgs, err := recvAll(st)
			if err != io.EOF || len(msgs) != 1 {
				t.Errorf("request: %d messages, %v", len(msgs), err)
			}
			setResponseHeader(st)
			if err := st.Send.SendLast(pattern(2000), false, okStatus()); err != nil {
				t.Errorf("SendLast: %v", err)
			}
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
		p.WriteData(1, true, h2test.Message(pattern(10)))
		h, data, tr := expectResponse(t, p, 1)
		if h.Header(":status") != "200" || !bytes.Equal(data, h2test.Message(pattern(2000))) || tr.Header("grpc-status") != "0" {
			t.Errorf("response %v, %d bytes, %v", h, len(data), tr)
		}
		expectNone(t, p) // the client had ended: no RST_STREAM
		checkOneWrite(t, s.rec, 0, 1, http2.FrameHeaders, http2.FrameData, http2.FrameHeaders)
	})
}

// TestServerEndsBeforeClient: a server that ends the stream before the
// client's END_STREAM follows its trailers with RST_STREAM(NO_ERROR).
func TestServerEndsBeforeClient(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		afterErr := make(chan error, 1)
		s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
			if _, err := st.Recv.Recv(); err != nil {
				t.Errorf("Recv: %v", err)
			}
			setResponseHeader(st)
			if err := st.Send.SendLast([]byte("resp"), false, okStatus()); err != nil {
				t.Errorf("SendLast: %v", err)
			}
			_, err := st.Recv.Recv()
			afterErr <- err
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
		p.WriteData(1, false, h2test.Message([]byte("req")))
		expectResponse(t, p, 1)
		if f := p.Expect(http2.FrameRSTStream, 1); f.ErrCode != http2.ErrCodeNo {
			t.Errorf("got %v, want RST_STREAM(NO_ERROR)", f)
		}
		if err := <-afterErr; err == nil || err == io.EOF {
			t.Errorf("Recv after the server ended = %v, want an error", err)
		}
		expectNone(t, p)
		checkOneWrite(t, s.rec, 0, 1, http2.FrameHeaders, http2.FrameData, http2.FrameHeaders, http2.FrameRSTStream)
	})
}

// TestServerShutdown: GOAWAY(2^31-1) and a PING; after the ACK, GOAWAY with
// the last stream id; streams opened before finish, later ones are ignored;
// then the connection closes.
func TestServerShutdown(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
			msgs, err := recvAll(st)
			if err != io.EOF {
				t.Errorf("stream %d: Recv: %v", st.ID(), err)
				return
			}
			setResponseHeader(st)
			if len(msgs) == 0 {
				st.Send.Close(okStatus())
				return
			}
			if err := st.Send.SendLast(msgs[0], false, okStatus()); err != nil {
				t.Errorf("stream %d: SendLast: %v", st.ID(), err)
			}
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
		p.WriteData(1, false, h2test.Message([]byte("one")))
		expectNone(t, p)

		shut := make(chan error, 1)
		go func() { shut <- s.conn.Shutdown(ctx) }()
		fs := idle(p)
		if len(fs) != 2 || fs[0].Type != http2.FrameGoAway || fs[0].LastStreamID != 1<<31-1 || fs[0].ErrCode != http2.ErrCodeNo ||
			fs[1].Type != http2.FramePing || fs[1].IsAck() {
			t.Fatalf("Shutdown wrote %v, want GOAWAY(2^31-1, NO_ERROR) and a PING", fs)
		}
		ping := fs[1].Ping

		// Before the ACK, a new stream is still served.
		p.WriteHeaders(3, true, h2test.RequestFields("/s/M"))
		if f := p.Expect(http2.FrameHeaders, 3); !f.EndStream() {
			t.Fatalf("got %v, want the response to stream 3", f)
		}
		expectNone(t, p)
		p.WritePing(true, ping)
		fs = idle(p)
		if len(fs) != 1 || fs[0].Type != http2.FrameGoAway || fs[0].LastStreamID != 3 || fs[0].ErrCode != http2.ErrCodeNo {
			t.Fatalf("after the PING ACK: %v, want GOAWAY(3, NO_ERROR)", fs)
		}
		// After the final GOAWAY, a new stream is ignored.
		p.WriteHeaders(5, true, h2test.RequestFields("/s/M"))
		expectNone(t, p)
		if len(shut) > 0 {
			t.Fatalf("Shutdown returned (%v) with stream 1 open", <-shut)
		}
		// Stream 1 still finishes, then the connection closes.
		p.WriteData(1, true, nil)
		_, data, _ := expectResponse(t, p, 1)
		if !bytes.Equal(data, h2test.Message([]byte("one"))) {
			t.Errorf("stream 1 response = %q", data)
		}
		if fs := p.WaitClosed(); len(fs) > 0 {
			t.Errorf("after the last stream: %v, want the connection closed", fs)
		}
		if err := <-shut; err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		if err := s.wait(t, ctx); err == nil {
			t.Error("Serve returned nil after Shutdown")
		}
	})
}

// Two Shutdowns at once: both return once the connection has finished,
// and the second does not disturb the first's two GOAWAYs.
func TestServerShutdownTwice(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {})
		p := s.peer
		p.Handshake()
		shut := make(chan error, 2)
		go func() { shut <- s.conn.Shutdown(ctx) }()
		fs := idle(p)
		if len(fs) != 2 || fs[1].Type != http2.FramePing {
			t.Fatalf("first Shutdown wrote %v, want GOAWAY and PING", fs)
		}
		go func() { shut <- s.conn.Shutdown(ctx) }()
		expectNone(t, p)
		p.WritePing(true, fs[1].Ping)
		fs = p.WaitClosed()
		if len(fs) != 1 || fs[0].Type != http2.FrameGoAway || fs[0].LastStreamID != 0 {
			t.Errorf("after the ACK: %v, want GOAWAY(0) then close", fs)
		}
		for range 2 {
			if err := <-shut; err != nil {
				t.Errorf("Shutdown = %v", err)
			}
		}
	})
}
