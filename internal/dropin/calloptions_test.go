package dropin_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers gzip, as a grpc-go program does
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The call options that change how a call runs: message size limits,
// content-subtype, compression, wait-for-ready.

// A message over grpc.MaxCallRecvMsgSize or grpc.MaxCallSendMsgSize ends
// the call with RESOURCE_EXHAUSTED and grpc-go's text; on a stream the
// failed Send ends the call, so Recv returns the same error.
func TestMaxCallMsgSize(t *testing.T) {
	matrix(t, func(t *testing.T, e *env) {
		// Sizes and limits as grpc-go counts them: the encoded message.
		const size, limit = 2048, 1024
		unaryResp := proto.Size(&testpb.SimpleResponse{Payload: payload(size), Username: "0"})
		unaryReq := proto.Size(&testpb.SimpleRequest{Payload: payload(size)})
		streamResp := proto.Size(&testpb.StreamingOutputCallResponse{Payload: payload(size)})
		streamReq := proto.Size(&testpb.StreamingOutputCallRequest{Payload: payload(size)})
		recvErr := func(n int) *status.Status {
			return status.New(codes.ResourceExhausted, fmt.Sprintf("grpc: received message larger than max (%d vs. %d)", n, limit))
		}
		sendErr := func(n int) *status.Status {
			return status.New(codes.ResourceExhausted, fmt.Sprintf("trying to send message larger than max (%d vs. %d)", n, limit))
		}

		t.Run("unary recv", func(t *testing.T) {
			_, err := e.tc.UnaryCall(callCtx(t), &testpb.SimpleRequest{ResponseSize: size}, grpc.MaxCallRecvMsgSize(limit))
			checkStatus(t, err, recvErr(unaryResp))
			if _, err := e.tc.UnaryCall(callCtx(t), &testpb.SimpleRequest{ResponseSize: size}, grpc.MaxCallRecvMsgSize(unaryResp)); err != nil {
				t.Errorf("a response of exactly the limit: %v", err)
			}
		})
		t.Run("unary send", func(t *testing.T) {
			_, err := e.tc.UnaryCall(callCtx(t), &testpb.SimpleRequest{Payload: payload(size)}, grpc.MaxCallSendMsgSize(limit))
			checkStatus(t, err, sendErr(unaryReq))
			if _, err := e.tc.UnaryCall(callCtx(t), &testpb.SimpleRequest{Payload: payload(size)}, grpc.MaxCallSendMsgSize(unaryReq)); err != nil {
				t.Errorf("a request of exactly the limit: %v", err)
			}
		})
		t.Run("stream recv", func(t *testing.T) {
			stream, err := e.tc.StreamingOutputCall(callCtx(t), &testpb.StreamingOutputCallRequest{
				ResponseParameters: []*testpb.ResponseParameters{{Size: 10}, {Size: size}},
			}, grpc.MaxCallRecvMsgSize(limit))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatalf("the small response: %v", err)
			}
			_, err = stream.Recv()
			checkStatus(t, err, recvErr(streamResp))
		})
		t.Run("stream send", func(t *testing.T) {
			stream, err := e.tc.FullDuplexCall(callCtx(t), grpc.MaxCallSendMsgSize(limit))
			if err != nil {
				t.Fatal(err)
			}
			err = stream.Send(&testpb.StreamingOutputCallRequest{Payload: payload(size)})
			checkStatus(t, err, sendErr(streamReq))
		})
		// grpc-go's failed SendMsg ends the call (RST_STREAM), and RecvMsg
		// returns the same error at once.
		t.Run("stream send over the limit ends the call", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			stream, err := e.tc.FullDuplexCall(ctx, grpc.MaxCallSendMsgSize(limit))
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: payload(size)}); status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("Send over the limit: %v", err)
			}
			_, err = stream.Recv()
			checkCode(t, err, codes.ResourceExhausted)
		})
	})
}

