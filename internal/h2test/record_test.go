package h2test_test

import (
	"bytes"
	"net"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/internal/h2test"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// discardConn is a net.Conn whose writes go nowhere.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error) { return len(b), nil }

func TestSplitWrites(t *testing.T) {
	var frames bytes.Buffer
	fr := http2.NewFramer(&frames, nil)
	fr.WriteSettings()                      // 9 bytes
	fr.WriteData(1, false, []byte("hello")) // 14 bytes
	fr.WriteData(1, true, []byte("world"))  // 14 bytes
	fr.WriteRSTStream(3, http2.ErrCodeCancel)
	b := append([]byte(http2.ClientPreface), frames.Bytes()...)

	rec := &h2test.WriteRecorder{Conn: discardConn{}}
	p := len(http2.ClientPreface)
	rec.Write(b[:p+9+14])         // preface, SETTINGS, first DATA
	rec.Write(b[p+9+14 : p+9+20]) // second DATA, split across writes
	rec.Write(b[p+9+20:])         // rest of it, RST_STREAM

	got := h2test.SplitWrites(rec.Writes(), p)
	want := []h2test.WrittenFrame{
		{Type: http2.FrameSettings, Write: 0},
		{Type: http2.FrameData, StreamID: 1, Length: 5, Write: 0},
		{Type: http2.FrameData, Flags: http2.FlagDataEndStream, StreamID: 1, Length: 5, Write: -1},
		{Type: http2.FrameRSTStream, StreamID: 3, Length: 4, Write: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("SplitWrites = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("frame %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestPrefix(t *testing.T) {
	if got := h2test.Message([]byte("abc")); !bytes.Equal(got, []byte{0, 0, 0, 0, 3, 'a', 'b', 'c'}) {
		t.Errorf("Message(abc) = %v", got)
	}
	if got := h2test.Prefix(true, 0x01020304); !bytes.Equal(got, []byte{1, 1, 2, 3, 4}) {
		t.Errorf("Prefix(true, 0x01020304) = %v", got)
	}
}
