package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // grpc-go's client needs it to compress
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/server"
	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// countingConn counts the bytes a connection reads and writes, so a test
// can tell a compressed exchange from a plain one by its size on the wire.
type countingConn struct {
	net.Conn
	read, written *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

func countingDialer(read, written *atomic.Int64) func(context.Context, string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return countingConn{nc, read, written}, nil
	}
}

// Every algorithm compresses both directions of all four patterns when the
// client asks for it: 256 KiB of one letter each way crosses the wire in
// a few KiB.
func TestCompressionEachAlgorithmBothWays(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	value := strings.Repeat("a", 256<<10)
	for _, name := range compression.Names() {
		t.Run(name, func(t *testing.T) {
			var read, written atomic.Int64
			c, err := client.Dial(addr, client.WithContextDialer(countingDialer(&read, &written)),
				client.WithDefaultCallOptions(grpc.UseCompressor(name)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := testserver.Context(t, 10*time.Second)
			check := func(pattern string, sent, received int) {
				t.Helper()
				if w, r := written.Swap(0), read.Swap(0); w > int64(sent)/8 || r > int64(received)/8 {
					t.Errorf("%s: wrote %d and read %d bytes for %d sent and %d received: not compressed", pattern, w, r, sent, received)
				}
			}
			read.Store(0)
			written.Store(0)

			resp, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{Value: value})
			if err != nil || resp.Message != value {
				t.Fatalf("unary: %v", err)
			}
			check("unary", len(value), len(value))

			ss, err := client.ServerStream[pb.ExampleReply](ctx, c, testserver.ServerStream, &pb.ExampleRequest{Value: value, ResponseCount: 3})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ {
				r, err := ss.Recv()
				if err == io.EOF {
					if i != 3 {
						t.Fatalf("server stream: %d replies, want 3", i)
					}
					break
				}
				if err != nil || r.Message != value {
					t.Fatalf("server stream reply %d: %v", i, err)
				}
			}
			check("server streaming", len(value), 3*len(value))

			cs, err := client.ClientStream[pb.ExampleRequest, pb.ExampleReply](ctx, c, testserver.ClientStream)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if err := cs.Send(&pb.ExampleRequest{Value: value}); err != nil {
					t.Fatal(err)
				}
			}
			if r, err := cs.CloseAndRecv(); err != nil || r.Seqno != 3 {
				t.Fatalf("client stream: %v, %v", r, err)
			}
			check("client streaming", 3*len(value), 1<<20)

			bs, err := client.BidiStream[pb.ExampleRequest, pb.ExampleReply](ctx, c, testserver.Bidi)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := bs.Send(&pb.ExampleRequest{Value: value}); err != nil {
					t.Fatal(err)
				}
				if r, err := bs.Recv(); err != nil || r.Message != value {
					t.Fatalf("bidi: %v", err)
				}
			}
			bs.CloseSend()
			if _, err := bs.Recv(); err != io.EOF {
				t.Fatalf("bidi end: %v", err)
			}
			check("bidi", 2*len(value), 2*len(value))
		})
	}
}

