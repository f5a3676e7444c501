package connection_test

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2grpc/h2grpc/connection"
)

// A reader left without data parks (Conn.Start): its goroutine exits and
// the idle poller starts a new one when the socket is readable. These
// tests run over TCP, where readers park, with a grace of a millisecond.

// parkPair is a server connection run by Start, with a client connection
// on the other end of a TCP socket.
type parkPair struct {
	srv      *connection.Conn
	cc       *connection.Conn
	ended    chan struct{} // closed by the server's onEnd
	handlers sync.WaitGroup
}

func startParkPair(t *testing.T) *parkPair {
	t.Helper()
	connection.SetIdleGrace(t, time.Millisecond)
	return startPairWith(t, connection.Config{}, echo, nil)
}

// startPairWith starts a parkPair with cfg on both ends whose server runs
// each stream with run on a goroutine of its own, and lets its reader run
// the streams inline accepts (Conn.SetInline) unless inline is nil.
func startPairWith(t *testing.T, cfg connection.Config, run func(*connection.Stream), inline connection.InlineHandler) *parkPair {
	t.Helper()
	if !connection.IdlePollAvailable() {
		t.Skip("connections do not park here")
	}
	a, b := tcpPair(t)
	p := &parkPair{ended: make(chan struct{})}
	p.srv = connection.NewServerConn(b, cfg, func(st *connection.Stream) {
		p.handlers.Go(func() { run(st) })
	})
	if inline != nil {
		p.srv.SetInline(inline)
	}
	go p.srv.Start(func() { close(p.ended) })
	var err error
	p.cc, err = connection.NewClientConn(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cc.Close()
		p.srv.Close()
		<-p.ended
		p.handlers.Wait()
	})
	return p
}

// echo sends each message back, then ends the call with OK.
func echo(st *connection.Stream) {
	defer st.Finish()
	setResponseHeader(st)
	for {
		m, err := st.Recv.Recv()
		if err == io.EOF {
			st.Send.Close(okStatus())
			return
		}
		if err != nil {
			st.Cancel(err)
			return
		}
		err = st.Send.Send(m.Data, false)
		m.Release()
		if err != nil {
			return
		}
	}
}

// waitParked waits, under the test's deadline, for c's reader to park.
func waitParked(t *testing.T, c *connection.Conn) {
	t.Helper()
	for !c.Parked() {
		select {
		case <-t.Context().Done():
			t.Fatal("the reader did not park")
		case <-time.After(time.Millisecond):
		}
	}
}

func echoCall(t *testing.T, cc *connection.Conn, msg []byte) {
	t.Helper()
	st, err := cc.NewStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Finish()
	*st.Send.Header() = requestHeader()
	if err := st.Send.Send(msg, false); err != nil {
		t.Fatal(err)
	}
	if err := st.Send.Close(nil); err != nil {
		t.Fatal(err)
	}
	checkEcho(t, st, msg)
}

// checkEcho reads the response to an echo call that sent msg.
func checkEcho(t *testing.T, st *connection.Stream, msg []byte) {
	t.Helper()
	m, err := st.Recv.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Data, msg) {
		t.Errorf("echo: %d bytes differ from the %d sent", len(m.Data), len(msg))
	}
	m.Release()
	if _, err := st.Recv.Recv(); err != io.EOF {
		t.Fatalf("end of call: %v, want io.EOF", err)
	}
}

// TestParkedReaderResumes: a call on a connection whose reader has parked
// goes through, again and again, with messages of several frames.
func TestParkedReaderResumes(t *testing.T) {
	p := startParkPair(t)
	for i := range 5 {
		waitParked(t, p.srv)
		echoCall(t, p.cc, pattern(1+i*30000))
	}
}

// TestParkedReaderClose: Close of a connection whose reader has parked
// returns, and the connection finishes (onEnd).
func TestParkedReaderClose(t *testing.T) {
	p := startParkPair(t)
	waitParked(t, p.srv)
	p.srv.Close()
	<-p.ended
}

