package connection_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/h2grpc/h2grpc/connection"
)

// TestConcurrentStreamsIntact: many streams sending at once on one
// connection, both ways, over TCP (raw reads, writev), with
// write buffers far smaller than the messages: while one writer's flush
// is on the socket the others chain their frames behind it, and every
// message must arrive whole and in order on its own stream.
func TestConcurrentStreamsIntact(t *testing.T) {
	// Not over net.Pipe: both ends write their preface before they read,
	// and a pipe's writes wait for the reader.
	for _, bufSize := range []int{512, 64 << 10} {
		t.Run(fmt.Sprintf("buffer=%d", bufSize), func(t *testing.T) {
			cfg := connection.Config{WriteBufferSize: bufSize, ReadBufferSize: bufSize}
			testConcurrentStreams(t, cfg, 24, 20, 40000)
		})
	}
}

// TestLargeMessagesIntact: messages far larger than a write buffer go out
// in vectored writes straight from the sender's bytes (writeDirect), cut
// into frames of the peer's size and into runs of the flow-control credit
// at hand, while other streams' frames are buffered around them.
func TestLargeMessagesIntact(t *testing.T) {
	for _, maxFrame := range []uint32{0, 100000, 1 << 20} {
		t.Run(fmt.Sprintf("frame=%d", maxFrame), func(t *testing.T) {
			cfg := connection.Config{MaxFrameSize: maxFrame, StreamWindow: 300000}
			testConcurrentStreams(t, cfg, 6, 8, 1500000)
		})
	}
}

func testConcurrentStreams(t *testing.T, cfg connection.Config, streams, msgs, maxLen int) {
	a, b := tcpPair(t)
	// The server echoes each message back, then ends with OK.
	var handlers sync.WaitGroup
	srv := connection.NewServerConn(b, cfg, func(st *connection.Stream) {
		handlers.Go(func() { echo(st) })
	})
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve()
	}()
	cc, err := connection.NewClientConn(a, cfg)
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for i := range streams {
		wg.Go(func() {
			ctx := t.Context()
			st, err := cc.NewStream(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			defer st.Finish()
			*st.Send.Header() = requestHeader()
			// Sizes from a byte to several frames, content unique per
			// stream and message.
			want := make([][]byte, msgs)
			for j := range want {
				n := 1 + (i*7919+j*104729)%maxLen
				want[j] = bytes.Repeat([]byte{byte(i), byte(j), byte(n)}, n/3+1)[:n]
			}
			sendErr := make(chan error, 1)
			go func() {
				for _, m := range want {
					if err := st.Send.Send(m, false); err != nil {
						sendErr <- err
						return
					}
				}
				sendErr <- st.Send.Close(nil)
			}()
			for j := range want {
				m, err := st.Recv.Recv()
				if err != nil {
					t.Errorf("stream %d message %d: %v", i, j, err)
					return
				}
				if !bytes.Equal(m.Data, want[j]) {
					t.Errorf("stream %d message %d: %d bytes differ from the %d sent", i, j, len(m.Data), len(want[j]))
				}
				m.Release()
			}
			if _, err := st.Recv.Recv(); err != io.EOF {
				t.Errorf("stream %d end: %v, want io.EOF", i, err)
			}
			if err := <-sendErr; err != nil {
				t.Errorf("stream %d send: %v", i, err)
			}
		})
	}
	wg.Wait()
	cc.Close()
	<-served
	handlers.Wait()
}

// TestServerStreamFlushed: each message of a server stream, small or
// large enough for writeDirect, goes out by itself, without a later write
// to push it: the server waits for the client to have each message before
// it sends the next.
func TestServerStreamFlushed(t *testing.T) {
	a, b := tcpPair(t)
	got := make(chan []byte)
	var handlers sync.WaitGroup
	srv := connection.NewServerConn(b, connection.Config{}, func(st *connection.Stream) {
		handlers.Go(func() {
			defer st.Finish()
			setResponseHeader(st)
			if _, err := st.Recv.Recv(); err != nil {
				st.Cancel(err)
				return
			}
			if _, err := st.Recv.Recv(); err != io.EOF {
				t.Errorf("server: request end: %v, want io.EOF", err)
			}
			for _, n := range []int{1, 1000, 16 << 10, 200 << 10, 3} {
				msg := bytes.Repeat([]byte{byte(n)}, n)
				if err := st.Send.Send(msg, false); err != nil {
					t.Errorf("server: send %d bytes: %v", n, err)
					return
				}
				if m := <-got; !bytes.Equal(m, msg) {
					t.Errorf("client got %d bytes, want the %d sent", len(m), n)
				}
			}
			st.Send.Close(okStatus())
		})
	})
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve()
	}()
	cc, err := connection.NewClientConn(a, connection.Config{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := cc.NewStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	*st.Send.Header() = requestHeader()
	if err := st.Send.SendLast([]byte("request"), false, nil); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := st.Recv.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got <- bytes.Clone(m.Data)
		m.Release()
	}
	st.Finish()
	cc.Close()
	<-served
	handlers.Wait()
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := lis.Accept()
		acc <- c
	}()
	a, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-acc
	if b == nil {
		t.Fatal("accept failed")
	}
	return a, b
}
