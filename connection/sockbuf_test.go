package connection

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := lis.Accept()
		accepted <- c
	}()
	a, err = net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestSockWriter: writes come out in order and whole, whatever their sizes
// against the buffer's, and the buffer goes back once flushed.
func TestSockWriter(t *testing.T) {
	var out bytes.Buffer
	var w sockWriter
	w.init(&out, 16)
	var want []byte
	for i, n := range []int{0, 3, 13, 1, 16, 40, 5, 16, 2} {
		p := bytes.Repeat([]byte{byte('a' + i)}, n)
		want = append(want, p...)
		if k, err := w.Write(p); k != n || err != nil {
			t.Fatalf("Write(%d bytes) = %d, %v", n, k, err)
		}
		if i%3 == 2 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if w.buf != nil || w.Buffered() != 0 {
				t.Fatalf("after Flush: holds a buffer (%v) or %d bytes", w.buf != nil, w.Buffered())
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("wrote %q, want %q", out.Bytes(), want)
	}
}

// TestSockReaderRaw: over TCP the reader takes a buffer only for the bytes
// at hand: none is held once they are parsed, while it waits, nor at the
// end; the end is io.EOF, a deadline a net.Error that is a Timeout.
func TestSockReaderRaw(t *testing.T) {
	a, b := tcpPair(t)
	var r sockReader
	r.init(a, 64)
	if r.raw == nil {
		t.Fatal("no raw reader on a TCP connection")
	}
	msg := []byte("0123456789")
	if _, err := b.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(&r, got); err != nil || string(got) != "0123" {
		t.Fatalf("read %q, %v", got, err)
	}
	if r.buf == nil {
		t.Fatal("unread bytes but no buffer held")
	}
	got = make([]byte, 6)
	if _, err := io.ReadFull(&r, got); err != nil || string(got) != "456789" {
		t.Fatalf("read %q, %v", got, err)
	}
	if r.buf != nil {
		t.Fatal("buffer held with nothing left to parse")
	}

	// A read as large as the buffer goes straight into the caller's slice.
	big := bytes.Repeat([]byte{7}, 200)
	go b.Write(big)
	got = make([]byte, 200)
	if _, err := io.ReadFull(&r, got); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}

	a.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err := r.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	if r.buf != nil {
		t.Fatal("buffer held while waiting")
	}
	a.SetReadDeadline(time.Time{})
	r.eof = false

	b.Close()
	if _, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want io.EOF", err)
	}
	if !r.eof || r.buf != nil {
		t.Fatalf("at the end: eof %v, buffer held %v", r.eof, r.buf != nil)
	}
}

// TestSockReaderPipe: without a file descriptor (net.Pipe, TLS) the
// reader reads the blocking way into a buffer it keeps.
func TestSockReaderPipe(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	var r sockReader
	r.init(a, 64)
	if r.raw != nil {
		t.Fatal("raw reader on net.Pipe")
	}
	go func() {
		b.Write([]byte("hello, world"))
		b.Close()
	}()
	got, err := io.ReadAll(&r)
	if err != nil || string(got) != "hello, world" {
		t.Fatalf("read %q, %v", got, err)
	}
	if !r.eof {
		t.Fatal("eof not recorded")
	}
}

// wrappedConn reads through a transformation of the socket under it, yet
// offers that socket's SyscallConn, as the tls.Conn grpc-go's TLS
// credentials return does.
type wrappedConn struct {
	*net.TCPConn
}

func (c wrappedConn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	for i := range p[:n] {
		p[i] ^= 0xff
	}
	return n, err
}

// TestSockReaderWrapped: a connection that only offers a socket's
// SyscallConn is read through its own Read (a raw read got the
// ciphertext of TLS connections made by grpc-go's credentials).
func TestSockReaderWrapped(t *testing.T) {
	a, b := tcpPair(t)
	var r sockReader
	r.init(wrappedConn{a.(*net.TCPConn)}, 64)
	if r.raw != nil {
		t.Fatal("raw reader on a wrapped connection")
	}
	if _, err := b.Write([]byte{^byte('x')}); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 1)
	if _, err := io.ReadFull(&r, got); err != nil || got[0] != 'x' {
		t.Fatalf("read %q, %v; want %q", got, err, "x")
	}
}

// TestSockReaderPeek: peek hands out buffered bytes without copying them,
// at most max, reading only when nothing is buffered; discard consumes
// them and, over TCP, gives the buffer back once it is empty.
func TestSockReaderPeek(t *testing.T) {
	a, b := tcpPair(t)
	var r sockReader
	r.init(a, 64)
	if _, err := b.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	p, err := r.peek(4)
	if err != nil || string(p) != "0123" {
		t.Fatalf("peek(4) = %q, %v", p, err)
	}
	r.discard(len(p))
	var rest []byte
	for len(rest) < 6 {
		p, err := r.peek(100)
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, p...)
		r.discard(len(p))
	}
	if string(rest) != "456789" {
		t.Fatalf("the rest = %q", rest)
	}
	if r.buf != nil {
		t.Fatal("buffer held with nothing left to parse")
	}
	b.Close()
	if p, err := r.peek(1); err != io.EOF || len(p) != 0 {
		t.Fatalf("peek after the peer closed: %q, %v, want io.EOF", p, err)
	}
	if !r.eof || r.buf != nil {
		t.Fatalf("at the end: eof %v, buffer held %v", r.eof, r.buf != nil)
	}
}