// TestParkedReaderPeerCloses: the client closing a connection whose
// server reader has parked ends the server's connection.
func TestParkedReaderPeerCloses(t *testing.T) {
	p := startParkPair(t)
	waitParked(t, p.srv)
	p.cc.Close()
	select {
	case <-p.ended:
	case <-t.Context().Done():
		t.Fatal("the server connection did not end")
	}
	if p.srv.Err() == nil {
		t.Error("Err is nil after the connection ended")
	}
}

// TestParkedReaderShutdown: a graceful shutdown of a connection whose
// reader has parked finishes it.
func TestParkedReaderShutdown(t *testing.T) {
	p := startParkPair(t)
	waitParked(t, p.srv)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-p.ended
}

// TestIdleDeadlineMidFrame: the idle wait's read deadline passing while a
// frame is half read is not the connection's deadline: the rest of the
// frame, sent after several idle graces, is read and the call served.
// With a read buffer smaller than the frame, the rest of the frame is
// read straight into the Framer's buffer (sockReader.fill).
func TestIdleDeadlineMidFrame(t *testing.T) {
	t.Run("buffered", func(t *testing.T) { testIdleDeadlineMidFrame(t, connection.Config{}, 0) })
	t.Run("unbuffered", func(t *testing.T) {
		testIdleDeadlineMidFrame(t, connection.Config{ReadBufferSize: 512}, 2000)
	})
}

func testIdleDeadlineMidFrame(t *testing.T, cfg connection.Config, pad int) {
	if !connection.IdlePollAvailable() {
		t.Skip("connections do not park here")
	}
	connection.SetIdleGrace(t, time.Millisecond)
	nc, b := tcpPair(t)
	defer nc.Close()
	got := make(chan string, 1)
	srv := connection.NewServerConn(b, cfg, func(st *connection.Stream) {
		h, err := st.Recv.Header()
		if err != nil {
			got <- err.Error()
		} else {
			got <- h.Path
		}
		st.Finish()
	})
	ended := make(chan struct{})
	go srv.Start(func() { close(ended) })
	defer func() {
		srv.Close()
		<-ended
	}()

	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/s/m"}, {":authority", "x"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if pad > 0 {
		enc.WriteField(hpack.HeaderField{Name: "x-pad", Value: string(bytes.Repeat([]byte{'p'}, pad))})
	}
	var out bytes.Buffer
	out.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&out, nil)
	fr.WriteSettings()
	fr.WriteSettingsAck()
	if _, err := nc.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	// Parked, the reader arms the idle deadline afresh when it resumes:
	// the frame comes in parts after it is armed.
	waitParked(t, srv)
	out.Reset()
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	frame := out.Bytes()
	parts := [][]byte{frame[:4], frame[4:12], frame[12:]}
	if pad > 0 {
		// The frame header and the start of the payload, so that the
		// deadline is still armed when the rest is read.
		parts = [][]byte{frame[:40], frame[40:]}
	}
	for _, part := range parts {
		if _, err := nc.Write(part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // several idle graces
	}
	select {
	case path := <-got:
		if path != "/s/m" {
			t.Errorf("path %q, want /s/m", path)
		}
	case <-ended:
		t.Fatalf("the connection ended: %v", srv.Err())
	}
}

// TestParkedClientReader: a client connection's reader parks too; a call
// wakes the server's, and the response the client's; the server
// closing ends the client's parked connection.
func TestParkedClientReader(t *testing.T) {
	p := startParkPair(t)
	for i := range 3 {
		waitParked(t, p.cc)
		waitParked(t, p.srv)
		echoCall(t, p.cc, pattern(1+i*20000))
	}
	waitParked(t, p.cc)
	p.srv.Close()
	select {
	case <-p.cc.Done():
	case <-t.Context().Done():
		t.Fatal("the client connection did not end")
	}
	if _, err := p.cc.NewStream(t.Context()); err == nil {
		t.Error("NewStream on an ended connection succeeded")
	}
}
