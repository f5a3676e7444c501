package stream_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// batchRecorder is a stream.Writer that records deep copies of the batches
// it is given (a SendStream reuses its header storage and the caller its
// data).
type batchRecorder struct {
	batches []stream.Batch
	err     error // returned by every WriteBatch when set
}

func (w *batchRecorder) WriteBatch(b stream.Batch) error {
	if b.Header != nil {
		h := *b.Header
		b.Header = &h
	}
	if b.Trailer != nil {
		h := *b.Trailer
		b.Trailer = &h
	}
	b.Data = bytes.Clone(b.Data)
	w.batches = append(w.batches, b)
	return w.err
}

// take returns the batches recorded since the last take.
func (w *batchRecorder) take() []stream.Batch {
	b := w.batches
	w.batches = nil
	return b
}

func newSend() (*stream.SendStream, *batchRecorder) {
	w := &batchRecorder{}
	s := &stream.SendStream{}
	s.Init(w)
	*s.Header() = stream.Header{Status: 200, ContentType: "application/grpc"}
	return s, w
}

// one checks that exactly one batch was written and returns it.
func one(t *testing.T, w *batchRecorder) stream.Batch {
	t.Helper()
	bs := w.take()
	if len(bs) != 1 {
		t.Fatalf("%d batches written, want 1: %+v", len(bs), bs)
	}
	return bs[0]
}

func TestSendHeaderHeldUntilFirstSend(t *testing.T) {
	s, w := newSend()
	if len(w.batches) != 0 || s.HeaderSent() {
		t.Fatal("something was written before the first Send")
	}
	s.Header().Encoding = "gzip" // still free to change
	if err := s.Send([]byte("hello"), true); err != nil {
		t.Fatal(err)
	}
	b := one(t, w)
	if b.Header == nil || b.Header.Status != 200 || b.Header.Encoding != "gzip" {
		t.Errorf("first Send's batch header = %+v, want the stream's header", b.Header)
	}
	if !b.HasMessage || b.Prefix != stream.Prefix(true, 5) || string(b.Data) != "hello" || b.Raw {
		t.Errorf("first Send's batch message = %v %v %q raw=%v", b.HasMessage, b.Prefix, b.Data, b.Raw)
	}
	if b.End || b.Trailer != nil {
		t.Errorf("Send ended the stream: %+v", b)
	}
	if !s.HeaderSent() || s.Ended() {
		t.Errorf("HeaderSent() = %v, Ended() = %v; want true, false", s.HeaderSent(), s.Ended())
	}

	if err := s.Send(nil, false); err != nil {
		t.Fatal(err)
	}
	b = one(t, w)
	if b.Header != nil || !b.HasMessage || b.Prefix != stream.Prefix(false, 0) || len(b.Data) != 0 {
		t.Errorf("second Send's batch = %+v, want an empty message without a header", b)
	}
}

func TestSendHeaderExplicit(t *testing.T) {
	s, w := newSend()
	if err := s.SendHeader(); err != nil {
		t.Fatal(err)
	}
	if b := one(t, w); b.Header == nil || b.HasMessage || b.End || b.Trailer != nil {
		t.Errorf("SendHeader batch = %+v, want the header alone", b)
	}
	if err := s.SendHeader(); err != nil || len(w.batches) != 0 {
		t.Errorf("second SendHeader = %v and wrote %d batches, want nil and none", err, len(w.batches))
	}
	s.Send([]byte("x"), false)
	if b := one(t, w); b.Header != nil {
		t.Error("Send after SendHeader repeated the header")
	}
}

func TestSendLast(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		s, w := newSend()
		if err := s.SendLast([]byte("req"), false, nil); err != nil {
			t.Fatal(err)
		}
		b := one(t, w)
		if b.Header == nil || !b.HasMessage || string(b.Data) != "req" || !b.End || b.Trailer != nil {
			t.Errorf("SendLast(nil trailer) batch = %+v, want header + message + END_STREAM", b)
		}
		if !s.Ended() {
			t.Error("Ended() = false after SendLast")
		}
	})
	t.Run("server", func(t *testing.T) {
		s, w := newSend()
		if err := s.SendLast([]byte("resp"), true, &stream.Header{GRPCStatus: "0"}); err != nil {
			t.Fatal(err)
		}
		b := one(t, w)
		if b.Header == nil || !b.HasMessage || b.Prefix[0] != 1 || string(b.Data) != "resp" {
			t.Errorf("SendLast batch = %+v, want header + compressed message", b)
		}
		if !b.End || b.Trailer == nil || b.Trailer.GRPCStatus != "0" {
			t.Errorf("SendLast batch = %+v, want the trailer and END_STREAM", b)
		}
	})
}