// jsonCodec is a codec registered the grpc-go way (encoding.RegisterCodec,
// the V1 interface): protobuf messages as protojson. It counts its uses,
// so a test can tell it ran.
type jsonCodec struct{}

var jsonUses atomic.Int64

func (jsonCodec) Name() string { return "json" }

func (jsonCodec) Marshal(v any) ([]byte, error) {
	jsonUses.Add(1)
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("json codec: %T is not a proto.Message", v)
	}
	return protojson.Marshal(m)
}

func (jsonCodec) Unmarshal(b []byte, v any) error {
	jsonUses.Add(1)
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("json codec: %T is not a proto.Message", v)
	}
	return protojson.Unmarshal(b, m)
}

func init() { encoding.RegisterCodec(jsonCodec{}) }

// grpc.CallContentSubtype("json") sends application/grpc+json, and both
// ends use the registered codec (TestResponseMetadataKeys checks the
// response's content-type); an
// unregistered subtype fails before sending with INTERNAL.
func TestCallContentSubtype(t *testing.T) {
	const ct = contentTypeJSON
	matrix(t, func(t *testing.T, e *env) {
		t.Run("unary", func(t *testing.T) {
			var trailer metadata.MD
			before := jsonUses.Load()
			resp, err := e.tc.UnaryCall(outgoing(callCtx(t)), &testpb.SimpleRequest{ResponseSize: 5, Payload: payload(3)},
				grpc.CallContentSubtype("json"), grpc.Trailer(&trailer))
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetPayload().GetBody()) != 5 || resp.Username != "3" {
				t.Errorf("response %v", resp)
			}
			if n := jsonUses.Load() - before; n < 4 {
				t.Errorf("the json codec ran %d times, want 4 (both ends, both ways)", n)
			}
			e.checkSeen(t, trailer, methodUnary, ct)
		})
		t.Run("stream", func(t *testing.T) {
			stream, err := e.tc.FullDuplexCall(outgoing(callCtx(t)), grpc.CallContentSubtype("json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 4}}}); err != nil {
				t.Fatal(err)
			}
			if resp, err := stream.Recv(); err != nil || len(resp.GetPayload().GetBody()) != 4 {
				t.Fatalf("Recv: %v, %v", resp, err)
			}
			stream.CloseSend()
			if _, err := stream.Recv(); err != io.EOF {
				t.Fatalf("Recv at the end: %v, want io.EOF", err)
			}
			e.checkSeen(t, stream.Trailer(), methodFullDuplex, ct)
		})
		t.Run("unregistered", func(t *testing.T) {
			_, err := e.tc.EmptyCall(callCtx(t), &testpb.Empty{}, grpc.CallContentSubtype("no-such-codec"))
			checkStatus(t, err, status.New(codes.Internal, "no codec registered for content-subtype no-such-codec"))
		})
	})
}

