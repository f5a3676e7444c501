package dropin_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
)

// The rules where h2grpc deliberately differs from grpc-go (SPEC.md), each
// run on all four pairings with what it gives written down per pairing:
// grpc-go's cells are what grpc-go v1.85 was measured to do, h2grpc's what
// SPEC.md says. Whichever side decides (the server for what it receives,
// the client for what it sends) makes the result; the tables say so.

// The pairings by name, client first, as pairing.name spells them.
var (
	goClientGoServer   = pairing{grpcServer, grpcClient}.name()
	goClientOurServer  = pairing{ourServer, grpcClient}.name()
	ourClientGoServer  = pairing{grpcServer, ourClient}.name()
	ourClientOurServer = pairing{ourServer, ourClient}.name()
)

// perPairing is an expectation for each pairing, by pairing name.
type perPairing[T any] map[string]T

// of returns the expectation for e's pairing; a table without one is a
// broken test.
func (w perPairing[T]) of(t *testing.T, e *env) T {
	t.Helper()
	v, ok := w[e.name()]
	if !ok {
		t.Fatalf("no expectation for %s", e.name())
	}
	return v
}

// Request cardinality: a unary or server-streaming call whose client sends
// zero or two requests. The server decides: grpc-go's answers INTERNAL
// ("cardinality violation: ..."), h2grpc's UNIMPLEMENTED, as the
// conformance suite expects. The calls are made as a generic
// bidirectional stream (grpc.ClientConnInterface.NewStream) on the
// single-request method's path, which is how a client can send the wrong
// number at all; one request is the control and works everywhere.
//
// The response side (a server that sends zero or two responses to a unary
// or client-streaming call) cannot be produced through either server's
// handlers; client/fakepeer_test.go covers it with a fake peer.
func TestRequestCardinality(t *testing.T) {
	violation := perPairing[codes.Code]{
		goClientGoServer:   codes.Internal,
		goClientOurServer:  codes.Unimplemented,
		ourClientGoServer:  codes.Internal,
		ourClientOurServer: codes.Unimplemented,
	}
	ok := perPairing[codes.Code]{
		goClientGoServer:   codes.OK,
		goClientOurServer:  codes.OK,
		ourClientGoServer:  codes.OK,
		ourClientOurServer: codes.OK,
	}
	cases := []struct {
		name     string
		method   string
		requests int
		want     perPairing[codes.Code]
	}{
		{"unary two requests", methodUnary, 2, violation},
		{"unary no request", methodUnary, 0, violation},
		{"unary one request", methodUnary, 1, ok},
		{"server-streaming two requests", methodStreamOut, 2, violation},
		{"server-streaming no request", methodStreamOut, 0, violation},
		{"server-streaming one request", methodStreamOut, 1, ok},
	}
	matrix(t, func(t *testing.T, e *env) {
		// env keeps only the generated client, so the generic stream goes
		// over a second connection of the same client stack.
		cc := e.client.dial(t, e.addr)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				want := c.want.of(t, e)
				stream, err := cc.NewStream(callCtx(t), &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, c.method)
				if err != nil {
					t.Fatalf("NewStream: %v", err)
				}
				var req, resp any = &testpb.SimpleRequest{}, &testpb.SimpleResponse{}
				if c.method == methodStreamOut {
					req = &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}
					resp = &testpb.StreamingOutputCallResponse{}
				}
				for i := range c.requests {
					// A Send can fail once the server has answered; RecvMsg
					// then returns the call's status.
					if err := stream.SendMsg(req); err != nil {
						t.Logf("SendMsg %d: %v", i, err)
						break
					}
				}
				if err := stream.CloseSend(); err != nil {
					t.Fatalf("CloseSend: %v", err)
				}
				var got int
				for err = stream.RecvMsg(resp); err == nil; err = stream.RecvMsg(resp) {
					got++
				}
				if want == codes.OK {
					if err != io.EOF || got != 1 {
						t.Errorf("%d responses, then %v; want 1, then io.EOF", got, err)
					}
					return
				}
				if got != 0 {
					t.Errorf("%d responses before the error, want none", got)
				}
				checkCode(t, err, want)
			})
		}
	})
}

// Outgoing metadata under a reserved "grpc-" key (put there with a raw map,
// which metadata.Pairs would not stop either). The client decides first:
// h2grpc's refuses the call with INTERNAL before sending anything;
// grpc-go's sends the key, and the call succeeds. Then the server: grpc-go's
// hands the key to the handler as user metadata, h2grpc's never does
// (SPEC.md: grpc-* is reserved).
func TestReservedOutgoingMetadata(t *testing.T) {
	type result struct {
		code        codes.Code
		handlerSees bool // the key is in the handler's incoming metadata
	}
	want := perPairing[result]{
		goClientGoServer:   {codes.OK, true},
		goClientOurServer:  {codes.OK, false},
		ourClientGoServer:  {codes.Internal, false},
		ourClientOurServer: {codes.Internal, false},
	}
	matrix(t, func(t *testing.T, e *env) {
		w := want.of(t, e)
		var trailer metadata.MD
		ctx := metadata.NewOutgoingContext(callCtx(t), metadata.MD{"grpc-foo": {"bar"}})
		_, err := e.tc.EmptyCall(ctx, &testpb.Empty{}, grpc.Trailer(&trailer))
		checkCode(t, err, w.code)
		if w.code != codes.OK {
			// Refused in the client: no handler ran, so nothing it set
			// came back.
			if len(trailer) != 0 {
				t.Errorf("trailer %v, want none: the call should not have reached the server", trailer)
			}
			return
		}
		sees := false
		for _, k := range trailer.Get("seen-keys") {
			sees = sees || k == "grpc-foo"
		}
		if sees != w.handlerSees {
			t.Errorf("handler saw grpc-foo: %v, want %v (its keys: %q)", sees, w.handlerSees, trailer.Get("seen-keys"))
		}
	})
}

