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
			testConcurrentStreams(t, bufSize)
		})
	}
}

func testConcurrentStreams(t *testing.T, bufSize int) {
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
	cfg := connection.Config{WriteBufferSize: bufSize, ReadBufferSize: bufSize}

	// The server echoes each message back, then ends with OK.
	var handlers sync.WaitGroup
	srv := connection.NewServerConn(b, cfg, func(st *connection.Stream) {
		handlers.Go(func() {
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
		})
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

	const streams, msgs = 24, 20
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
				n := 1 + (i*7919+j*104729)%40000
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