func TestCloseTrailersOnly(t *testing.T) {
	s, w := newSend()
	s.Header().AcceptEncoding = "gzip"
	if err := s.Close(&stream.Header{GRPCStatus: "5", GRPCMessage: "not found"}); err != nil {
		t.Fatal(err)
	}
	b := one(t, w)
	if b.Header != nil || b.HasMessage || !b.End || b.Trailer == nil {
		t.Fatalf("Close batch = %+v, want one trailer block and END_STREAM", b)
	}
	tr := b.Trailer
	if tr.Status != 200 || tr.ContentType != "application/grpc" || tr.AcceptEncoding != "gzip" ||
		tr.GRPCStatus != "5" || tr.GRPCMessage != "not found" {
		t.Errorf("trailers-only block = %+v, want :status, content-type, grpc-accept-encoding and the status", tr)
	}
	if !s.HeaderSent() || !s.Ended() {
		t.Errorf("HeaderSent() = %v, Ended() = %v after Close", s.HeaderSent(), s.Ended())
	}
}

func TestCloseTrailersOnlyWithMetadata(t *testing.T) {
	s, w := newSend()
	s.Header().MD = metadata.Pairs("x-header", "h")
	if err := s.Close(&stream.Header{GRPCStatus: "0", MD: metadata.Pairs("x-trailer", "t")}); err != nil {
		t.Fatal(err)
	}
	b := one(t, w)
	if b.Header == nil || b.Header.Status != 200 || b.Header.MD.Get("x-header")[0] != "h" {
		t.Fatalf("Close batch header = %+v, want the header block with its metadata first", b.Header)
	}
	if b.Trailer == nil || b.Trailer.GRPCStatus != "0" || b.Trailer.Status != 0 || len(b.Trailer.MD.Get("x-header")) != 0 {
		t.Errorf("Close batch trailer = %+v, want the status alone (no :status)", b.Trailer)
	}
	if b.HasMessage || !b.End {
		t.Errorf("Close batch = %+v", b)
	}
}

func TestCloseAfterSend(t *testing.T) {
	s, w := newSend()
	s.Send([]byte("m"), false)
	w.take()
	if err := s.Close(&stream.Header{GRPCStatus: "0"}); err != nil {
		t.Fatal(err)
	}
	b := one(t, w)
	if b.Header != nil || b.HasMessage || b.Trailer == nil || b.Trailer.Status != 0 || !b.End {
		t.Errorf("Close after Send batch = %+v, want the trailer block alone", b)
	}
}

func TestCloseHalfClose(t *testing.T) {
	s, w := newSend()
	s.Close(nil)
	if b := one(t, w); b.Header == nil || b.Trailer != nil || b.HasMessage || !b.End {
		t.Errorf("Close(nil) with nothing sent = %+v, want header + END_STREAM", b)
	}

	s, w = newSend()
	s.Send([]byte("m"), false)
	w.take()
	s.Close(nil)
	if b := one(t, w); b.Header != nil || b.Trailer != nil || b.HasMessage || !b.End {
		t.Errorf("Close(nil) after Send = %+v, want END_STREAM alone", b)
	}
}

func TestCloseTwice(t *testing.T) {
	s, w := newSend()
	s.Close(&stream.Header{GRPCStatus: "0"})
	w.take()
	if err := s.Close(&stream.Header{GRPCStatus: "13"}); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := s.Close(nil); err != nil {
		t.Errorf("third Close = %v, want nil", err)
	}
	if n := len(w.take()); n != 0 {
		t.Errorf("second Close wrote %d batches", n)
	}
}

func TestSendAfterClose(t *testing.T) {
	s, w := newSend()
	s.Close(&stream.Header{GRPCStatus: "0"})
	w.take()
	if err := s.Send([]byte("late"), false); status.CodeOf(err) != status.Internal {
		t.Errorf("Send after Close = %v, want INTERNAL", err)
	}
	if err := s.SendLast([]byte("late"), false, nil); err == nil {
		t.Error("SendLast after Close succeeded")
	}
	if err := s.CloseWithBody([]byte("late")); err == nil {
		t.Error("CloseWithBody after Close succeeded")
	}
	if n := len(w.take()); n != 0 {
		t.Errorf("%d batches written after Close", n)
	}

	s, w = newSend()
	s.SendLast([]byte("last"), false, nil)
	w.take()
	if err := s.Send([]byte("late"), false); err == nil {
		t.Error("Send after SendLast succeeded")
	}
	if err := s.Close(nil); err != nil || len(w.take()) != 0 {
		t.Errorf("Close after SendLast = %v, or wrote something", err)
	}
}