// Compression algorithms grpc-go does not have: grpc.UseCompressor with
// each built-in of h2grpc's, on a compressible 10 KiB request asking for a
// 10 KiB response. grpc-go's client refuses a compressor it lacks with
// INTERNAL ("Compressor is not installed ...") before sending; h2grpc's
// client sends it; grpc-go's server answers an encoding it lacks with
// UNIMPLEMENTED ("Decompressor is not installed ..."); h2grpc's server
// takes all four. Where the call succeeds, both directions crossed the
// wire compressed: the server answered in the request's algorithm (or in
// one the client advertised).
func TestCompressorsGrpcGoLacks(t *testing.T) {
	const size = 10 << 10
	lacking := perPairing[codes.Code]{
		goClientGoServer:   codes.Internal,
		goClientOurServer:  codes.Internal,
		ourClientGoServer:  codes.Unimplemented,
		ourClientOurServer: codes.OK,
	}
	want := map[string]perPairing[codes.Code]{
		"gzip": {
			goClientGoServer:   codes.OK,
			goClientOurServer:  codes.OK,
			ourClientGoServer:  codes.OK,
			ourClientOurServer: codes.OK,
		},
		"deflate": lacking,
		"zstd":    lacking,
		"snappy":  lacking,
	}
	matrix(t, func(t *testing.T, e *env) {
		for _, name := range []string{"gzip", "deflate", "zstd", "snappy"} {
			t.Run(name, func(t *testing.T) {
				w := want[name].of(t, e)
				r0, w0 := e.lis.read.Load(), e.lis.written.Load()
				resp, err := e.tc.UnaryCall(callCtx(t), &testpb.SimpleRequest{ResponseSize: size, Payload: payload(size)}, grpc.UseCompressor(name))
				read, written := e.lis.read.Load()-r0, e.lis.written.Load()-w0
				checkCode(t, err, w)
				if w != codes.OK {
					return
				}
				if n := len(resp.GetPayload().GetBody()); n != size || resp.Username != "10240" {
					t.Errorf("response of %d bytes for %s bytes, want %d for 10240", n, resp.Username, size)
				}
				if read > size/8 || written > size/8 {
					t.Errorf("the server read %d and wrote %d bytes, want under %d each (compressed both ways)", read, written, size/8)
				}
			})
		}
	})
}

// With gzip, which every stack has, the call succeeds on all four pairings
// and the server answers compressed (TestCompressorsGrpcGoLacks checks the
// bytes). What the server advertises, as grpc-go's client shows it in the
// response headers: grpc-go's server sends no grpc-accept-encoding, h2grpc's
// lists its decompressors on every response (doc/compression.md). h2grpc's
// client keeps the key to itself, so nothing more is checked there; the
// header keys are TestResponseMetadataKeys' business.
func TestGzipResponseAdvertises(t *testing.T) {
	const unchecked = "(not checked)"
	want := perPairing[string]{
		goClientGoServer:   "",
		goClientOurServer:  "gzip,deflate,zstd,snappy",
		ourClientGoServer:  unchecked,
		ourClientOurServer: unchecked,
	}
	matrix(t, func(t *testing.T, e *env) {
		w := want.of(t, e)
		var header metadata.MD
		resp, err := e.tc.UnaryCall(callCtx(t), &testpb.SimpleRequest{ResponseSize: 100, Payload: payload(100)},
			grpc.UseCompressor("gzip"), grpc.Header(&header))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(resp.GetPayload().GetBody()); n != 100 {
			t.Errorf("response of %d bytes, want 100", n)
		}
		if w == unchecked {
			return
		}
		var got string
		if v := header.Get("grpc-accept-encoding"); len(v) > 0 {
			got = v[0]
		}
		if got != w {
			t.Errorf("header grpc-accept-encoding %q, want %q", got, w)
		}
	})
}

// A deadline that passes while the handler takes its time: the handler
// (x-wait, x-linger) goes on for 200 ms after its context ended, as one
// that does not watch its context does. The client's deadline is 100 ms;
// the call ends DEADLINE_EXCEEDED on every pairing, and promptly: grpc-go's
// server waits for its handler and h2grpc's cuts the call short, but the
// client enforces its own deadline either way. The bound is generous.
func TestDeadlineWhileHandlerLingers(t *testing.T) {
	want := perPairing[codes.Code]{
		goClientGoServer:   codes.DeadlineExceeded,
		goClientOurServer:  codes.DeadlineExceeded,
		ourClientGoServer:  codes.DeadlineExceeded,
		ourClientOurServer: codes.DeadlineExceeded,
	}
	matrix(t, func(t *testing.T, e *env) {
		w := want.of(t, e)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		began := time.Now()
		_, err := e.tc.UnaryCall(outgoing(ctx, "x-wait", "1", "x-linger", "1"), &testpb.SimpleRequest{})
		took := time.Since(began)
		if w == codes.DeadlineExceeded {
			checkDeadlineExceeded(t, err) // the code, and grpc-go's text
		} else {
			checkCode(t, err, w)
		}
		if took > 5*time.Second {
			t.Errorf("the call returned after %v, want well under 5s", took)
		}
		select { // the handler has ended before the server stops
		case got := <-e.svc.ended:
			if !errors.Is(got.ctxErr, context.DeadlineExceeded) && !errors.Is(got.ctxErr, context.Canceled) {
				t.Errorf("the handler's context ended with %v, want DeadlineExceeded or Canceled", got.ctxErr)
			}
		case <-time.After(5 * time.Second):
			t.Error("the handler did not see its context end")
		}
	})
}
