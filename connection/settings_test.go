package connection_test

import (
	"context"
	"testing"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/h2test"
)

// checkSettings checks that f is a SETTINGS frame holding exactly want.
func checkSettings(t *testing.T, f h2test.Frame, want map[http2.SettingID]uint32) {
	t.Helper()
	if f.Type != http2.FrameSettings || f.IsAck() || f.StreamID != 0 {
		t.Fatalf("got %v, want SETTINGS", f)
	}
	got := map[http2.SettingID]uint32{}
	for _, s := range f.Settings {
		if _, dup := got[s.ID]; dup {
			t.Errorf("setting %v sent twice", s.ID)
		}
		got[s.ID] = s.Val
	}
	for id, v := range want {
		if g, ok := got[id]; !ok || g != v {
			t.Errorf("%v = %d (sent: %v), want %d", id, g, ok, v)
		}
	}
	for id, v := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("unexpected setting %v = %d", id, v)
		}
	}
}

// checkHandshake checks the frames a connection writes before it reads
// anything (SETTINGS, then the connection window's growth if any) and its
// ACK of the peer's SETTINGS, in that order.
func checkHandshake(t *testing.T, fs []h2test.Frame, settings map[http2.SettingID]uint32, grow uint32) {
	t.Helper()
	want := 2
	if grow > 0 {
		want = 3
	}
	if len(fs) != want {
		t.Fatalf("handshake frames = %v, want SETTINGS, %sSETTINGS ACK", fs, map[bool]string{true: "WINDOW_UPDATE, "}[grow > 0])
	}
	checkSettings(t, fs[0], settings)
	if grow > 0 {
		if f := fs[1]; f.Type != http2.FrameWindowUpdate || f.StreamID != 0 || f.Increment != grow {
			t.Errorf("got %v, want WINDOW_UPDATE(0, %d)", f, grow)
		}
	}
	if f := fs[len(fs)-1]; f.Type != http2.FrameSettings || !f.IsAck() {
		t.Errorf("got %v, want the ACK of the peer's SETTINGS", f)
	}
}

var handshakeTests = []struct {
	name     string
	cfg      connection.Config
	settings map[http2.SettingID]uint32
	grow     uint32 // the connection WINDOW_UPDATE; 0 for none
}{
	{
		name: "defaults",
		settings: map[http2.SettingID]uint32{
			http2.SettingInitialWindowSize:    connection.DefaultStreamWindow,
			http2.SettingMaxFrameSize:         connection.DefaultMaxFrameSize,
			http2.SettingMaxHeaderListSize:    connection.DefaultMaxHeaderListSize,
			http2.SettingMaxConcurrentStreams: connection.DefaultMaxConcurrentStreams,
		},
		grow: connection.DefaultConnWindow - 65535,
	},
	{
		name: "configured",
		cfg: connection.Config{
			MaxConcurrentStreams: 7, StreamWindow: 100000, ConnWindow: 1 << 20,
			MaxFrameSize: 1 << 15, MaxHeaderListSize: 8192,
		},
		settings: map[http2.SettingID]uint32{
			http2.SettingInitialWindowSize:    100000,
			http2.SettingMaxFrameSize:         1 << 15,
			http2.SettingMaxHeaderListSize:    8192,
			http2.SettingMaxConcurrentStreams: 7,
		},
		grow: 1<<20 - 65535,
	},
	{
		// Out-of-range values are brought into range: a connection window
		// cannot start below 65535, a frame size must be 2^14..2^24-1.
		name: "clamped",
		cfg:  connection.Config{ConnWindow: 1000, MaxFrameSize: 1 << 30},
		settings: map[http2.SettingID]uint32{
			http2.SettingInitialWindowSize:    connection.DefaultStreamWindow,
			http2.SettingMaxFrameSize:         1<<24 - 1,
			http2.SettingMaxHeaderListSize:    connection.DefaultMaxHeaderListSize,
			http2.SettingMaxConcurrentStreams: connection.DefaultMaxConcurrentStreams,
		},
	},
}

func TestServerHandshake(t *testing.T) {
	for _, tt := range handshakeTests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, func(t *testing.T, ctx context.Context) {
				s := startServer(t, ctx, tt.cfg, func(*connection.Stream) {})
				checkHandshake(t, s.peer.Handshake(), tt.settings, tt.grow)
				expectNone(t, s.peer)
			})
		})
	}
}

func TestClientHandshake(t *testing.T) {
	for _, tt := range handshakeTests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, func(t *testing.T, ctx context.Context) {
				cl := startClient(t, ctx, tt.cfg) // the peer checks the client preface
				settings := map[http2.SettingID]uint32{http2.SettingEnablePush: 0}
				for id, v := range tt.settings {
					settings[id] = v
				}
				checkHandshake(t, cl.peer.Handshake(), settings, tt.grow)
				expectNone(t, cl.peer)
				if !cl.conn.Usable() {
					t.Error("Usable() = false after the handshake")
				}
			})
		})
	}
}

