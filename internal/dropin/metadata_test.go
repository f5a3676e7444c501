package dropin_test

import (
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Handler-side context functions, metadata both ways, the call options
// grpc.Header, grpc.Trailer and grpc.Peer, and streams' Header and
// Trailer.

const (
	methodEmpty        = testpb.TestService_EmptyCall_FullMethodName
	methodUnary        = testpb.TestService_UnaryCall_FullMethodName
	methodStreamOut    = testpb.TestService_StreamingOutputCall_FullMethodName
	methodStreamIn     = testpb.TestService_StreamingInputCall_FullMethodName
	methodFullDuplex   = testpb.TestService_FullDuplexCall_FullMethodName
	methodHalfDuplex   = testpb.TestService_HalfDuplexCall_FullMethodName
	contentTypeDefault = "application/grpc"
	contentTypeJSON    = "application/grpc+json"
)

// A unary handler's grpc.SetHeader (twice), grpc.SendHeader, grpc.SetTrailer
// (several times), grpc.Method, metadata.FromIncomingContext and
// peer.FromContext, as the client sees them through grpc.Header,
// grpc.Trailer and grpc.Peer. Setting or sending headers once they are sent
// fails with INTERNAL; setting none then is no error.
func TestUnaryHandlerContext(t *testing.T) {
	matrix(t, func(t *testing.T, e *env) {
		var header, trailer metadata.MD
		var p peer.Peer
		resp, err := e.tc.UnaryCall(outgoing(callCtx(t)), &testpb.SimpleRequest{ResponseSize: 10, Payload: payload(7)},
			grpc.Header(&header), grpc.Trailer(&trailer), grpc.Peer(&p))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetPayload().GetBody()) != 10 || resp.Username != "7" {
			t.Errorf("response %v, want a 10-byte payload for a 7-byte one", resp)
		}
		checkEcho(t, "header", header)
		checkValue(t, "header", header, "h-set", "set")
		checkValue(t, "header", header, "h-sent", "sent")
		checkValue(t, "header", header, "h-late")
		checkEcho(t, "trailer", trailer)
		e.checkSeen(t, trailer, methodUnary, contentTypeDefault)
		checkValue(t, "trailer", trailer, "late-set-header", "Internal")
		checkValue(t, "trailer", trailer, "late-send-header", "Internal")
		checkValue(t, "trailer", trailer, "late-set-header-empty", "OK")
		checkValue(t, "trailer", trailer, "t-twice", "1", "2")
		e.checkPeer(t, &p, trailer)
	})
}

// streamOpts are the call options a stream test passes, and what they
// stored once the stream ended.
type streamOpts struct {
	header, trailer metadata.MD
	peer            peer.Peer
}

func (o *streamOpts) opts() []grpc.CallOption {
	return []grpc.CallOption{grpc.Header(&o.header), grpc.Trailer(&o.trailer), grpc.Peer(&o.peer)}
}

// check checks the options stored what the stream's Header and Trailer
// returned.
func (o *streamOpts) check(t *testing.T, e *env, header, trailer metadata.MD) {
	t.Helper()
	if !mdEqual(o.header, header) {
		t.Errorf("grpc.Header stored %v, stream.Header returned %v", o.header, header)
	}
	if !mdEqual(o.trailer, trailer) {
		t.Errorf("grpc.Trailer stored %v, stream.Trailer returned %v", o.trailer, trailer)
	}
	e.checkPeer(t, &o.peer, trailer)
}

