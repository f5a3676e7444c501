package connection_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/h2test"
)

// TestServerStartsHandlerWithWholeRequest: a request whose header block
// and message arrive in one read starts its handler once both are parsed
// (batch.go), so the handler finds its message there instead of being
// woken twice; a request read in two parts starts on the first, so a
// client that streams is not held up.
func TestServerStartsHandlerWithWholeRequest(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		a, b := net.Pipe()
		p := h2test.NewClient(ctx, t, b)
		ended := make(chan bool, 2)
		c := connection.NewServerConn(a, connection.Config{}, func(st *connection.Stream) {
			// On the reader goroutine: what has it fed the stream so far?
			ended <- st.Recv.Err() == io.EOF
			go func() {
				defer st.Finish()
				recvAll(st)
				setResponseHeader(st)
				st.Send.SendLast(pattern(3), false, okStatus())
			}()
		})
		served := make(chan struct{})
		go func() { c.Serve(); close(served) }()
		defer func() { c.Close(); <-served }()
		p.Handshake()

		// Stream 1: HEADERS and DATA(END_STREAM) in one write, so one read.
		var buf bytes.Buffer
		fr := http2.NewFramer(&buf, nil)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: p.EncodeHeaders(h2test.RequestFields("/s/M")), EndHeaders: true})
		fr.WriteData(1, true, h2test.Message(pattern(10)))
		p.WriteRaw(buf.Bytes())
		if !<-ended {
			t.Error("stream 1: handler started before the message read with its header block was fed")
		}
		expectResponse(t, p, 1)

		// Stream 3: the header block alone, the message later.
		p.WriteHeaders(3, false, h2test.RequestFields("/s/M"))
		if <-ended {
			t.Error("stream 3: END_STREAM seen before it was sent")
		}
		p.WriteData(3, true, h2test.Message(pattern(10)))
		expectResponse(t, p, 3)
	})
}
