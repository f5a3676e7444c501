package h2test

import (
	"fmt"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Frame is a frame the peer received, copied out of the Framer's buffers.
// Only the fields of its type are set.
type Frame struct {
	Type     http2.FrameType
	Flags    http2.Flags
	StreamID uint32
	// Length is the payload length on the wire: for DATA, what flow
	// control charges, padding included.
	Length uint32

	Data         []byte              // DATA: payload without padding; GOAWAY: debug data
	Fields       []hpack.HeaderField // HEADERS: the whole decoded header block
	ErrCode      http2.ErrCode       // RST_STREAM, GOAWAY
	LastStreamID uint32              // GOAWAY
	Increment    uint32              // WINDOW_UPDATE
	Settings     []http2.Setting     // SETTINGS
	Ping         [8]byte             // PING
}

// copyFrame copies f, which is valid only until the next ReadFrame.
func copyFrame(f http2.Frame) Frame {
	h := f.Header()
	out := Frame{Type: h.Type, Flags: h.Flags, StreamID: h.StreamID, Length: h.Length}
	switch f := f.(type) {
	case *http2.DataFrame:
		out.Data = append([]byte{}, f.Data()...)
	case *http2.MetaHeadersFrame:
		out.Type = http2.FrameHeaders
		out.Fields = append([]hpack.HeaderField(nil), f.Fields...)
	case *http2.RSTStreamFrame:
		out.ErrCode = f.ErrCode
	case *http2.GoAwayFrame:
		out.ErrCode = f.ErrCode
		out.LastStreamID = f.LastStreamID
		out.Data = append([]byte{}, f.DebugData()...)
	case *http2.WindowUpdateFrame:
		out.Increment = f.Increment
	case *http2.SettingsFrame:
		for i := range f.NumSettings() {
			out.Settings = append(out.Settings, f.Setting(i))
		}
	case *http2.PingFrame:
		out.Ping = f.Data
	}
	return out
}

// EndStream reports whether a DATA or HEADERS frame carries END_STREAM.
func (f Frame) EndStream() bool {
	return (f.Type == http2.FrameData || f.Type == http2.FrameHeaders) &&
		f.Flags.Has(http2.FlagDataEndStream)
}

// IsAck reports whether a SETTINGS or PING frame is an acknowledgement.
func (f Frame) IsAck() bool {
	return (f.Type == http2.FrameSettings || f.Type == http2.FramePing) &&
		f.Flags.Has(http2.FlagSettingsAck)
}

// Header returns the first value of the header field name, or "".
func (f Frame) Header(name string) string {
	for _, hf := range f.Fields {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

// Setting returns the value of the setting id in a SETTINGS frame.
func (f Frame) Setting(id http2.SettingID) (uint32, bool) {
	for _, s := range f.Settings {
		if s.ID == id {
			return s.Val, true
		}
	}
	return 0, false
}

// String describes the frame for test failures.
func (f Frame) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v stream=%d len=%d", f.Type, f.StreamID, f.Length)
	if f.Flags != 0 {
		fmt.Fprintf(&b, " flags=%#x", uint8(f.Flags))
	}
	switch f.Type {
	case http2.FrameData:
		if f.EndStream() {
			b.WriteString(" END_STREAM")
		}
	case http2.FrameHeaders:
		if f.EndStream() {
			b.WriteString(" END_STREAM")
		}
		for _, hf := range f.Fields {
			fmt.Fprintf(&b, " %s=%q", hf.Name, hf.Value)
		}
	case http2.FrameRSTStream:
		fmt.Fprintf(&b, " code=%v", f.ErrCode)
	case http2.FrameGoAway:
		fmt.Fprintf(&b, " last=%d code=%v", f.LastStreamID, f.ErrCode)
	case http2.FrameWindowUpdate:
		fmt.Fprintf(&b, " incr=%d", f.Increment)
	case http2.FrameSettings:
		for _, s := range f.Settings {
			fmt.Fprintf(&b, " %v", s)
		}
	case http2.FramePing:
		fmt.Fprintf(&b, " data=%q", f.Ping[:])
	}
	return b.String()
}

// Prefix returns the 5-byte gRPC message prefix for a payload of n bytes.
// It is written out here, not taken from stream/, so that tests check the
// wire format against an independent encoding.
func Prefix(compressed bool, n int) []byte {
	p := []byte{0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	if compressed {
		p[0] = 1
	}
	return p
}

// Message returns payload as a length-prefixed, uncompressed gRPC message.
func Message(payload []byte) []byte {
	return append(Prefix(false, len(payload)), payload...)
}

// Messages concatenates the encodings of payloads.
func Messages(payloads ...[]byte) []byte {
	var b []byte
	for _, p := range payloads {
		b = append(b, Message(p)...)
	}
	return b
}

// RequestFields returns the header fields of a gRPC request for path,
// followed by extra.
func RequestFields(path string, extra ...hpack.HeaderField) []hpack.HeaderField {
	return append([]hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: path},
		{Name: ":authority", Value: "h2test"},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
	}, extra...)
}

// ResponseFields returns the header fields of a gRPC response's header
// block, followed by extra.
func ResponseFields(extra ...hpack.HeaderField) []hpack.HeaderField {
	return append([]hpack.HeaderField{
		{Name: ":status", Value: "200"},
		{Name: "content-type", Value: "application/grpc"},
	}, extra...)
}

// TrailerFields returns trailers carrying grpc-status code, followed by
// extra.
func TrailerFields(code string, extra ...hpack.HeaderField) []hpack.HeaderField {
	return append([]hpack.HeaderField{{Name: "grpc-status", Value: code}}, extra...)
}
