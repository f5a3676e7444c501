package connection_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/stream"
)

// fuzzConfig gives the fuzzed server small limits, so that short inputs
// reach them: a second concurrent stream, a message over the receive limit,
// a stream or connection window overrun, a control-frame flood.
var fuzzConfig = connection.Config{
	MaxConcurrentStreams: 2,
	StreamWindow:         1 << 12, // under the largest frame: one DATA frame can overrun it
	ConnWindow:           1<<16 - 1,
	MaxHeaderListSize:    1 << 12,
	MaxRecvMsgSize:       1 << 10,
	MaxControlFrames:     8,
}

// fuzzServerTimeout bounds, in the bubble's fake time, how long the
// connection may take to end once it has been asked to.
const fuzzServerTimeout = 10 * time.Second

// FuzzServerConn runs a server connection against a fake client that sends
// a valid preface and an empty SETTINGS frame, then the fuzz input as raw
// bytes. The handler reads the request to its end and echoes it (or answers
// INTERNAL when the request failed). Whatever the input:
//
//   - nothing panics;
//   - the server reads the whole input, or ends the connection;
//   - a connection the server ends by itself within fuzzServerTimeout of
//     the end of the input sent a GOAWAY first (RFC 9113 §5.4.1), with the
//     code of the connection error Serve returns; one still open then is
//     ended with Close;
//   - Serve and every handler return within fuzzServerTimeout after that
//     (fake time), and what the server wrote parses as HTTP/2;
//   - no goroutine is left: it all runs in a testing/synctest bubble, and
//     synctest.Test fails when a goroutine of the bubble is still blocked
//     once the test function returns.
//
// The seeds (testdata/fuzz/FuzzServerConn) are written by
// TestServerConnSeeds from fuzzServerSeeds.
func FuzzServerConn(f *testing.F) {
	f.Fuzz(func(t *testing.T, input []byte) {
		synctest.Test(t, func(t *testing.T) { runServerInput(t, input) })
	})
}

// serverOutput is what the fake client read from the server.
type serverOutput struct {
	frames []string // a summary of each frame, for failure messages
	goAway []http2.ErrCode
	err    error // why reading stopped
}

func runServerInput(t *testing.T, input []byte) {
	a, b := net.Pipe()
	var handlers sync.WaitGroup
	conn := connection.NewServerConn(a, fuzzConfig, func(st *connection.Stream) {
		handlers.Go(func() { echoHandler(st) })
	})
	var serveErr error
	served := make(chan struct{})
	go func() {
		serveErr = conn.Serve()
		close(served)
	}()

	var out serverOutput
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		out = readServerFrames(b)
	}()

	wrote := make(chan error, 1)
	go func() {
		_, err := b.Write(fuzzPreface)
		if err == nil {
			_, err = b.Write(input)
		}
		wrote <- err
	}()
	select {
	case <-wrote:
	case <-served:
		// The server gave up on the connection: the write fails.
		<-wrote
	case <-time.After(fuzzServerTimeout):
		t.Errorf("the server neither read the input nor ended the connection")
		b.Close()
		<-wrote
	}

	// Give the connection time to finish with the input: a connection
	// error ends it once its GOAWAY is out (after a linger), a connection
	// still serving waits for more. The time is the bubble's, so waiting
	// costs nothing once everything is blocked.
	var closedByUs bool
	select {
	case <-served:
	case <-time.After(fuzzServerTimeout):
		closedByUs = true
		closed := make(chan struct{})
		go func() {
			conn.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(fuzzServerTimeout):
			t.Errorf("Close did not return within %v", fuzzServerTimeout)
		}
	}
	select {
	case <-served:
	case <-time.After(fuzzServerTimeout):
		t.Fatalf("Serve did not return within %v of the end of the input", fuzzServerTimeout)
	}
	<-readDone
	b.Close()
	handlersDone := make(chan struct{})
	go func() {
		handlers.Wait()
		close(handlersDone)
	}()
	select {
	case <-handlersDone:
	case <-time.After(fuzzServerTimeout):
		t.Fatalf("handlers still running %v after the connection ended", fuzzServerTimeout)
	}

	switch {
	case out.err == nil, errors.Is(out.err, io.EOF), errors.Is(out.err, io.ErrClosedPipe):
	case closedByUs && errors.Is(out.err, io.ErrUnexpectedEOF):
		// Close cut a frame short: it closes at once.
	default:
		t.Errorf("the server wrote something that is not HTTP/2: %v\nframes: %v", out.err, out.frames)
	}
	if closedByUs {
		return
	}
	// The server ended the connection by itself, before the client closed
	// anything: that is a connection error, announced with GOAWAY.
	if len(out.goAway) == 0 {
		t.Fatalf("the connection ended (Serve: %v) without a GOAWAY; frames: %v", serveErr, out.frames)
	}
	var ce http2.ConnectionError
	if errors.As(serveErr, &ce) {
		for _, code := range out.goAway {
			// A flood's ENHANCE_YOUR_CALM may have gone first.
			if code == http2.ErrCode(ce) || code == http2.ErrCodeEnhanceYourCalm {
				return
			}
		}
		t.Fatalf("Serve returned %v, but the GOAWAYs carried %v", serveErr, out.goAway)
	}
}