// TestFirstFrameNotSettings: the first frame after the preface must be a
// SETTINGS frame (RFC 9113 §3.4); anything else is a connection error of type
// PROTOCOL_ERROR.
func TestFirstFrameNotSettings(t *testing.T) {
	first := map[string]func(p *h2test.Peer){
		"PING":          func(p *h2test.Peer) { p.WritePing(false, [8]byte{}) },
		"SETTINGS ACK":  func(p *h2test.Peer) { p.WriteSettingsAck() },
		"WINDOW_UPDATE": func(p *h2test.Peer) { p.WriteWindowUpdate(0, 1000) },
	}
	for name, write := range first {
		t.Run("server/"+name, func(t *testing.T) {
			bubble(t, func(t *testing.T, ctx context.Context) {
				s := startServer(t, ctx, connection.Config{}, func(*connection.Stream) {})
				s.peer.Expect(http2.FrameSettings, 0)
				s.peer.Expect(http2.FrameWindowUpdate, 0)
				s.peer.WriteRaw([]byte(http2.ClientPreface))
				write(s.peer)
				expectGoAway(t, s.peer.WaitClosed(), 0, http2.ErrCodeProtocol)
				if err := s.wait(t, ctx); err == nil {
					t.Error("Serve returned nil")
				}
			})
		})
		t.Run("client/"+name, func(t *testing.T) {
			bubble(t, func(t *testing.T, ctx context.Context) {
				cl := startClient(t, ctx, connection.Config{})
				cl.peer.Expect(http2.FrameSettings, 0)
				cl.peer.Expect(http2.FrameWindowUpdate, 0)
				write(cl.peer)
				expectGoAway(t, cl.peer.WaitClosed(), 0, http2.ErrCodeProtocol)
				<-cl.conn.Done()
				if cl.conn.Err() == nil || cl.conn.Usable() {
					t.Errorf("after a protocol error: Err() = %v, Usable() = %v", cl.conn.Err(), cl.conn.Usable())
				}
			})
		})
	}
}

// expectGoAway checks that fs is one GOAWAY with code and last-stream-id.
func expectGoAway(t *testing.T, fs []h2test.Frame, last uint32, code http2.ErrCode) {
	t.Helper()
	if len(fs) != 1 || fs[0].Type != http2.FrameGoAway || fs[0].ErrCode != code || fs[0].LastStreamID != last {
		t.Fatalf("frames before the close = %v, want GOAWAY(last %d, %v)", fs, last, code)
	}
}

func TestServerBadPreface(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		s := startServer(t, ctx, connection.Config{}, func(*connection.Stream) {})
		s.peer.Expect(http2.FrameSettings, 0)
		s.peer.Expect(http2.FrameWindowUpdate, 0)
		s.peer.WriteRaw([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		// RFC 9113 §3.4 allows leaving the GOAWAY out; we send one
		// (PROTOCOL_ERROR) so the peer learns why, then close.
		fs := s.peer.WaitClosed()
		if len(fs) != 1 || fs[0].Type != http2.FrameGoAway || fs[0].ErrCode != http2.ErrCodeProtocol {
			t.Errorf("after a bad preface: %v, want one GOAWAY(PROTOCOL_ERROR)", fs)
		}
		if err := s.wait(t, ctx); err == nil {
			t.Error("Serve returned nil")
		}
	})
}

func TestPing(t *testing.T) {
	check := func(t *testing.T, p *h2test.Peer) {
		data := [8]byte{'h', '2', 't', 'e', 's', 't', 0, 0xff}
		p.WritePing(false, data)
		if f := p.Expect(http2.FramePing, 0); !f.IsAck() || f.Ping != data {
			t.Errorf("got %v, want a PING ACK with the same payload", f)
		}
		p.WritePing(true, data) // an ACK nobody asked for is ignored
		expectNone(t, p)
	}
	t.Run("server", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			s := startServer(t, ctx, connection.Config{}, func(*connection.Stream) {})
			s.peer.Handshake()
			check(t, s.peer)
		})
	})
	t.Run("client", func(t *testing.T) {
		bubble(t, func(t *testing.T, ctx context.Context) {
			cl := startClient(t, ctx, connection.Config{})
			cl.peer.Handshake()
			check(t, cl.peer)
		})
	})
}

// TestInitialWindowSizeChange: a new SETTINGS_INITIAL_WINDOW_SIZE moves the
// send window of open streams by the difference, even below zero (RFC 9113
// §6.9.2).
func TestInitialWindowSizeChange(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		payload := pattern(995) // 1000 bytes with the prefix
		s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
			setResponseHeader(st)
			if err := st.Send.SendLast(payload, false, okStatus()); err != nil {
				t.Errorf("SendLast: %v", err)
			}
		})
		p := s.peer
		p.Handshake(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100})
		p.WriteHeaders(1, true, h2test.RequestFields("/s/M"))

		var got []byte
		step := func(what string, wantData int) []h2test.Frame {
			t.Helper()
			fs := idle(p)
			d := dataOf(t, fs, 1, 16384)
			if len(d) != wantData {
				t.Fatalf("%s: %d bytes of DATA sent, want %d (frames %v)", what, len(d), wantData, fs)
			}
			got = append(got, d...)
			return fs
		}
		step("initial window 100", 100)
		p.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 600})
		if fs := step("initial window 100 -> 600", 500); len(only(fs, http2.FrameSettings, 0)) != 1 {
			t.Fatalf("no SETTINGS ACK: %v", fs)
		}
		// 600 sent of a window of 600; lowering it to 50 leaves -550.
		p.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 50})
		step("initial window 600 -> 50", 0)
		p.WriteWindowUpdate(1, 550)
		step("window back to 0", 0)
		p.WriteWindowUpdate(1, 10)
		step("window 10", 10)
		p.WriteWindowUpdate(1, 1000)
		fs := step("window 1000", 390)
		if tr := only(fs, http2.FrameHeaders, 1); len(tr) != 1 || !tr[0].EndStream() {
			t.Fatalf("no trailers after the last DATA: %v", fs)
		}
		if want := h2test.Message(payload); string(got) != string(want) {
			t.Error("the message arrived corrupted")
		}
	})
}
