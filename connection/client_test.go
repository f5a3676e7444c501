package connection_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/status"
)

// respond writes a whole response on stream id: header block, one message,
// trailers with status "0".
func respond(p *h2test.Peer, id uint32, payload []byte) {
	p.WriteHeaders(id, false, h2test.ResponseFields())
	p.WriteData(id, false, h2test.Message(payload))
	p.WriteHeaders(id, true, h2test.TrailerFields("0"))
}

// expectCall checks what a client stream received: the response header,
// one message holding want, then io.EOF with trailers carrying status "0".
func expectCall(t *testing.T, st *connection.Stream, want []byte) {
	t.Helper()
	if h, err := st.Recv.Header(); err != nil || h == nil || h.Status != 200 {
		t.Fatalf("Header() = %+v, %v", h, err)
	}
	msgs, err := recvAll(st)
	if err != io.EOF || len(msgs) != 1 || !bytes.Equal(msgs[0], want) {
		t.Fatalf("Recv: %q then %v, want one message then io.EOF", msgs, err)
	}
	if tr := st.Recv.Trailer(); tr == nil || tr.GRPCStatus != "0" {
		t.Fatalf("Trailer() = %+v, want grpc-status 0", tr)
	}
}

// recvNow calls Recv and fails the test if it blocks.
func recvNow(t *testing.T, st *connection.Stream) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		m, err := st.Recv.Recv()
		m.Release()
		done <- err
	}()
	synctest.Wait()
	select {
	case err := <-done:
		return err
	default:
		t.Fatal("Recv blocked")
		return nil
	}
}

// TestClientUnaryRequestOneWrite: a unary request (header block and the
// message with END_STREAM) leaves in one write, and its response arrives.
func TestClientUnaryRequestOneWrite(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		cl := startClient(t, ctx, connection.Config{})
		p := cl.peer
		p.Handshake()
		st := cl.newCall(t, ctx)
		if err := st.Send.SendLast(pattern(2000), false, nil); err != nil {
			t.Fatalf("SendLast: %v", err)
		}
		if st.ID() != 1 {
			t.Errorf("first stream id = %d, want 1", st.ID())
		}
		h := p.Expect(http2.FrameHeaders, 1)
		if h.EndStream() || h.Header(":method") != "POST" || h.Header(":path") != "/h2test.Service/Method" ||
			h.Header("te") != "trailers" || h.Header("content-type") != "application/grpc" || h.Fields[0].Name[0] != ':' {
			t.Errorf("request header block = %v", h)
		}
		d := p.Expect(http2.FrameData, 1)
		if !d.EndStream() || !bytes.Equal(d.Data, h2test.Message(pattern(2000))) {
			t.Errorf("request DATA = %v, want the message with END_STREAM", d)
		}
		checkOneWrite(t, cl.rec, len(http2.ClientPreface), 1, http2.FrameHeaders, http2.FrameData)

		respond(p, 1, []byte("resp"))
		expectCall(t, st, []byte("resp"))
		st.Finish()
		expectNone(t, p) // ended both ways: no RST_STREAM
	})
}

// TestClientResetNoErrorAfterTrailers: RST_STREAM(NO_ERROR) after the
// trailers (a server ending before the client did) does not fail the call.
func TestClientResetNoErrorAfterTrailers(t *testing.T) {
	for _, halfClosed := range []bool{true, false} {
		name := map[bool]string{true: "half-closed", false: "still sending"}[halfClosed]
		t.Run(name, func(t *testing.T) {
			bubble(t, func(t *testing.T, ctx context.Context) {
				cl := startClient(t, ctx, connection.Config{})
				p := cl.peer
				p.Handshake()
				st := cl.newCall(t, ctx)
				var err error
				if halfClosed {
					err = st.Send.SendLast([]byte("req"), false, nil)
				} else {
					err = st.Send.Send([]byte("req"), false)
				}
				if err != nil {
					t.Fatal(err)
				}
				p.Expect(http2.FrameHeaders, 1)
				p.Expect(http2.FrameData, 1)
				respond(p, 1, []byte("resp"))
				p.WriteRSTStream(1, http2.ErrCodeNo)
				synctest.Wait()
				expectCall(t, st, []byte("resp"))
				if err := st.Recv.Err(); err != io.EOF {
					t.Errorf("Err() = %v, want io.EOF", err)
				}
				st.Finish()
				expectNone(t, p) // nothing to answer a reset with
			})
		})
	}
}

