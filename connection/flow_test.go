package connection_test

import (
	"bytes"
	"context"
	"testing"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/status"
)

// TestServerSendWindow: the server's Send stops after exactly the bytes the
// peer's window allows and resumes on WINDOW_UPDATE, for the stream window
// and for the connection window.
func TestServerSendWindow(t *testing.T) {
	tests := []struct {
		name          string
		initialWindow uint32 // the peer's SETTINGS_INITIAL_WINDOW_SIZE
		size          int    // message bytes on the wire
		windowID      uint32 // which window the peer grows: 1 or 0
		grants        []int  // what the peer adds at each step
		want          []int  // DATA bytes sent after the handshake, then after each grant
	}{
		{"stream", 100, 1000, 1, []int{300, 10000}, []int{100, 300, 600}},
		{"connection", 1 << 20, 100000, 0, []int{1000, 1 << 20}, []int{65535, 1000, 100000 - 66535}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, func(t *testing.T, ctx context.Context) {
				payload := pattern(tt.size - 5)
				sent := make(chan error, 1)
				s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
					setResponseHeader(st)
					sent <- st.Send.Send(payload, false)
					st.Send.Close(okStatus())
				})
				p := s.peer
				p.Handshake(http2.Setting{ID: http2.SettingInitialWindowSize, Val: tt.initialWindow})
				p.WriteHeaders(1, true, h2test.RequestFields("/s/M"))

				var got []byte
				var fs []h2test.Frame
				for i, want := range tt.want {
					if i > 0 {
						p.WriteWindowUpdate(tt.windowID, uint32(tt.grants[i-1]))
					}
					fs = idle(p)
					d := dataOf(t, fs, 1, 16384)
					if len(d) != want {
						t.Fatalf("step %d: %d bytes of DATA, want %d", i, len(d), want)
					}
					got = append(got, d...)
					if last := i == len(tt.want)-1; !last && len(sent) > 0 {
						t.Fatalf("step %d: Send returned (%v) before the message was out", i, <-sent)
					}
				}
				if err := <-sent; err != nil {
					t.Fatalf("Send: %v", err)
				}
				if tr := only(fs, http2.FrameHeaders, 1); len(tr) != 1 || !tr[0].EndStream() {
					t.Errorf("no trailers after the message: %v", fs)
				}
				if !bytes.Equal(got, h2test.Message(payload)) {
					t.Error("the message arrived corrupted")
				}
			})
		})
	}
}

// waitOrDone blocks until ch is closed or the stream ends.
func waitOrDone(st *connection.Stream, ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-st.Context().Done():
		return false
	}
}