func mdEqual(a, b metadata.MD) bool {
	return maps.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

// Streaming handlers: the context functions on stream.Context() (server
// streaming), the generated stream's SetHeader, SendHeader, SetTrailer,
// Context, Send, SendMsg, Recv and RecvMsg (the others); on the client,
// stream Header (before any message where the handler sent headers
// early), Trailer, and grpc.Header, grpc.Trailer and grpc.Peer on streams.
func TestStreamingHandlerContext(t *testing.T) {
	matrix(t, func(t *testing.T, e *env) {
		t.Run("StreamingOutputCall", func(t *testing.T) {
			var o streamOpts
			stream, err := e.tc.StreamingOutputCall(outgoing(callCtx(t)), &testpb.StreamingOutputCallRequest{
				ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 2}, {Size: 3}},
			}, o.opts()...)
			if err != nil {
				t.Fatal(err)
			}
			header, err := stream.Header()
			if err != nil {
				t.Fatalf("Header: %v", err)
			}
			checkEcho(t, "header", header)
			checkValue(t, "header", header, "h-sent", "sent")
			checkValue(t, "header", header, "h-late")
			for i := 1; i <= 3; i++ {
				resp, err := stream.Recv()
				if err != nil {
					t.Fatalf("Recv %d: %v", i, err)
				}
				if n := len(resp.GetPayload().GetBody()); n != i {
					t.Errorf("response %d has %d bytes", i, n)
				}
			}
			if _, err := stream.Recv(); err != io.EOF {
				t.Fatalf("Recv at the end: %v, want io.EOF", err)
			}
			trailer := stream.Trailer()
			checkEcho(t, "trailer", trailer)
			e.checkSeen(t, trailer, methodStreamOut, contentTypeDefault)
			checkValue(t, "trailer", trailer, "late-set-header", "Internal")
			o.check(t, e, header, trailer)
		})

		t.Run("StreamingInputCall", func(t *testing.T) {
			var o streamOpts
			stream, err := e.tc.StreamingInputCall(outgoing(callCtx(t)), o.opts()...)
			if err != nil {
				t.Fatal(err)
			}
			for i := int32(1); i <= 3; i++ {
				if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: payload(i)}); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
			}
			resp, err := stream.CloseAndRecv()
			if err != nil {
				t.Fatal(err)
			}
			if resp.AggregatedPayloadSize != 6 {
				t.Errorf("aggregated size %d, want 6", resp.AggregatedPayloadSize)
			}
			header, err := stream.Header()
			if err != nil {
				t.Fatalf("Header: %v", err)
			}
			checkEcho(t, "header", header)
			trailer := stream.Trailer()
			checkEcho(t, "trailer", trailer)
			e.checkSeen(t, trailer, methodStreamIn, contentTypeDefault)
			o.check(t, e, header, trailer)
		})

		t.Run("FullDuplexCall", func(t *testing.T) {
			var o streamOpts
			stream, err := e.tc.FullDuplexCall(outgoing(callCtx(t)), o.opts()...)
			if err != nil {
				t.Fatal(err)
			}
			// The handler sends its headers before reading: they arrive
			// before the client sends anything.
			header, err := stream.Header()
			if err != nil {
				t.Fatalf("Header: %v", err)
			}
			checkEcho(t, "header", header)
			checkValue(t, "header", header, "h-sent", "sent")
			checkValue(t, "header", header, "h-late")
			for i := int32(1); i <= 4; i++ {
				req := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: i}, {Size: 10 + i}}}
				if i%2 == 0 {
					err = stream.Send(req)
				} else {
					err = stream.SendMsg(req)
				}
				if err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
				for _, want := range []int32{i, 10 + i} {
					resp := new(testpb.StreamingOutputCallResponse)
					if want < 10 {
						resp, err = stream.Recv()
					} else {
						err = stream.RecvMsg(resp)
					}
					if err != nil {
						t.Fatalf("Recv: %v", err)
					}
					if n := len(resp.GetPayload().GetBody()); n != int(want) {
						t.Errorf("response has %d bytes, want %d", n, want)
					}
				}
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatalf("CloseSend: %v", err)
			}
			if _, err := stream.Recv(); err != io.EOF {
				t.Fatalf("Recv at the end: %v, want io.EOF", err)
			}
			trailer := stream.Trailer()
			checkEcho(t, "trailer", trailer)
			e.checkSeen(t, trailer, methodFullDuplex, contentTypeDefault)
			checkValue(t, "trailer", trailer, "late-set-header", "Internal")
			checkValue(t, "trailer", trailer, "late-send-header", "Internal")
			o.check(t, e, header, trailer)
		})

		t.Run("HalfDuplexCall", func(t *testing.T) {
			var o streamOpts
			stream, err := e.tc.HalfDuplexCall(outgoing(callCtx(t)), o.opts()...)
			if err != nil {
				t.Fatal(err)
			}
			for i := int32(1); i <= 3; i++ {
				if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: i}}}); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatalf("CloseSend: %v", err)
			}
			// The headers leave with the first response.
			header, err := stream.Header()
			if err != nil {
				t.Fatalf("Header: %v", err)
			}
			checkEcho(t, "header", header)
			for i := 1; i <= 3; i++ {
				resp := new(testpb.StreamingOutputCallResponse)
				if err := stream.RecvMsg(resp); err != nil {
					t.Fatalf("RecvMsg %d: %v", i, err)
				}
				if n := len(resp.GetPayload().GetBody()); n != i {
					t.Errorf("response %d has %d bytes", i, n)
				}
			}
			if err := stream.RecvMsg(new(testpb.StreamingOutputCallResponse)); err != io.EOF {
				t.Fatalf("RecvMsg at the end: %v, want io.EOF", err)
			}
			trailer := stream.Trailer()
			e.checkSeen(t, trailer, methodHalfDuplex, contentTypeDefault)
			o.check(t, e, header, trailer)
		})
	})
}

// The generated server stream's SetHeader with no metadata is no error once
// the headers are sent, as in grpc-go (whose grpc.SetHeader, used in
// TestUnaryHandlerContext, checks this before it reaches the stream).
func TestServerStreamSetHeaderEmptyAfterSendHeader(t *testing.T) {
	matrix(t, func(t *testing.T, e *env) {
		stream, err := e.tc.FullDuplexCall(callCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		stream.CloseSend()
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("Recv: %v, want io.EOF", err)
		}
		checkValue(t, "trailer", stream.Trailer(), "late-set-header-empty", "OK")
	})
}

