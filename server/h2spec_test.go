package server_test

import (
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2grpc/h2grpc/internal/h2test"
)

// h2spec's cases send requests that are not gRPC (GET /, POST / without a
// gRPC content-type) and then misbehave on them. The server answers such a
// request once it has ended, so that the connection still has the stream
// open and answers the misbehaviour as RFC 9113 says; answering at once
// would close the stream from the server's side first, and the connection
// would then drop what followed on it. These are those cases, as the fake
// client plays them; `make h2spec` runs h2spec itself.

// nonGRPCRequest is the header block of h2spec's requests.
func nonGRPCRequest(method string, extra ...hpack.HeaderField) []hpack.HeaderField {
	return append([]hpack.HeaderField{
		hf(":method", method), hf(":scheme", "http"), hf(":path", "/"), hf(":authority", "h2spec"),
	}, extra...)
}

// pause gives a server that would answer a request at once the time to do
// it: a PING round trip, then a few milliseconds. Only a server with the
// bug waits on it; a correct one answers the same either way.
func pause(t *testing.T, p *h2test.Peer) {
	t.Helper()
	p.WritePing(false, [8]byte{'p'})
	for {
		f := p.Next()
		if f.Type == http2.FramePing && f.IsAck() {
			break
		}
		if f.StreamID != 0 {
			t.Fatalf("answered before the request ended: %v", f)
		}
	}
	time.Sleep(20 * time.Millisecond)
}

// TestNonGRPCRequestResetByClient: a GET whose client resets it before
// ending it gets no answer, and a HEADERS frame after the client's reset is
// a connection error of type STREAM_CLOSED (RFC 9113 §5.1, h2spec
// http2/5.1/9).
func TestNonGRPCRequestResetByClient(t *testing.T) {
	p := fakeServe(t, fakeServer(nil))
	p.WriteHeaders(1, false, nonGRPCRequest("GET"))
	pause(t, p)
	p.WriteRSTStream(1, http2.ErrCodeCancel)
	p.WriteHeaders(1, true, nonGRPCRequest("GET"))
	fs := p.WaitClosed()
	var goAway bool
	for _, f := range fs {
		switch {
		case f.StreamID == 1:
			t.Errorf("frame on the reset stream: %v", f)
		case f.Type == http2.FrameGoAway:
			goAway = f.ErrCode == http2.ErrCodeStreamClosed
		}
	}
	if !goAway {
		t.Errorf("frames %v, want GOAWAY(STREAM_CLOSED)", fs)
	}
}

// TestNonGRPCRequestBadContentLength: a request whose body disagrees with
// its content-length is a stream error of type PROTOCOL_ERROR, not
// answered (RFC 9113 §8.1.1, h2spec http2/8.1.2.6/1 and /2).
func TestNonGRPCRequestBadContentLength(t *testing.T) {
	p := fakeServe(t, fakeServer(nil))
	for i, frames := range [][]string{{"test"}, {"test", "test"}} {
		id := uint32(1 + 2*i)
		p.WriteHeaders(id, false, nonGRPCRequest("POST", hf("content-length", "1")))
		pause(t, p)
		for j, data := range frames {
			p.WriteData(id, j == len(frames)-1, []byte(data))
		}
		fs := fakeResponse(t, p, id)
		if len(fs) != 1 || fs[0].Type != http2.FrameRSTStream || fs[0].ErrCode != http2.ErrCodeProtocol {
			t.Errorf("%d DATA frames: got %v, want RST_STREAM(PROTOCOL_ERROR) alone", len(frames), fs)
		}
	}
}

// TestNonGRPCRequestAnsweredAtItsEnd: a request with a body is answered
// after its last DATA frame, with the HTTP error and its text body, and no
// RST_STREAM follows: the client had ended its side.
func TestNonGRPCRequestAnsweredAtItsEnd(t *testing.T) {
	p := fakeServe(t, fakeServer(nil))
	p.WriteHeaders(1, false, nonGRPCRequest("POST", hf("content-type", "text/plain"), hf("content-length", "8")))
	p.WriteData(1, false, []byte("hel"))
	pause(t, p)
	p.WriteData(1, true, []byte("lo h2"))
	fs := fakeResponse(t, p, 1)
	if fs[0].Type != http2.FrameHeaders || fs[0].Header(":status") != "415" {
		t.Fatalf("response %v, want HTTP 415", fs)
	}
	if last := fs[len(fs)-1]; last.Type != http2.FrameData || !last.EndStream() || len(last.Data) == 0 {
		t.Fatalf("response %v, want a text body that ends the stream", fs)
	}
	p.WritePing(false, [8]byte{1})
	for {
		f := p.Next()
		if f.StreamID == 1 {
			t.Fatalf("after the response: %v", f)
		}
		if f.Type == http2.FramePing && f.IsAck() {
			return
		}
	}
}
