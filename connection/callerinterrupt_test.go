package connection_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/status"
)

// fakeServer answers a client connection's handshake on nc and reads
// whatever the client sends; requests gets the id of each stream the
// client ends.
func fakeServer(t *testing.T, nc net.Conn) (fr *http2.Framer, requests chan uint32) {
	t.Helper()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(nc, preface); err != nil {
		t.Fatal(err)
	}
	fr = http2.NewFramer(nc, nc)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
	requests = make(chan uint32, 16)
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if f.Header().Flags.Has(http2.FlagDataEndStream) && f.Header().Type == http2.FrameData {
				requests <- f.Header().StreamID
			}
		}
	}()
	return fr, requests
}

// startResponse starts a client connection to a fake server, waits for its
// reader to park, sends a request and returns, unwritten, the server's
// response frames: a header block and a 100-byte message.
func startResponse(t *testing.T) (cc *connection.Conn, srv net.Conn, st *connection.Stream, resp []byte) {
	t.Helper()
	a, b := tcpPair(t)
	t.Cleanup(func() { b.Close() })
	cc, err := connection.NewClientConn(a, connection.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	_, requests := fakeServer(t, b)
	waitParked(t, cc)
	st = sendRequest(t, cc, []byte("x"))
	id := <-requests

	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/grpc"})
	var out bytes.Buffer
	ofr := http2.NewFramer(&out, nil)
	ofr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true})
	ofr.WriteData(id, false, append([]byte{0, 0, 0, 0, 100}, pattern(100)...))
	return cc, b, st, out.Bytes()
}

// TestCallerInterruptMidFrame: cancelling a stream whose caller reads the
// connection (ReadResponse) while a frame has arrived only in part must
// not end the connection: the interrupt's deadline is not the
// connection's, also when the idle wait's deadline passed first in the
// middle of that frame.
func TestCallerInterruptMidFrame(t *testing.T) {
	if !connection.IdlePollAvailable() {
		t.Skip("connections do not park here")
	}
	connection.SetIdleGrace(t, time.Millisecond)
	cc, b, st, all := startResponse(t)
	cut := len(all) - 50 // the DATA frame's header and half its payload
	if _, err := b.Write(all[:cut]); err != nil {
		t.Fatal(err)
	}

	returned := make(chan struct{})
	go func() {
		st.ReadResponse()
		close(returned)
	}()
	time.Sleep(30 * time.Millisecond) // many idle graces: the caller waits mid-frame
	st.Cancel(status.New(status.Canceled, "cancelled"))
	time.Sleep(30 * time.Millisecond)
	// The rest of the frame, then the caller may stop.
	if _, err := b.Write(all[cut:]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("ReadResponse did not return")
	}
	st.Finish()
	select {
	case <-cc.Done():
		t.Fatalf("the connection ended: %v", cc.Err())
	case <-time.After(20 * time.Millisecond):
	}
	if err := cc.Err(); err != nil {
		t.Fatalf("connection error %v after a cancelled call", err)
	}
}

// TestCallerReadConnError: a caller reading its own response that meets a
// connection error returns at once, with the call failed: the GOAWAY and
// the wait for the server to close after it (Conn.linger, up to a second)
// are not the caller's to sit through.
func TestCallerReadConnError(t *testing.T) {
	if !connection.IdlePollAvailable() {
		t.Skip("connections do not park here")
	}
	_, b, st, all := startResponse(t)
	if _, err := b.Write(all[:len(all)-50]); err != nil { // and never the rest
		t.Fatal(err)
	}
	returned := make(chan struct{})
	go func() {
		st.ReadResponse()
		close(returned)
	}()
	time.Sleep(30 * time.Millisecond)
	st.Cancel(status.New(status.Canceled, "cancelled"))
	select {
	case <-returned:
	case <-time.After(2 * time.Second):
		t.Fatal("ReadResponse did not return after Cancel")
	}
	st.Finish()
}
