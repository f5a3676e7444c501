package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // the compression cases
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/testdata"
)

// The server runs in-process through run, as the command would, and is
// called with grpc-go's client through grpc-go's generated stubs: the
// pairing `make interop` runs with grpc-go's interop client.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// listenLine captures run's stdout and hands over the address of the
// "interop server listening on" line.
type listenLine struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
}

func (w *listenLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	line, _, ok := strings.Cut(w.buf.String(), "\n")
	if addr, found := strings.CutPrefix(line, "interop server listening on "); ok && found {
		select {
		case w.addr <- addr:
		default:
		}
	}
	return len(p), nil
}

// launch runs the command with args (after --port=0) until ctx ends, and
// returns the loopback address it listens on and where run's error will
// arrive.
func launch(t *testing.T, ctx context.Context, stderr io.Writer, args ...string) (string, <-chan error) {
	t.Helper()
	out := &listenLine{addr: make(chan string, 1)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"--port=0"}, args...), out, stderr) }()
	select {
	case addr := <-out.addr:
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("the listening line has address %q: %v", addr, err)
		}
		return net.JoinHostPort("127.0.0.1", port), done
	case err := <-done:
		t.Fatalf("run ended before listening: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no listening line within 5s")
	}
	panic("unreachable")
}

// startServer launches the command until the test ends, then checks it
// stops cleanly.
func startServer(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // also when launch fails
	var stderr bytes.Buffer
	addr, done := launch(t, ctx, &stderr, args...)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v; stderr: %s", err, stderr.String())
		}
	})
	return addr
}

// dial returns a grpc-go connection to addr (h2c unless opts say
// otherwise), closed when the test ends.
func dial(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// client starts a server and returns a TestService client of it.
func client(t *testing.T, opts ...grpc.DialOption) testgrpc.TestServiceClient {
	t.Helper()
	return testgrpc.NewTestServiceClient(dial(t, startServer(t), opts...))
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func zeros(n int) *testgrpc.Payload { return &testgrpc.Payload{Body: make([]byte, n)} }

func checkPayload(t *testing.T, pl *testgrpc.Payload, size int) {
	t.Helper()
	if got := len(pl.GetBody()); got != size {
		t.Fatalf("payload of %d bytes, want %d", got, size)
	}
	if !bytes.Equal(pl.GetBody(), make([]byte, size)) {
		t.Fatal("payload is not all zeros")
	}
}

func checkCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("got %v (%v), want %v", got, err, want)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil || cfg != (config{port: 10000}) {
		t.Errorf("defaults: %+v, %v; want port 10000 and no TLS", cfg, err)
	}
	args := []string{"--port=0", "--use_tls", "--tls_cert_file=c.pem", "--tls_key_file=k.pem"}
	want := config{port: 0, useTLS: true, certFile: "c.pem", keyFile: "k.pem"}
	if cfg, err := parseFlags(args, io.Discard); err != nil || cfg != want {
		t.Errorf("parseFlags(%q) = %+v, %v; want %+v", args, cfg, err, want)
	}
	for _, args := range [][]string{
		{"--use_tls"},
		{"--use_tls", "--tls_cert_file=c.pem"},
		{"--use_tls", "--tls_key_file=k.pem"},
		{"--port=-1"},
		{"--port=65536"},
		{"--port=x"},
		{"--use_alts"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) succeeded", args)
		}
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

func TestRunErrors(t *testing.T) {
	ctx := testContext(t)
	var stdout bytes.Buffer
	missing := []string{"--port=0", "--use_tls", "--tls_cert_file=/nonexistent.pem", "--tls_key_file=/nonexistent.key"}
	if err := run(ctx, missing, &stdout, io.Discard); err == nil {
		t.Error("run with missing certificate files succeeded")
	}
	lis, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	_, port, _ := net.SplitHostPort(lis.Addr().String())
	if err := run(ctx, []string{"--port=" + port}, &stdout, io.Discard); err == nil {
		t.Error("run on a port in use succeeded")
	}
	if stdout.Len() != 0 {
		t.Errorf("a failed start printed %q", stdout.String())
	}
}

// TestTLS serves with grpc-go's test certificate, as the runner does.
func TestTLS(t *testing.T) {
	cert, key := testdata.Path("x509/server1_cert.pem"), testdata.Path("x509/server1_key.pem")
	addr := startServer(t, "--use_tls", "--tls_cert_file="+cert, "--tls_key_file="+key)
	ca, err := os.ReadFile(testdata.Path("x509/server_ca_cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("no certificate in server_ca_cert.pem")
	}
	// server1_cert.pem is for *.test.example.com.
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "foo.test.example.com"})
	tc := testgrpc.NewTestServiceClient(dial(t, addr, grpc.WithTransportCredentials(creds)))
	resp, err := tc.UnaryCall(testContext(t), &testgrpc.SimpleRequest{ResponseSize: 314159, Payload: zeros(271828)})
	if err != nil {
		t.Fatal(err)
	}
	checkPayload(t, resp.GetPayload(), 314159)

	// A client speaking h2c to it gets nowhere.
	plain := testgrpc.NewTestServiceClient(dial(t, addr))
	_, err = plain.EmptyCall(testContext(t), &testgrpc.Empty{})
	checkCode(t, err, codes.Unavailable)
}

// TestGracefulStop checks a call in progress when run is asked to stop
// still finishes, and a new connection is refused.
func TestGracefulStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := launch(t, ctx, io.Discard)
	tc := testgrpc.NewTestServiceClient(dial(t, addr))
	stream, err := tc.StreamingOutputCall(testContext(t), &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}, {Size: 2, IntervalUs: 300_000}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel() // SIGTERM
	r, err := stream.Recv()
	if err != nil {
		t.Fatalf("the call in progress: %v", err)
	}
	checkPayload(t, r.GetPayload(), 2)
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("after the responses: %v, want io.EOF", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the stopped server still accepts connections")
	}
}