// fuzzPreface is what the fake client sends before the input: the client
// preface and an empty SETTINGS frame.
var fuzzPreface = append([]byte(http2.ClientPreface), 0, 0, 0, byte(http2.FrameSettings), 0, 0, 0, 0, 0)

// echoHandler reads the request to its end and answers with one message
// holding what it read (up to a bound), or with INTERNAL if the request
// failed.
func echoHandler(st *connection.Stream) {
	defer st.Finish()
	var echo []byte
	for {
		m, err := st.Recv.Recv()
		if err != nil {
			*st.Send.Header() = stream.Header{Status: 200, ContentType: "application/grpc"}
			if err != io.EOF {
				st.Send.Close(&stream.Header{GRPCStatus: "13", GRPCMessage: "request failed"})
				return
			}
			break
		}
		if len(echo) < 1<<16 {
			echo = append(echo, m.Data...)
		}
		m.Release()
	}
	st.Send.SendLast(echo, false, &stream.Header{GRPCStatus: "0"})
}

// readServerFrames reads frames until the connection ends. Its framer
// accepts anything the HTTP/2 limits allow; a frame it cannot read, or a
// header block it cannot decode, stops it with an error.
func readServerFrames(nc net.Conn) serverOutput {
	var out serverOutput
	fr := http2.NewFramer(nil, nc)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 24
	fr.SetMaxReadFrameSize(1<<24 - 1)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			out.err = err
			// Keep reading, so that the server is never blocked on us.
			io.Copy(io.Discard, nc)
			return out
		}
		h := f.Header()
		desc := fmt.Sprintf("%v/%d", h.Type, h.StreamID)
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			out.goAway = append(out.goAway, f.ErrCode)
			desc += "/" + f.ErrCode.String()
		case *http2.RSTStreamFrame:
			desc += "/" + f.ErrCode.String()
		}
		out.frames = append(out.frames, desc)
	}
}

// fuzzSeed is one named input of fuzzServerSeeds.
type fuzzSeed struct {
	name  string
	input []byte
}

// seedWriter builds a seed: frames, written with the framer's checks off.
type seedWriter struct {
	buf  bytes.Buffer
	fr   *http2.Framer
	henc *hpack.Encoder
	hbuf bytes.Buffer
}

func newSeedWriter() *seedWriter {
	w := &seedWriter{}
	w.fr = http2.NewFramer(&w.buf, nil)
	w.fr.AllowIllegalWrites = true
	w.henc = hpack.NewEncoder(&w.hbuf)
	return w
}

func (w *seedWriter) block(fields []hpack.HeaderField) []byte {
	w.hbuf.Reset()
	for _, f := range fields {
		w.henc.WriteField(f)
	}
	return bytes.Clone(w.hbuf.Bytes())
}

func (w *seedWriter) headers(id uint32, end bool, fields []hpack.HeaderField) *seedWriter {
	w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: w.block(fields), EndStream: end, EndHeaders: true})
	return w
}