// TestClientGoAway: streams above the GOAWAY's last-stream-id fail with
// UNAVAILABLE at once, those below still complete, no new stream opens, and
// the connection closes once the last one ends.
func TestClientGoAway(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		cl := startClient(t, ctx, connection.Config{})
		p := cl.peer
		p.Handshake()
		var sts []*connection.Stream
		for i := range 3 {
			st := cl.newCall(t, ctx)
			if err := st.Send.SendLast([]byte{byte(i)}, false, nil); err != nil {
				t.Fatal(err)
			}
			sts = append(sts, st)
		}
		for _, id := range []uint32{1, 3, 5} {
			p.Expect(http2.FrameHeaders, id)
			p.Expect(http2.FrameData, id)
		}
		p.WriteGoAway(3, http2.ErrCodeNo)
		if err := recvNow(t, sts[2]); status.CodeOf(err) != status.Unavailable {
			t.Errorf("stream 5 (above last-stream-id): Recv = %v, want UNAVAILABLE", err)
		}
		if _, err := cl.conn.NewStream(ctx); status.CodeOf(err) != status.Unavailable {
			t.Errorf("NewStream after GOAWAY = %v, want UNAVAILABLE", err)
		}
		if cl.conn.Usable() {
			t.Error("Usable() = true after GOAWAY")
		}
		respond(p, 1, []byte("one"))
		respond(p, 3, []byte("three"))
		expectCall(t, sts[0], []byte("one"))
		expectCall(t, sts[1], []byte("three"))
		for _, st := range sts {
			st.Finish()
		}
		if fs := p.WaitClosed(); len(fs) > 0 {
			t.Errorf("after the last stream: %v, want the connection closed", fs)
		}
		<-cl.conn.Done()
	})
}

// TestClientCancel: Cancel sends RST_STREAM(CANCEL), ends Recv with the
// error at once, and gives the credit of unread messages back.
func TestClientCancel(t *testing.T) {
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
		p.WriteHeaders(1, false, h2test.ResponseFields())
		p.WriteData(1, false, h2test.Messages(pattern(10), pattern(20)))
		expectNone(t, p)
		st.Cancel(status.New(status.Canceled, "caller gave up"))
		if f := p.Expect(http2.FrameRSTStream, 1); f.ErrCode != http2.ErrCodeCancel {
			t.Errorf("got %v, want RST_STREAM(CANCEL)", f)
		}
		if err := recvNow(t, st); status.CodeOf(err) != status.Canceled {
			t.Errorf("Recv after Cancel = %v, want CANCELLED", err)
		}
		if err := st.Send.Send([]byte("more"), false); err == nil {
			t.Error("Send after Cancel succeeded")
		}
		// Frames in flight on the cancelled stream are ignored.
		p.WriteData(1, true, h2test.Message(nil))
		st.Finish()
		expectNone(t, p)
	})
}

// TestClientHeaderListTooLarge: a request header block over the server's
// SETTINGS_MAX_HEADER_LIST_SIZE is refused before anything is sent, and the
// stream it would have opened is never mentioned to the server: an
// RST_STREAM on a stream the server never saw is a connection error
// (RFC 9113 §5.1, idle).
func TestClientHeaderListTooLarge(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		cl := startClient(t, ctx, connection.Config{})
		p := cl.peer
		p.Handshake(http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 300})
		st := cl.newCall(t, ctx)
		st.Send.Header().MD = metadata.Pairs("x-big", string(bytes.Repeat([]byte{'a'}, 400)))
		if err := st.Send.SendLast([]byte("req"), false, nil); status.CodeOf(err) != status.Internal {
			t.Fatalf("SendLast with a header list over the limit = %v, want INTERNAL", err)
		}
		st.Finish()
		expectNone(t, p)

		st = cl.newCall(t, ctx)
		if err := st.Send.SendLast([]byte("req"), false, nil); err != nil {
			t.Fatalf("SendLast: %v", err)
		}
		h := p.Next()
		if h.Type != http2.FrameHeaders {
			t.Fatalf("got %v, want the next request's HEADERS", h)
		}
		p.Expect(http2.FrameData, h.StreamID)
		respond(p, h.StreamID, []byte("resp"))
		expectCall(t, st, []byte("resp"))
	})
}

