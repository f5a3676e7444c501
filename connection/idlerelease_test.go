package connection_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2grpc/h2grpc/connection"
)

// A server connection that has gone quiet drops what it kept from its
// calls, its HPACK encoder among them (Conn.releaseIdle), and the first header block it sends after starts by
// emptying the client's table: a size update to 0, then back to the
// limit. Blocks in between index as before. The client here is raw, so
// that the test sees the blocks' bytes and decodes them with a decoder that
// keeps its table from block to block, as any client's does.
func TestIdleReleaseEmptiesPeerTable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit uint32 // the client's SETTINGS_HEADER_TABLE_SIZE; 0: not sent
		reset []byte // how a block after a release starts
	}{
		{"default table", 0, []byte{0x20, 0x3f, 0xe1, 0x1f}},      // 0, then 4096
		{"smaller table", 100, []byte{0x20, 0x3f, 0x45}},          // 0, then 100
		{"larger table", 1 << 16, []byte{0x20, 0x3f, 0xe1, 0x1f}}, // we use 4096 at most
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !connection.IdlePollAvailable() {
				t.Skip("connections do not park here")
			}
			// Long enough that calls one after another find the
			// connection busy, even under the race detector.
			connection.SetIdleGrace(t, 250*time.Millisecond)
			a, b := tcpPair(t)
			srv := connection.NewServerConn(b, connection.Config{}, func(st *connection.Stream) { go echo(st) })
			ended := make(chan struct{})
			go srv.Start(func() { close(ended) })
			closed := false
			t.Cleanup(func() {
				if !closed {
					srv.Close()
					<-ended
				}
			})
			cl := newRawClient(t, a, tc.limit)

			// The limit a SETTINGS asks for comes with the first block
			// after its ACK, which may follow the response's first block.
			if blocks := cl.call(t, 1); tc.limit != 0 && tc.limit < 4096 &&
				!bytes.HasPrefix(blocks[0], []byte{0x3f, 0x45}) && !bytes.HasPrefix(blocks[1], []byte{0x3f, 0x45}) {
				t.Errorf("blocks % x: want one to start with a size update to %d", blocks, tc.limit)
			}
			noUpdate := func(id uint32) {
				for _, b := range cl.call(t, id) {
					if b[0]&0xe0 == 0x20 {
						t.Errorf("stream %d: block % x of a busy connection starts with a size update", id, b)
					}
				}
			}
			noUpdate(3)
			cl.quiet(t, srv)
			if held := srv.Retained(); len(held) > 0 {
				t.Errorf("a quiet connection holds %v", held)
			}
			if blocks := cl.call(t, 5); !bytes.HasPrefix(blocks[0], tc.reset) {
				t.Errorf("first block after a release % x: want it to start with % x", blocks[0], tc.reset)
			}
			noUpdate(7)

			cl.quiet(t, srv)
			srv.Close()
			<-ended
			closed = true
			if held := srv.RetainedByReader(); len(held) > 0 {
				t.Errorf("the reader of a quiet connection held %v", held)
			}
		})
	}
}

// rawClient plays an HTTP/2 client with a Framer and an HPACK decoder of
// its own.
type rawClient struct {
	nc   net.Conn
	fr   *http2.Framer
	dec  *hpack.Decoder
	enc  *hpack.Encoder
	ebuf bytes.Buffer
	ping byte
}

func newRawClient(t *testing.T, nc net.Conn, limit uint32) *rawClient {
	t.Helper()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	c := &rawClient{nc: nc, fr: http2.NewFramer(nc, nc), dec: hpack.NewDecoder(4096, nil)}
	c.enc = hpack.NewEncoder(&c.ebuf)
	if _, err := nc.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	var settings []http2.Setting
	if limit != 0 {
		settings = append(settings, http2.Setting{ID: http2.SettingHeaderTableSize, Val: limit})
		c.dec.SetAllowedMaxDynamicTableSize(limit)
	}
	if err := c.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	return c
}

// call sends a unary echo request on stream id and reads the response to
// its trailers. It returns the response's two header blocks, undecoded,
// after checking that each decodes to what echo sends.
func (c *rawClient) call(t *testing.T, id uint32) [][]byte {
	t.Helper()
	c.ebuf.Reset()
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/h2test.Service/Method"}, {Name: ":authority", Value: "h2test"},
		{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
		{Name: "grpc-timeout", Value: "1M"}, // the server's deadlines hold it
	} {
		c.enc.WriteField(f)
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.ebuf.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	msg := binary.BigEndian.AppendUint32([]byte{0}, 3)
	msg = append(msg, "abc"...)
	if err := c.fr.WriteData(id, true, msg); err != nil {
		t.Fatal(err)
	}
	var blocks [][]byte
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("stream %d: %v", id, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := c.fr.WriteSettingsAck(); err != nil {
					t.Fatal(err)
				}
			}
		case *http2.HeadersFrame:
			if f.StreamID != id || !f.HeadersEnded() {
				t.Fatalf("HEADERS on stream %d (ended %v), want stream %d in one frame", f.StreamID, f.HeadersEnded(), id)
			}
			block := bytes.Clone(f.HeaderBlockFragment())
			blocks = append(blocks, block)
			fields, err := c.dec.DecodeFull(block)
			if err != nil {
				t.Fatalf("stream %d: block % x: %v", id, block, err)
			}
			want := []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "application/grpc"}}
			if len(blocks) == 2 {
				want = []hpack.HeaderField{{Name: "grpc-status", Value: "0"}}
			}
			if !equalFields(fields, want) {
				t.Fatalf("stream %d: block %d decodes to %v, want %v", id, len(blocks), fields, want)
			}
			if f.StreamEnded() {
				if len(blocks) != 2 {
					t.Fatalf("stream %d: %d header blocks, want 2", id, len(blocks))
				}
				return blocks
			}
		}
	}
}

func equalFields(got, want []hpack.HeaderField) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Name != want[i].Name || got[i].Value != want[i].Value {
			return false
		}
	}
	return true
}

// quiet waits until srv has no stream open and has parked since: its
// reader then released what it holds. A PING, once srv has no stream,
// wakes a reader that parks again with none.
func (c *rawClient) quiet(t *testing.T, srv *connection.Conn) {
	t.Helper()
	for srv.Streams() > 0 {
		time.Sleep(time.Millisecond)
	}
	c.ping++
	if err := c.fr.WritePing(false, [8]byte{c.ping}); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := f.(*http2.PingFrame); ok && p.IsAck() && p.Data[0] == c.ping {
			break
		}
	}
	waitParked(t, srv)
}
