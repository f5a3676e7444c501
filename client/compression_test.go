package client_test

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/internal/testserver"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// The Conn's default compressor, its level and threshold, and a call's
// own compressor, as the request frames show them.
func TestClientCompressionChoices(t *testing.T) {
	long := strings.Repeat("several words that compress, ", 200)
	ctx := testserver.Context(t, 10*time.Second)
	dialer, peers := fakeServers(t, ctx)
	c, p := dialFake(t, dialer, peers,
		client.WithDefaultCallOptions(grpc.UseCompressor("gzip")),
		client.WithCompressionLevel("gzip", 0), client.WithCompressionThreshold(100))
	var early []h2test.Frame

	type request struct {
		encoding string
		flag     byte
		payload  []byte
	}
	// send makes a unary call for value and returns the request as the
	// server saw it.
	var id uint32 = 1
	send := func(value string, opts ...grpc.CallOption) request {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			_, err := pb.NewExampleClient(c).UnaryUnary(ctx, &pb.ExampleRequest{Value: value}, opts...)
			done <- err
		}()
		var r request
		for got := false; !got; {
			var f h2test.Frame
			if len(early) > 0 {
				f, early = early[0], early[1:]
			} else {
				f = p.Next()
			}
			switch {
			case f.StreamID != id:
			case f.Type == http2.FrameHeaders:
				r.encoding = f.Header("grpc-encoding")
				if ae := f.Header("grpc-accept-encoding"); ae != compression.AcceptEncoding() {
					t.Errorf("grpc-accept-encoding %q, want %q", ae, compression.AcceptEncoding())
				}
			case f.Type == http2.FrameData:
				r.flag, r.payload, got = f.Data[0], f.Data[5:], true
			}
		}
		p.WriteHeaders(id, true, append(h2test.ResponseFields(), h2test.TrailerFields("0")...))
		id += 2
		// A trailers-only OK for a unary call is a cardinality error, which
		// does not matter here: the request is what the test looks at.
		<-done
		return r
	}

	if r := send("short"); r.encoding != "gzip" || r.flag != 0 {
		t.Errorf("short request: grpc-encoding %q, flag %d; want gzip, 0 (under the threshold)", r.encoding, r.flag)
	}
	r := send(long)
	if r.encoding != "gzip" || r.flag != 1 {
		t.Fatalf("long request: grpc-encoding %q, flag %d; want gzip, 1", r.encoding, r.flag)
	}
	if len(r.payload) <= len(long) {
		t.Errorf("gzip level 0 (stored) gave %d bytes for %d", len(r.payload), len(long))
	}
	r = send(long, grpc.UseCompressor("zstd"))
	if r.encoding != "zstd" || r.flag != 1 || len(r.payload) >= len(long)/4 {
		t.Errorf("per-call zstd: grpc-encoding %q, flag %d, %d bytes; want zstd, 1, compressed", r.encoding, r.flag, len(r.payload))
	}
	plain, err := compression.Get("zstd").Decompress(nil, r.payload, 1<<20)
	if err != nil || !strings.Contains(string(plain), long) {
		t.Errorf("per-call zstd payload does not decode: %v", err)
	}
	if r := send(long, grpc.UseCompressor("identity")); r.encoding != "" || r.flag != 0 {
		t.Errorf("per-call identity: grpc-encoding %q, flag %d; want none, 0", r.encoding, r.flag)
	}
}