// TestClientTrailersOnly: a trailers-only response ends the call with its
// status and no header block.
func TestClientTrailersOnly(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		cl := startClient(t, ctx, connection.Config{})
		p := cl.peer
		p.Handshake()
		st := cl.newCall(t, ctx)
		st.Send.SendLast(nil, false, nil)
		p.Expect(http2.FrameHeaders, 1)
		p.Expect(http2.FrameData, 1)
		p.WriteHeaders(1, true, h2test.ResponseFields(h2test.TrailerFields("5")...))
		if h, err := st.Recv.Header(); h != nil || err != io.EOF {
			t.Errorf("Header() = %+v, %v; want nil, io.EOF", h, err)
		}
		if err := recvNow(t, st); err != io.EOF {
			t.Errorf("Recv = %v, want io.EOF", err)
		}
		tr := st.Recv.Trailer()
		if tr == nil || tr.GRPCStatus != "5" || tr.Status != 200 {
			t.Errorf("Trailer() = %+v", tr)
		}
	})
}

// A response's DATA before its HEADERS is malformed: the stream is reset
// with PROTOCOL_ERROR and the call fails, the connection stays up.
func TestClientDataBeforeHeaders(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		cl := startClient(t, ctx, connection.Config{})
		p := cl.peer
		p.Handshake()
		st := cl.newCall(t, ctx)
		st.Send.SendLast(nil, false, nil)
		p.Expect(http2.FrameHeaders, 1)
		p.Expect(http2.FrameData, 1)
		p.WriteData(1, false, h2test.Message([]byte("early")))
		if f := p.Expect(http2.FrameRSTStream, 1); f.ErrCode != http2.ErrCodeProtocol {
			t.Fatalf("got %v, want RST_STREAM(PROTOCOL_ERROR)", f)
		}
		if err := recvNow(t, st); status.CodeOf(err) != status.Internal {
			t.Fatalf("Recv = %v, want INTERNAL", err)
		}
		// Another stream on the same connection still works.
		st2 := cl.newCall(t, ctx)
		st2.Send.SendLast(nil, false, nil)
		p.Expect(http2.FrameHeaders, 3)
		p.Expect(http2.FrameData, 3)
		p.WriteHeaders(3, true, h2test.ResponseFields(h2test.TrailerFields("0")...))
		if err := recvNow(t, st2); err != io.EOF {
			t.Fatalf("second stream: Recv = %v, want io.EOF", err)
		}
	})
}

// TestClientTimeoutNotIndexed: a request's grpc-timeout in microseconds,
// new at each call, goes out as a literal never indexed, so it takes no
// place in either end's HPACK table, but for the first, indexed so that
// the others name it by index. One in milliseconds, which calls close
// together share, is indexed; so are the fields that repeat.
func TestClientTimeoutNotIndexed(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		cl := startClient(t, ctx, connection.Config{})
		p := cl.peer
		p.Handshake()
		for i, id := range []uint32{1, 3, 5, 7} {
			st := cl.newCall(t, ctx)
			timeout := fmt.Sprintf("%du", 1000000+i)
			if i == 3 {
				timeout = "1000m"
			}
			st.Send.Header().Timeout = timeout
			if err := st.Send.SendLast([]byte("req"), false, nil); err != nil {
				t.Fatalf("SendLast: %v", err)
			}
			h := p.Expect(http2.FrameHeaders, id)
			for _, f := range h.Fields {
				if f.Sensitive != (f.Name == "grpc-timeout" && i > 0 && i < 3) {
					t.Errorf("call %d: field %s: never indexed %v", i, f.Name, f.Sensitive)
				}
			}
			if got, want := h.Header("grpc-timeout"), timeout; got != want {
				t.Errorf("call %d: grpc-timeout %q, want %q", i, got, want)
			}
			p.Expect(http2.FrameData, id)
			respond(p, id, []byte("resp"))
			expectCall(t, st, []byte("resp"))
			st.Finish()
		}
	})
}