func (w *seedWriter) data(id uint32, end bool, p []byte) *seedWriter {
	w.fr.WriteData(id, end, p)
	return w
}

func (w *seedWriter) raw(typ http2.FrameType, flags http2.Flags, id uint32, payload []byte) *seedWriter {
	w.fr.WriteRawFrame(typ, flags, id, payload)
	return w
}

func (w *seedWriter) bytes() []byte { return bytes.Clone(w.buf.Bytes()) }

func fuzzRequest(extra ...hpack.HeaderField) []hpack.HeaderField {
	return h2test.RequestFields("/h2grpc.Fuzz/Echo", extra...)
}

func setting(id http2.SettingID, v uint32) []byte {
	return []byte{byte(id >> 8), byte(id), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// fuzzServerSeeds are the seeds of FuzzServerConn: a valid exchange of each
// kind, and the protocol errors RFC 9113 names, each the way a fuzzer
// would not easily find it.
func fuzzServerSeeds() []fuzzSeed {
	msg := h2test.Message([]byte("hello"))
	var seeds []fuzzSeed
	add := func(name string, w *seedWriter) { seeds = append(seeds, fuzzSeed{name, w.bytes()}) }

	add("unary", newSeedWriter().headers(1, false, fuzzRequest()).data(1, true, msg))
	add("two_streams_interleaved", newSeedWriter().
		headers(1, false, fuzzRequest()).headers(3, false, fuzzRequest()).
		data(3, false, msg[:3]).data(1, true, msg).data(3, true, msg[3:]))
	add("trailers_from_client", newSeedWriter().
		headers(1, false, fuzzRequest()).data(1, false, msg).
		headers(1, true, []hpack.HeaderField{{Name: "x-trailer", Value: "v"}}))

	{ // One header block over HEADERS and two CONTINUATIONs.
		w := newSeedWriter()
		block := w.block(fuzzRequest(hpack.HeaderField{Name: "x-meta", Value: "some metadata value"}))
		w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:5]})
		w.fr.WriteContinuation(1, false, block[5:10])
		w.fr.WriteContinuation(1, true, block[10:])
		add("continuation", w.data(1, true, msg))
	}
	{ // A CONTINUATION interrupted by another frame.
		w := newSeedWriter()
		block := w.block(fuzzRequest())
		w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:5]})
		w.fr.WritePing(false, [8]byte{})
		add("continuation_interrupted", w)
	}
	add("continuation_without_headers", newSeedWriter().raw(http2.FrameContinuation, http2.FlagContinuationEndHeaders, 1, []byte{0x82}))

	{
		w := newSeedWriter()
		w.fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
		w.fr.WritePing(true, [8]byte{'h', '2', 'g', 'r', 'p', 'c', 's', 'd'})
		add("ping", w)
	}
	add("ping_on_stream", newSeedWriter().raw(http2.FramePing, 0, 1, make([]byte, 8)))
	add("ping_short", newSeedWriter().raw(http2.FramePing, 0, 0, make([]byte, 7)))
	{ // More PINGs than MaxControlFrames in one go.
		w := newSeedWriter()
		for i := range 12 {
			w.fr.WritePing(false, [8]byte{byte(i)})
		}
		add("ping_flood", w)
	}
	{ // A flood while a handler answers: the GOAWAY must still get out.
		w := newSeedWriter().headers(1, false, fuzzRequest()).data(1, true, msg).
			headers(3, false, fuzzRequest()).data(3, true, msg)
		for i := range 12 {
			w.fr.WritePing(false, [8]byte{byte(i)})
		}
		add("ping_flood_during_response", w)
	}

	add("settings_enable_push_2", newSeedWriter().raw(http2.FrameSettings, 0, 0, setting(http2.SettingEnablePush, 2)))
	add("settings_window_too_large", newSeedWriter().raw(http2.FrameSettings, 0, 0, setting(http2.SettingInitialWindowSize, 1<<31)))
	add("settings_frame_size_too_small", newSeedWriter().raw(http2.FrameSettings, 0, 0, setting(http2.SettingMaxFrameSize, 1<<14-1)))
	add("settings_length_not_multiple_of_6", newSeedWriter().raw(http2.FrameSettings, 0, 0, []byte{0, 4, 0, 0, 0}))
	add("settings_ack_with_payload", newSeedWriter().raw(http2.FrameSettings, http2.FlagSettingsAck, 0, setting(http2.SettingMaxFrameSize, 1<<14)))
	add("settings_on_stream", newSeedWriter().raw(http2.FrameSettings, 0, 1, nil))
	add("settings_window_0_then_request", newSeedWriter().
		raw(http2.FrameSettings, 0, 0, setting(http2.SettingInitialWindowSize, 0)).
		headers(1, false, fuzzRequest()).data(1, true, h2test.Message(make([]byte, 100))).
		raw(http2.FrameSettings, 0, 0, setting(http2.SettingInitialWindowSize, 10)))
	add("settings_window_overflow_open_stream", newSeedWriter().
		raw(http2.FrameSettings, 0, 0, setting(http2.SettingInitialWindowSize, 1<<31-1)).
		headers(1, false, fuzzRequest()).
		raw(http2.FrameWindowUpdate, 0, 1, []byte{0, 0, 0, 1}))

	add("window_update_0_connection", newSeedWriter().raw(http2.FrameWindowUpdate, 0, 0, []byte{0, 0, 0, 0}))
	add("window_update_0_stream", newSeedWriter().headers(1, false, fuzzRequest()).raw(http2.FrameWindowUpdate, 0, 1, []byte{0, 0, 0, 0}))
	add("window_update_overflow", newSeedWriter().
		raw(http2.FrameWindowUpdate, 0, 0, []byte{0x7f, 0xff, 0xff, 0xff}))
	add("window_update_idle_stream", newSeedWriter().raw(http2.FrameWindowUpdate, 0, 5, []byte{0, 0, 0, 1}))

	add("rst_idle_stream", newSeedWriter().raw(http2.FrameRSTStream, 0, 3, []byte{0, 0, 0, 8}))
	add("rst_stream_0", newSeedWriter().raw(http2.FrameRSTStream, 0, 0, []byte{0, 0, 0, 8}))
	{ // Rapid reset: streams opened and reset at once.
		w := newSeedWriter()
		for id := uint32(1); id < 40; id += 2 {
			w.headers(id, false, fuzzRequest())
			w.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		add("rapid_reset", w)
	}
	add("too_many_streams", newSeedWriter().
		headers(1, false, fuzzRequest()).headers(3, false, fuzzRequest()).headers(5, false, fuzzRequest()))

	// Frames cut short: the end of the input is inside them.
	full := newSeedWriter().headers(1, false, fuzzRequest()).data(1, true, msg).bytes()
	seeds = append(seeds,
		fuzzSeed{"truncated_data", full[:len(full)-3]},
		fuzzSeed{"truncated_frame_header", []byte{0, 0, 100, 0}})
	add("length_over_max_frame_size", newSeedWriter().headers(1, false, fuzzRequest()).raw(http2.FrameData, 0, 1, make([]byte, 1<<14+1)))

	// Padding: the pad length must be less than the payload.
	add("data_padding_too_long", newSeedWriter().
		headers(1, false, fuzzRequest()).raw(http2.FrameData, http2.FlagDataPadded, 1, []byte{10, 'x'}))
	add("data_padded_empty", newSeedWriter().
		headers(1, false, fuzzRequest()).raw(http2.FrameData, http2.FlagDataPadded, 1, nil))
	add("data_padded_ok", newSeedWriter().headers(1, false, fuzzRequest()).raw(http2.FrameData, http2.FlagDataPadded|http2.FlagDataEndStream, 1,
		append(append([]byte{20}, msg...), make([]byte, 20)...)))
	{
		w := newSeedWriter()
		block := w.block(fuzzRequest())
		add("headers_padding_too_long", w.raw(http2.FrameHeaders, http2.FlagHeadersPadded|http2.FlagHeadersEndHeaders, 1,
			append([]byte{byte(len(block) + 1)}, block...)))
	}

	add("headers_even_stream", newSeedWriter().headers(2, true, fuzzRequest()))
	add("headers_self_dependency", newSeedWriter().raw(http2.FrameHeaders, http2.FlagHeadersPriority|http2.FlagHeadersEndHeaders, 1,
		append([]byte{0, 0, 0, 1, 16}, newSeedWriter().block(fuzzRequest())...)))
	add("priority_self_dependency", newSeedWriter().raw(http2.FramePriority, 0, 3, []byte{0, 0, 0, 3, 16}))
	add("headers_after_end_stream", newSeedWriter().headers(1, true, fuzzRequest()).headers(1, true, fuzzRequest()))
	add("data_idle_stream", newSeedWriter().data(1, true, msg))
	add("data_after_end_stream", newSeedWriter().headers(1, true, fuzzRequest()).data(1, true, msg))
	add("data_over_stream_window", newSeedWriter().headers(1, false, fuzzRequest()).
		data(1, false, make([]byte, 1<<12)).data(1, false, make([]byte, 1<<12+1)))
	add("message_over_limit", newSeedWriter().headers(1, false, fuzzRequest()).data(1, true, h2test.Message(make([]byte, 1<<10+1))))
	add("message_compressed_without_encoding", newSeedWriter().headers(1, false, fuzzRequest()).data(1, true, append(h2test.Prefix(true, 1), 'x')))
	add("message_cut_by_end_stream", newSeedWriter().headers(1, false, fuzzRequest()).data(1, true, msg[:7]))

	add("hpack_garbage", newSeedWriter().raw(http2.FrameHeaders, http2.FlagHeadersEndHeaders, 1, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}))
	add("header_uppercase_name", newSeedWriter().headers(1, true, fuzzRequest(hpack.HeaderField{Name: "X-Upper", Value: "v"})))
	add("header_pseudo_after_regular", newSeedWriter().headers(1, true, append(fuzzRequest(), hpack.HeaderField{Name: ":path", Value: "/a/b"})))
	add("header_connection_specific", newSeedWriter().headers(1, true, fuzzRequest(hpack.HeaderField{Name: "connection", Value: "close"})))
	add("header_te_gzip", newSeedWriter().headers(1, true, []hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: "/a/b"}, {Name: "te", Value: "gzip"},
	}))
	add("header_no_path", newSeedWriter().headers(1, true, []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"}}))
	add("header_bad_bin_and_timeout", newSeedWriter().headers(1, true, fuzzRequest(
		hpack.HeaderField{Name: "x-bin", Value: "!!!"}, hpack.HeaderField{Name: "grpc-timeout", Value: "999999999H"})))
	add("header_list_too_large", newSeedWriter().headers(1, true, fuzzRequest(hpack.HeaderField{Name: "x-big", Value: string(make([]byte, 5000))})))

	add("push_promise", newSeedWriter().raw(http2.FramePushPromise, http2.FlagPushPromiseEndHeaders, 1, []byte{0, 0, 0, 2}))
	add("unknown_frame_type", newSeedWriter().raw(0x42, 0xff, 7, []byte("ignored")).headers(1, true, fuzzRequest()))
	add("goaway_from_client", newSeedWriter().headers(1, false, fuzzRequest()).
		raw(http2.FrameGoAway, 0, 0, []byte{0, 0, 0, 1, 0, 0, 0, 0}).data(1, true, msg))
	return seeds
}

var writeFuzzSeeds = flag.Bool("write-fuzz-seeds", false, "write testdata/fuzz/FuzzServerConn from fuzzServerSeeds")

// TestServerConnSeeds checks that testdata/fuzz/FuzzServerConn holds
// fuzzServerSeeds, and writes them with -write-fuzz-seeds. Other files
// there (inputs the fuzzer found) are left alone.
func TestServerConnSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzServerConn")
	if *writeFuzzSeeds {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range fuzzServerSeeds() {
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s.input)) + ")\n"
		path := filepath.Join(dir, s.name)
		if *writeFuzzSeeds {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("seed %s is missing or out of date (%v): run go test ./connection -run=TestServerConnSeeds -write-fuzz-seeds", path, err)
		}
	}
}