// The server decompresses a request in its grpc-encoding and answers in the
// same encoding, with compressed messages and grpc-accept-encoding.
func TestServerAnswersInTheRequestEncoding(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	for _, name := range compression.Names() {
		t.Run(name, func(t *testing.T) {
			st := rawStream(t, addr, stream.Header{Path: testserver.Unary, Encoding: name})
			req := encode(t, &pb.ExampleRequest{Value: "hello"})
			payload, err := compression.Get(name).Compress(nil, req)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Send.SendLast(payload, true, nil); err != nil {
				t.Fatal(err)
			}
			msg, err := st.Recv.Recv()
			if err != nil {
				t.Fatal(err)
			}
			defer msg.Release()
			h, _ := st.Recv.Header()
			if h.Encoding != name || h.AcceptEncoding == "" || !msg.Compressed {
				t.Fatalf("response grpc-encoding %q, accept %q, compressed flag %v; want %q, the list, true",
					h.Encoding, h.AcceptEncoding, msg.Compressed, name)
			}
			plain, err := compression.Get(name).Decompress(nil, msg.Data, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var resp pb.ExampleReply
			if err := proto.Unmarshal(plain, &resp); err != nil || resp.Message != "hello" {
				t.Fatalf("response %v, %v", &resp, err)
			}
			if _, s := trailerStatus(t, st); s != nil {
				t.Fatalf("status %v", s)
			}
		})
	}
}

// A compressed request that inflates past the receive limit is refused
// with RESOURCE_EXHAUSTED, however small it is on the wire.
func TestDecompressionBombIsResourceExhausted(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{}, server.MaxRecvMsgSize(1<<20))
	st := rawStream(t, addr, stream.Header{Path: testserver.Unary, Encoding: "gzip"})
	req := encode(t, &pb.ExampleRequest{Value: strings.Repeat("z", 8<<20)})
	payload, err := compression.Get("gzip").Compress(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(payload) > 64<<10 {
		t.Fatalf("bomb is %d bytes compressed", len(payload))
	}
	if err := st.Send.SendLast(payload, true, nil); err != nil {
		t.Fatal(err)
	}
	if _, s := trailerStatus(t, st); s.Code() != status.ResourceExhausted {
		t.Fatalf("got %v, want RESOURCE_EXHAUSTED", s)
	}
}

// An unknown compressor is refused before anything is sent.
func TestUnknownCompressorIsRefused(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	c := dial(t, addr)
	_, err := client.Unary[pb.ExampleReply](testserver.Context(t, 5*time.Second), c, testserver.Unary,
		&pb.ExampleRequest{}, grpc.UseCompressor("br"))
	if status.CodeOf(err) != status.Internal || !strings.Contains(err.Error(), "br") {
		t.Fatalf("got %v, want INTERNAL naming the compressor", err)
	}
}

// A handler may choose the response compression among what the client
// advertised; grpc-go's client advertises only what it has registered.
func TestSetSendCompressor(t *testing.T) {
	choose := make(chan string, 1)
	_, addr := testserver.Start(t, testserver.Hooks{Unary: func(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
		if err := server.SetSendCompressor(ctx, <-choose); err != nil {
			return nil, err
		}
		return &pb.ExampleReply{Message: r.Value}, nil
	}})
	value := strings.Repeat("b", 128<<10)

	var read, written atomic.Int64
	c, err := client.Dial(addr, client.WithContextDialer(countingDialer(&read, &written)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testserver.Context(t, 5*time.Second)
	choose <- "zstd"
	if resp, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{Value: value}); err != nil || resp.Message != value {
		t.Fatalf("zstd response: %v", err)
	}
	if r := read.Load(); r > int64(len(value))/8 {
		t.Errorf("read %d bytes for a %d byte response: not compressed", r, len(value))
	}
	// "identity" answers a compressed request uncompressed.
	read.Store(0)
	choose <- "identity"
	if resp, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{Value: value}, grpc.UseCompressor("gzip")); err != nil || resp.Message != value {
		t.Fatalf("identity response: %v", err)
	}
	if r := read.Load(); r < int64(len(value)) {
		t.Errorf("read %d bytes for a %d byte response: compressed after choosing identity", r, len(value))
	}

	gc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	choose <- "zstd"
	err = gc.Invoke(ctx, testserver.Unary, &pb.ExampleRequest{}, new(pb.ExampleReply))
	if grpcstatus.Code(err) != codes.Internal || !strings.Contains(err.Error(), "does not support") {
		t.Fatalf("zstd to a client that did not advertise it: %v, want INTERNAL", err)
	}
	choose <- "gzip"
	var resp pb.ExampleReply
	if err := gc.Invoke(ctx, testserver.Unary, &pb.ExampleRequest{Value: "x"}, &resp); err != nil || resp.Message != "x" {
		t.Fatalf("gzip to grpc-go: %v", err)
	}
}

// grpc-go's client compresses with gzip to h2grpc's server, which answers
// in gzip; h2grpc's client compresses to grpc-go's server.
func TestGzipWithGRPCGo(t *testing.T) {
	_, addr := testserver.Start(t, testserver.Hooks{})
	ctx := testserver.Context(t, 5*time.Second)
	value := strings.Repeat("c", 64<<10)
	gc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	var resp pb.ExampleReply
	if err := gc.Invoke(ctx, testserver.Unary, &pb.ExampleRequest{Value: value}, &resp, grpc.UseCompressor("gzip")); err != nil || resp.Message != value {
		t.Fatalf("grpc-go client, gzip: %v", err)
	}

	gs := grpc.NewServer()
	pb.RegisterExampleServer(gs, echoServer{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	defer gs.Stop()
	var read, written atomic.Int64
	c, err := client.Dial(lis.Addr().String(), client.WithContextDialer(countingDialer(&read, &written)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := client.Unary[pb.ExampleReply](ctx, c, testserver.Unary, &pb.ExampleRequest{Value: value}, grpc.UseCompressor("gzip"))
	if err != nil || got.Message != value {
		t.Fatalf("h2grpc client to grpc-go, gzip: %v", err)
	}
	if w, r := written.Load(), read.Load(); w > int64(len(value))/8 || r > int64(len(value))/8 {
		t.Errorf("wrote %d, read %d bytes: not compressed both ways", w, r)
	}
}

type echoServer struct{ pb.UnimplementedExampleServer }

func (echoServer) UnaryUnary(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	return &pb.ExampleReply{Message: r.Value}, nil
}

// CompressionThreshold sends short responses uncompressed (flag 0) on a
// compressed call and longer ones compressed; CompressionLevel changes
// what the compressed ones look like.
func TestCompressionThresholdAndLevel(t *testing.T) {
	long := strings.Repeat("several words that compress, ", 200)
	// respond sends a gzip request for value and returns the response's
	// flag and payload.
	respond := func(t *testing.T, addr, value string) (bool, []byte) {
		st := rawStream(t, addr, stream.Header{Path: testserver.Unary, Encoding: "gzip", AcceptEncoding: "gzip"})
		if err := st.Send.SendLast(encode(t, &pb.ExampleRequest{Value: value}), false, nil); err != nil {
			t.Fatal(err)
		}
		msg, err := st.Recv.Recv()
		if err != nil {
			t.Fatal(err)
		}
		defer msg.Release()
		if _, s := trailerStatus(t, st); s != nil {
			t.Fatalf("status %v", s)
		}
		return msg.Compressed, append([]byte(nil), msg.Data...)
	}
	_, fast := testserver.Start(t, testserver.Hooks{}, server.CompressionThreshold(100), server.CompressionLevel("gzip", 0))
	_, best := testserver.Start(t, testserver.Hooks{}, server.CompressionLevel("gzip", 9))

	if compressed, _ := respond(t, fast, "short"); compressed {
		t.Error("a response under the threshold was compressed")
	}
	if compressed, _ := respond(t, best, "short"); !compressed {
		t.Error("without a threshold, a short response was not compressed")
	}
	c0, b0 := respond(t, fast, long)
	c9, b9 := respond(t, best, long)
	if !c0 || !c9 {
		t.Fatalf("long responses compressed: level 0 %v, level 9 %v", c0, c9)
	}
	// Level 0 stores: longer than the response itself.
	if len(b0) <= len(long) || len(b9) >= len(long)/4 {
		t.Errorf("gzip level 0 gave %d bytes, level 9 %d, for %d: the levels were not applied", len(b0), len(b9), len(long))
	}
	for _, b := range [][]byte{b0, b9} {
		plain, err := compression.Get("gzip").Decompress(nil, b, 1<<20)
		var r pb.ExampleReply
		if err != nil || proto.Unmarshal(plain, &r) != nil || r.Message != long {
			t.Fatalf("response does not decode: %v", err)
		}
	}
}

func TestCompressionLevelPanicsOutOfRange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level int
	}{{"gzip", -3}, {"gzip", 10}, {"zstd", 5}, {"snappy", 1}, {"brotli", 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("CompressionLevel(%q, %d) did not panic", tc.name, tc.level)
				}
			}()
			server.New(server.CompressionLevel(tc.name, tc.level))
		}()
	}
}

// Compression switched per message on both sides, and seen per message:
// what the interop tests' compressed cases need.
func TestPerMessageCompression(t *testing.T) {
	srv := server.New()
	server.RegisterBidiStream(srv, testserver.Bidi, func(s grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
		ctx := s.Context()
		for {
			r, err := s.Recv()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			// Answer with the request's flag, compressed only when asked.
			if err := server.SetMessageCompression(ctx, r.Multiplier == 1); err != nil {
				return err
			}
			if err := s.Send(&pb.ExampleReply{Message: fmt.Sprint(server.RecvCompressed(ctx))}); err != nil {
				return err
			}
		}
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	c, err := client.Dial(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testserver.Context(t, 10*time.Second)
	cs, err := c.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, testserver.Bidi, grpc.UseCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	call := cs.(*client.Call)
	for i, tc := range []struct{ reqCompressed, respCompressed bool }{{true, false}, {false, true}, {true, true}, {false, false}} {
		call.SetMessageCompression(tc.reqCompressed)
		mult := int32(0)
		if tc.respCompressed {
			mult = 1
		}
		if err := call.SendMsg(&pb.ExampleRequest{Value: "v", Multiplier: mult}); err != nil {
			t.Fatal(err)
		}
		var r pb.ExampleReply
		if err := call.RecvMsg(&r); err != nil {
			t.Fatal(err)
		}
		if r.Message != fmt.Sprint(tc.reqCompressed) || call.RecvCompressed() != tc.respCompressed {
			t.Errorf("message %d: server saw compressed=%s, client got compressed=%v; want %v, %v",
				i, r.Message, call.RecvCompressed(), tc.reqCompressed, tc.respCompressed)
		}
	}
	call.CloseSend()
	if err := call.RecvMsg(new(pb.ExampleReply)); err != io.EOF {
		t.Fatal(err)
	}
}
