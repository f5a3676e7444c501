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
	a, b := tcpPair(t)
	defer b.Close()
	cc, err := connection.NewClientConn(a, connection.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	fr, requests := fakeServer(t, b)
	waitParked(t, cc)

	st := sendRequest(t, cc, []byte("x"))
	id := <-requests

	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/grpc"})
	var out bytes.Buffer
	ofr := http2.NewFramer(&out, nil)
	ofr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true})
	ofr.WriteData(id, false, append([]byte{0, 0, 0, 0, 100}, pattern(100)...))
	all := out.Bytes()
	cut := len(all) - 50 // the DATA frame's header and half its payload
	if _, err := b.Write(all[:cut]); err != nil {
		t.Fatal(err)
	}
	_ = fr

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
	a, b := tcpPair(t)
	defer b.Close()
	cc, err := connection.NewClientConn(a, connection.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	fr, requests := fakeServer(t, b)
	waitParked(t, cc)

	st := sendRequest(t, cc, []byte("x"))
	<-requests
	fr.AllowIllegalWrites = true
	if err := fr.WriteWindowUpdate(0, 0); err != nil { // a connection error (RFC 9113 §6.9)
		t.Fatal(err)
	}
	start := time.Now()
	st.ReadResponse()
	if _, err := st.Recv.Recv(); err == nil {
		t.Error("Recv succeeded after a connection error")
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("the call failed %v after the connection error", d)
	}
	st.Finish()
}

// TestCallerInterruptStalledFrame: a caller reading its own response
// whose call is cancelled returns while the server has stalled in the
// middle of a frame (a peer gone mid-frame, say): before callers read,
// the caller's receive returned on Cancel whatever the reader waited for.
func TestCallerInterruptStalledFrame(t *testing.T) {
	if !connection.IdlePollAvailable() {
		t.Skip("connections do not park here")
	}
	a, b := tcpPair(t)
	defer b.Close()
	cc, err := connection.NewClientConn(a, connection.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, requests := fakeServer(t, b)
	waitParked(t, cc)
	st := sendRequest(t, cc, []byte("x"))
	id := <-requests

	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/grpc"})
	var out bytes.Buffer
	ofr := http2.NewFramer(&out, nil)
	ofr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true})
	ofr.WriteData(id, false, append([]byte{0, 0, 0, 0, 100}, pattern(100)...))
	all := out.Bytes()
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