// grpc.UseCompressor("gzip") compresses the requests, and the server
// answers in kind: 64 KiB of zeros cross the wire as a few hundred bytes
// each way, where without it they cross as themselves. An unregistered
// compressor fails before sending with INTERNAL.
func TestUseCompressor(t *testing.T) {
	const size = 64 << 10
	matrix(t, func(t *testing.T, e *env) {
		// traffic runs call and returns what the server read and wrote
		// meanwhile.
		traffic := func(t *testing.T, call func() error) (read, written int64) {
			t.Helper()
			r0, w0 := e.lis.read.Load(), e.lis.written.Load()
			if err := call(); err != nil {
				t.Fatal(err)
			}
			return e.lis.read.Load() - r0, e.lis.written.Load() - w0
		}
		unary := func(opts ...grpc.CallOption) func() error {
			return func() error {
				resp, err := e.tc.UnaryCall(callCtx(t), &testpb.SimpleRequest{ResponseSize: size, Payload: payload(size)}, opts...)
				if err == nil && len(resp.GetPayload().GetBody()) != size {
					err = fmt.Errorf("response of %d bytes", len(resp.GetPayload().GetBody()))
				}
				return err
			}
		}
		t.Run("unary", func(t *testing.T) {
			if r, w := traffic(t, unary()); r < size || w < size {
				t.Fatalf("uncompressed: the server read %d and wrote %d bytes, want over %d each (is the counting broken?)", r, w, size)
			}
			if r, w := traffic(t, unary(grpc.UseCompressor("gzip"))); r > size/8 || w > size/8 {
				t.Errorf("gzip: the server read %d and wrote %d bytes, want under %d each", r, w, size/8)
			}
		})
		t.Run("stream", func(t *testing.T) {
			r, w := traffic(t, func() error {
				stream, err := e.tc.FullDuplexCall(callCtx(t), grpc.UseCompressor("gzip"))
				if err != nil {
					return err
				}
				for range 3 {
					if err := stream.Send(&testpb.StreamingOutputCallRequest{
						Payload:            payload(size),
						ResponseParameters: []*testpb.ResponseParameters{{Size: size}},
					}); err != nil {
						return err
					}
					resp, err := stream.Recv()
					if err != nil {
						return err
					}
					if len(resp.GetPayload().GetBody()) != size {
						return fmt.Errorf("response of %d bytes", len(resp.GetPayload().GetBody()))
					}
				}
				stream.CloseSend()
				if _, err := stream.Recv(); err != io.EOF {
					return fmt.Errorf("Recv at the end: %v, want io.EOF", err)
				}
				return nil
			})
			if r > size/4 || w > size/4 {
				t.Errorf("gzip: the server read %d and wrote %d bytes for 3 × 64 KiB each way, want under %d each", r, w, size/4)
			}
		})
		t.Run("unregistered", func(t *testing.T) {
			_, err := e.tc.EmptyCall(callCtx(t), &testpb.Empty{}, grpc.UseCompressor("no-such-compressor"))
			checkStatus(t, err, status.New(codes.Internal, `grpc: Compressor is not installed for requested grpc-encoding "no-such-compressor"`))
		})
	})
}

// grpc.WaitForReady: with nothing listening, a call that does not wait
// fails at once with UNAVAILABLE; one that waits, made while nothing
// listens, succeeds once the server is back on the same address, within
// its deadline. The connection is made first, against a listening server
// (h2grpc's client.Dial connects before it returns), which then stops.
func TestWaitForReady(t *testing.T) {
	for _, p := range pairings {
		t.Run(p.name(), func(t *testing.T) {
			t.Parallel()
			register := func(r grpc.ServiceRegistrar) { testpb.RegisterTestServiceServer(r, newTestService()) }
			lis := listen(t, "127.0.0.1:0")
			addr := lis.Addr().String()
			stop := p.server.serve(t, lis, register)
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					stop()
				}
			})
			tc := testpb.NewTestServiceClient(p.client.dial(t, addr))
			if _, err := tc.EmptyCall(callCtx(t), &testpb.Empty{}); err != nil {
				t.Fatalf("first call: %v", err)
			}
			stop()
			stopped = true

			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			began := time.Now()
			_, err := tc.EmptyCall(ctx, &testpb.Empty{})
			checkCode(t, err, codes.Unavailable)
			if d := time.Since(began); d > 2*time.Second {
				t.Errorf("the fail-fast call took %v", d)
			}
			_, err = tc.EmptyCall(ctx, &testpb.Empty{}, grpc.WaitForReady(false))
			checkCode(t, err, codes.Unavailable)

			done := make(chan error, 1)
			go func() {
				_, err := tc.EmptyCall(ctx, &testpb.Empty{}, grpc.WaitForReady(true))
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("the waiting call returned while nothing listened: %v", err)
			case <-time.After(300 * time.Millisecond):
			}
			lis2, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("listening again on %s: %v", addr, err)
			}
			t.Cleanup(p.server.serve(t, lis2, register))
			if err := <-done; err != nil {
				t.Errorf("the waiting call: %v", err)
			}
			if d := time.Since(began); d > 8*time.Second {
				t.Errorf("the waiting call took %v", d)
			}
		})
	}
}