// Metadata values grpc-go carries unchanged both ways: -bin values of any
// bytes, repeated keys in order, empty and long values, keys with dots
// and underscores.
func TestMetadataRoundTrip(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 256)
	many := make([]string, 40)
	for i := range many {
		many[i] = string(rune('a' + i%26))
	}
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	kv := []string{"x-empty", "", "x-long", long, "x-dotted.key_1", "v", "x-all-bin", string(allBytes), "x-all-bin", ""}
	for _, v := range many {
		kv = append(kv, "x-many", v)
	}
	want := metadata.MD{
		"x-empty":        {""},
		"x-long":         {long},
		"x-dotted.key_1": {"v"},
		"x-all-bin":      {string(allBytes), ""},
		"x-many":         many,
	}
	matrix(t, func(t *testing.T, e *env) {
		var header, trailer metadata.MD
		_, err := e.tc.EmptyCall(outgoing(callCtx(t), append(kv, "x-set-header", "1")...), &testpb.Empty{},
			grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil {
			t.Fatal(err)
		}
		for where, md := range map[string]metadata.MD{"header": header, "trailer": trailer} {
			checkEcho(t, where, md)
			for k, v := range want {
				checkValue(t, where, md, k, v...)
			}
		}
	})
}

// A non-ASCII value under a key without -bin is refused by the client
// before anything is sent, as grpc-go refuses it, with INTERNAL.
func TestInvalidOutgoingMetadata(t *testing.T) {
	matrix(t, func(t *testing.T, e *env) {
		_, err := e.tc.EmptyCall(outgoing(callCtx(t), "x-text", "caf\xc3\xa9"), &testpb.Empty{})
		checkCode(t, err, codes.Internal)
	})
}

// The headers and trailers a client shows besides the custom keys, as
// grpc-go shows them: content-type in the headers (and the advertisement
// h2grpc's server adds); in the trailers nothing
// for OK, and grpc-status-details-bin (the google.rpc.Status) when the
// status has details.
func TestResponseMetadataKeys(t *testing.T) {
	custom := func(k string) bool {
		for _, p := range []string{"x-", "h-", "t-", "seen-", "late-"} {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return false
	}
	others := func(md metadata.MD) []string {
		var ks []string
		for k := range md {
			if !custom(k) {
				ks = append(ks, k)
			}
		}
		slices.Sort(ks)
		return ks
	}
	matrix(t, func(t *testing.T, e *env) {
		t.Run("header content-type, trailer empty", func(t *testing.T) {
			var header, trailer metadata.MD
			if _, err := e.tc.UnaryCall(outgoing(callCtx(t)), &testpb.SimpleRequest{}, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
				t.Fatal(err)
			}
			want := []string{"content-type"}
			if e.server.name == ourServer.name && e.client.name == grpcClient.name {
				// Deliberately unlike grpc-go: h2grpc's server advertises
				// its decompressors on every response (doc/compression.md),
				// and grpc-go's client shows the key.
				want = []string{"content-type", "grpc-accept-encoding"}
			}
			if got := others(header); !slices.Equal(got, want) {
				t.Errorf("header keys besides custom ones: %q, want %q", got, want)
			}
			checkValue(t, "header", header, "content-type", contentTypeDefault)
			if got := others(trailer); len(got) != 0 {
				t.Errorf("trailer keys besides custom ones: %q, want none", got)
			}
		})
		t.Run("header content-type json", func(t *testing.T) {
			var header metadata.MD
			if _, err := e.tc.UnaryCall(callCtx(t), &testpb.SimpleRequest{}, grpc.CallContentSubtype("json"), grpc.Header(&header)); err != nil {
				t.Fatal(err)
			}
			checkValue(t, "header", header, "content-type", contentTypeJSON)
		})
		t.Run("trailer grpc-status-details-bin", func(t *testing.T) {
			var trailer metadata.MD
			_, err := e.tc.UnaryCall(outgoing(callCtx(t), "x-error", "WithDetails"), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
			checkStatus(t, err, detailedStatus())
			if got := others(trailer); !slices.Equal(got, []string{"grpc-status-details-bin"}) {
				t.Errorf("trailer keys besides custom ones: %q, want [grpc-status-details-bin]", got)
			}
			if v := trailer.Get("grpc-status-details-bin"); len(v) == 1 {
				var st spb.Status
				if err := proto.Unmarshal([]byte(v[0]), &st); err != nil || !proto.Equal(status.FromProto(&st).Proto(), detailedStatus().Proto()) {
					t.Errorf("grpc-status-details-bin holds %v (%v), want %v", &st, err, detailedStatus().Proto())
				}
			}
		})
	})
}