// TestServerCreditFollowsConsumption: a handler that does not read holds
// the peer to one stream window (the first message, assembled while nothing
// waits, is credited on arrival but not announced); credit comes back only as
// the handler takes messages.
func TestServerCreditFollowsConsumption(t *testing.T) {
	const (
		window  = 1 << 16
		msgSize = 1024 // on the wire
		count   = window / msgSize
	)
	bubble(t, func(t *testing.T, ctx context.Context) {
		step := make(chan struct{})
		taken := make(chan error)
		s := startServer(t, ctx, connection.Config{StreamWindow: window}, func(st *connection.Stream) {
			for {
				select {
				case <-step:
				case <-st.Context().Done():
					return
				}
				m, err := st.Recv.Recv()
				m.Release()
				taken <- err
				if err != nil {
					return
				}
			}
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
		for range count {
			p.WriteData(1, false, h2test.Message(pattern(msgSize-5)))
		}
		// A whole window sent, nothing read: not a byte of credit back.
		expectNone(t, p)

		total := 0
		for k := 1; k <= count; k++ {
			step <- struct{}{}
			if err := <-taken; err != nil {
				t.Fatalf("Recv %d: %v", k, err)
			}
			fs := idle(p)
			total += windowUpdates(fs, 1)
			if total > k*msgSize {
				t.Fatalf("after %d messages read: %d bytes of stream credit, more than consumed (%d)", k, total, k*msgSize)
			}
		}
		if total < window/2 {
			t.Fatalf("after reading everything: only %d bytes of stream credit back", total)
		}
		// The reopened window carries the next message.
		p.WriteData(1, true, h2test.Message(pattern(100)))
		step <- struct{}{}
		if err := <-taken; err != nil {
			t.Fatalf("Recv after the window reopened: %v", err)
		}
	})
}

// TestServerStreamFlowControlError: DATA past the stream window is a stream
// error of type FLOW_CONTROL_ERROR (RFC 9113 §6.9); the connection lives on.
func TestServerStreamFlowControlError(t *testing.T) {
	const window = 1 << 16
	bubble(t, func(t *testing.T, ctx context.Context) {
		release := make(chan struct{})
		result := make(chan error, 1)
		var got int
		s := startServer(t, ctx, connection.Config{StreamWindow: window}, func(st *connection.Stream) {
			waitOrDone(st, release)
			msgs, err := recvAll(st)
			got = len(msgs)
			result <- err
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
		for range window / 1024 {
			p.WriteData(1, false, h2test.Message(pattern(1019)))
		}
		expectNone(t, p) // exactly the window: fine
		p.WriteData(1, false, []byte{0})
		fs := idle(p)
		if len(fs) != 1 || fs[0].Type != http2.FrameRSTStream || fs[0].StreamID != 1 || fs[0].ErrCode != http2.ErrCodeFlowControl {
			t.Fatalf("after one byte past the window: %v, want RST_STREAM(1, FLOW_CONTROL_ERROR)", fs)
		}
		close(release)
		if err := <-result; status.CodeOf(err) != status.Internal {
			t.Errorf("handler's Recv ended with %v, want INTERNAL", err)
		}
		if got != window/1024 {
			t.Errorf("handler got %d messages, want the %d that arrived before the reset", got, window/1024)
		}
		p.WritePing(false, [8]byte{1})
		if f := p.Expect(http2.FramePing, 0); !f.IsAck() {
			t.Errorf("got %v, want a PING ACK: the connection should live on", f)
		}
	})
}

// TestServerConnFlowControlError: DATA past the connection window is a
// connection error of type FLOW_CONTROL_ERROR: GOAWAY, then close. Data a
// stream accepts is credited to the connection at once, read or not, so
// only a frame larger than the window can overrun it.
func TestServerConnFlowControlError(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		s := startServer(t, ctx, connection.Config{ConnWindow: 65535, MaxFrameSize: 1 << 17}, func(st *connection.Stream) {
			<-st.Context().Done() // never reads
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
		big := h2test.Message(pattern(200000))
		p.WriteData(1, false, big[:65535]) // exactly the window: fine
		fs := idle(p)
		if n := windowUpdates(fs, 0); n != 65535 {
			t.Fatalf("after 65535 bytes nobody reads: %v, want connection WINDOW_UPDATE(65535)", fs)
		}
		if n := windowUpdates(fs, 1); n != 0 {
			t.Fatalf("stream WINDOW_UPDATE(%d) while nothing was read", n)
		}
		p.WriteData(1, false, big[65535:131071]) // one byte more than the window
		expectGoAway(t, p.WaitClosed(), 1, http2.ErrCodeFlowControl)
		if err := s.wait(t, ctx); err == nil {
			t.Error("Serve returned nil")
		}
	})
}

// TestServerPaddingCredited: padding of DATA frames is flow-controlled but
// never reaches the application, so it goes back to the stream at once,
// while the data beside it is held until read.
func TestServerPaddingCredited(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		s := startServer(t, ctx, connection.Config{StreamWindow: 65535}, func(st *connection.Stream) {
			<-st.Context().Done() // never reads
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
		// A first message, queued unread: later data is held behind it.
		p.WriteData(1, false, h2test.Message(nil))
		credited := 5 // the first message's bytes arrived while nothing waited
		big := h2test.Message(pattern(100000))
		for k := 1; ; k++ {
			if k > 200 {
				t.Fatal("no stream WINDOW_UPDATE after 200 padded frames")
			}
			// 100 bytes of data, the pad-length byte and 255 bytes of padding.
			p.WriteDataPadded(1, false, big[(k-1)*100:k*100], 255)
			credited += 256
			if n := windowUpdates(idle(p), 1); n != 0 {
				if n != credited {
					t.Fatalf("after %d padded frames: stream WINDOW_UPDATE(%d), want %d (the padding and the first message)", k, n, credited)
				}
				break
			}
		}
	})
}

// sendWithinWindows writes data on stream id as DATA frames no larger than
// the peer's windows allow, reading WINDOW_UPDATEs whenever a window is
// closed; it fails the test if any other frame arrives.
func sendWithinWindows(t *testing.T, p *h2test.Peer, id uint32, data []byte, streamWindow, connWindow int) {
	t.Helper()
	for len(data) > 0 {
		n := min(len(data), streamWindow, connWindow, 16384)
		if n <= 0 {
			f := p.Next()
			switch {
			case f.Type == http2.FrameWindowUpdate && f.StreamID == 0:
				connWindow += int(f.Increment)
			case f.Type == http2.FrameWindowUpdate && f.StreamID == id:
				streamWindow += int(f.Increment)
			default:
				t.Fatalf("waiting for window: unexpected frame %v", f)
			}
			continue
		}
		p.WriteData(id, false, data[:n])
		data = data[n:]
		streamWindow -= n
		connWindow -= n
	}
}

// TestServerMessageLargerThanWindow: a message larger than the stream (and
// connection) window still arrives: the window grows as it is assembled.
func TestServerMessageLargerThanWindow(t *testing.T) {
	tests := []struct {
		name string
		cfg  connection.Config
		size int
	}{
		{"defaults", connection.Config{MaxRecvMsgSize: 8 << 20}, 3 << 20},
		{"small windows", connection.Config{StreamWindow: 20000, ConnWindow: 65535}, 300000},
		{"window under 4 KiB", connection.Config{StreamWindow: 1024}, 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, func(t *testing.T, ctx context.Context) {
				payload := pattern(tt.size)
				got := make(chan []byte, 1)
				s := startServer(t, ctx, tt.cfg, func(st *connection.Stream) {
					m, err := st.Recv.Recv()
					if err != nil {
						t.Errorf("Recv: %v", err)
					}
					got <- bytes.Clone(m.Data)
					m.Release()
					setResponseHeader(st)
					st.Send.Close(okStatus())
				})
				p := s.peer
				hs := p.Handshake()
				streamWindow, _ := hs[0].Setting(http2.SettingInitialWindowSize)
				connWindow := 65535 + windowUpdates(hs, 0)
				p.WriteHeaders(1, false, h2test.RequestFields("/s/M"))
				sendWithinWindows(t, p, 1, h2test.Message(payload), int(streamWindow), connWindow)
				p.WriteData(1, true, nil)
				select {
				case m := <-got:
					if !bytes.Equal(m, payload) {
						t.Error("the message arrived corrupted")
					}
				case <-ctx.Done():
					t.Fatal("the message never completed")
				}
			})
		})
	}
}