func TestCloseWithBody(t *testing.T) {
	s, w := newSend()
	*s.Header() = stream.Header{Status: 415, ContentType: "text/plain"}
	if err := s.CloseWithBody([]byte("unsupported media type")); err != nil {
		t.Fatal(err)
	}
	b := one(t, w)
	if b.Header == nil || b.Header.Status != 415 || !b.HasMessage || !b.Raw || !b.End || b.Trailer != nil {
		t.Errorf("CloseWithBody batch = %+v, want header + raw body + END_STREAM", b)
	}
	if string(b.Data) != "unsupported media type" {
		t.Errorf("body = %q", b.Data)
	}

	s, w = newSend()
	s.Send([]byte("m"), false)
	w.take()
	if err := s.CloseWithBody([]byte("x")); err == nil {
		t.Error("CloseWithBody after Send succeeded")
	}
	if n := len(w.take()); n != 0 {
		t.Errorf("CloseWithBody after Send wrote %d batches", n)
	}
}

func TestSendWriterErrorSticks(t *testing.T) {
	s, w := newSend()
	errGone := errors.New("stream reset")
	w.err = errGone
	if err := s.Send([]byte("a"), false); err != errGone {
		t.Fatalf("Send = %v, want the writer's error", err)
	}
	w.err = nil
	if err := s.Send([]byte("b"), false); err != errGone {
		t.Errorf("Send after a failure = %v, want the same error", err)
	}
	if err := s.Close(&stream.Header{GRPCStatus: "0"}); err != errGone {
		t.Errorf("Close after a failure = %v, want the same error", err)
	}
	if n := len(w.take()); n != 1 {
		t.Errorf("%d batches reached the writer, want only the failed one", n)
	}
}

// A header block the owner gave stays the owner's: it is what was sent,
// readable after the send (a client replays it on a retry), and later
// sends do not touch it.
func TestSendUseHeaderKeepsBlock(t *testing.T) {
	w := &batchRecorder{}
	s := &stream.SendStream{}
	s.Init(w)
	h := &stream.Header{Method: "POST", Path: "/a/b"}
	s.UseHeader(h)
	if s.Header() != h {
		t.Fatal("Header() is not the block given to UseHeader")
	}
	if err := s.SendLast([]byte("x"), false, nil); err != nil {
		t.Fatal(err)
	}
	if b := one(t, w); b.Header == nil || b.Header.Path != "/a/b" {
		t.Errorf("sent header = %+v, want the owner's block", b.Header)
	}
	if s.SentHeader() != h || h.Path != "/a/b" || h.Method != "POST" {
		t.Errorf("SentHeader() = %p %+v, want the owner's block unchanged (%p)", s.SentHeader(), h, h)
	}
}

// A pooled header block is not the owner's: SentHeader has nothing to
// give, and the trailers-only close still carries the header's fields.
func TestSendPooledHeaderNotKept(t *testing.T) {
	s, w := newSend()
	s.Header().AcceptEncoding = "gzip"
	if err := s.Close(&stream.Header{GRPCStatus: "5"}); err != nil {
		t.Fatal(err)
	}
	b := one(t, w)
	if b.Header != nil || b.Trailer == nil || b.Trailer.Status != 200 || b.Trailer.AcceptEncoding != "gzip" || b.Trailer.GRPCStatus != "5" {
		t.Errorf("trailers-only batch = header %+v trailer %+v", b.Header, b.Trailer)
	}
	if s.SentHeader() != nil {
		t.Errorf("SentHeader() = %+v for a pooled block, want nil", s.SentHeader())
	}
}

// Blocks go back to the pool zeroed: a later stream that takes one sees
// none of an earlier stream's fields (metadata above all).
func TestSendPooledBlocksReturnZeroed(t *testing.T) {
	for range 100 {
		s, w := newSend()
		s.Header().MD = metadata.Pairs("x-secret", "1")
		tr := stream.Header{GRPCStatus: "0", MD: metadata.Pairs("x-trailer", "1")}
		if err := s.SendLast([]byte("x"), false, &tr); err != nil {
			t.Fatal(err)
		}
		w.take()
		next := &stream.SendStream{}
		next.Init(w)
		if h := next.Header(); h.MD != nil || h.Status != 0 || h.GRPCStatus != "" {
			t.Fatalf("a new stream's header block = %+v, want zero", h)
		}
	}
}
