package main

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // grpc-go's server reads gzip requests
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/testdata"

	"github.com/h2grpc/h2grpc/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The cases grpc-go's interop server cannot pass, and why: it ignores
// expect_compressed and response_compressed (interop/test_utils.go in
// v1.85.0 reads neither), and grpc-go's handler API can neither see a
// request's compressed flag nor set a response's. They run here against
// compressionService on h2grpc's server instead
// (TestCompressionCasesAgainstAPeerWithTheFeatures), and against h2grpc's
// interop server in `make interop`.
var grpcGoCannotPass = map[string]string{
	"client_compressed_unary":     "grpc-go's interop server ignores expect_compressed, so the probe gets OK instead of INVALID_ARGUMENT",
	"server_compressed_unary":     "grpc-go's interop server ignores response_compressed",
	"client_compressed_streaming": "grpc-go's interop server ignores expect_compressed, so the probe gets OK instead of INVALID_ARGUMENT",
	"server_compressed_streaming": "grpc-go's interop server ignores the response parameters' compressed",
}

// authorities records the :authority of each call a server received.
type authorities struct {
	mu   sync.Mutex
	seen []string
}

func (a *authorities) record(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	a.mu.Lock()
	a.seen = append(a.seen, md[":authority"]...)
	a.mu.Unlock()
}

func (a *authorities) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.seen)
}

// serveGRPCGo serves grpcGoTestService on grpc-go's server on a loopback
// port until the test ends, h2c unless opts give credentials. It returns
// the port and what :authority the calls came with.
func serveGRPCGo(t *testing.T, opts ...grpc.ServerOption) (int, *authorities) {
	t.Helper()
	auth := new(authorities)
	opts = append(opts,
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			auth.record(ctx)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			auth.record(ss.Context())
			return h(srv, ss)
		}))
	s := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(s, grpcGoTestService())
	lis := listen(t)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().(*net.TCPAddr).Port, auth
}

// serveCompressionPeer serves compressionService on h2grpc's server on a
// loopback port until the test ends, h2c, and returns the port.
func serveCompressionPeer(t *testing.T) int {
	t.Helper()
	s := server.New()
	testpb.RegisterTestServiceServer(s, compressionService{})
	lis := listen(t)
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-served
	})
	return lis.Addr().(*net.TCPAddr).Port
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// runClient runs the client as the command line args would, and returns
// its stdout and whether it would exit 0. Its stderr goes to the test log
// when the test fails.
func runClient(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cfg, err := parseFlags(args, &stderr)
	if err != nil {
		t.Fatalf("parseFlags(%q): %v\n%s", args, err, stderr.String())
	}
	ok := run(cfg, &stdout, &stderr)
	t.Cleanup(func() {
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("client stderr:\n%s", stderr.String())
		}
	})
	return stdout.String(), ok
}

// localArgs are the flags for a server on 127.0.0.1:port, with a short
// soak.
func localArgs(port int, testCase string, more ...string) []string {
	return append([]string{
		"--server_host=127.0.0.1",
		"--server_port=" + strconv.Itoa(port),
		"--test_case=" + testCase,
		"--soak_iterations=3",
	}, more...)
}

// wantPass checks that out has a PASS line for each of names, in order,
// and nothing else.
func wantPass(t *testing.T, out string, ok bool, names ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !ok || len(lines) != len(names) {
		t.Fatalf("want PASS for %q (exit 0), got (exit 0: %v):\n%s", names, ok, out)
	}
	for i, name := range names {
		f := strings.Fields(lines[i])
		if len(f) != 3 || f[0] != "PASS" || f[1] != name {
			t.Errorf("line %d = %q, want PASS %s <duration>", i, lines[i], name)
		}
	}
}

// wantFail checks that out is one FAIL line for name whose reason holds
// reason.
func wantFail(t *testing.T, out string, ok bool, name, reason string) {
	t.Helper()
	prefix := "FAIL " + name + ": "
	if ok || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, prefix) || !strings.Contains(out, reason) {
		t.Fatalf("want one line %q...%q and exit 1, got (exit 0: %v):\n%s", prefix, reason, ok, out)
	}
}

// TestCasesAgainstGRPCGoServer runs every case against grpc-go's server
// serving the TestService of grpc-go's interop server, over h2c.
func TestCasesAgainstGRPCGoServer(t *testing.T) {
	port, _ := serveGRPCGo(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if reason, skip := grpcGoCannotPass[c.name]; skip {
				t.Skip(reason)
			}
			out, ok := runClient(t, localArgs(port, c.name)...)
			wantPass(t, out, ok, c.name)
		})
	}
}

// TestCompressionCasesAgainstAPeerWithTheFeatures runs the compression
// cases against a server that implements CompressedRequest and
// CompressedResponse.
func TestCompressionCasesAgainstAPeerWithTheFeatures(t *testing.T) {
	port := serveCompressionPeer(t)
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range grpcGoCannotPass {
			if !yield(name) {
				return
			}
		}
	})
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			out, ok := runClient(t, localArgs(port, name)...)
			wantPass(t, out, ok, name)
		})
	}
}

// TestCompressionCasesFailWithoutTheFeatures shows the compression cases
// assert what they should: against grpc-go's interop server, which lacks
// the features, each fails, saying why.
func TestCompressionCasesFailWithoutTheFeatures(t *testing.T) {
	port, _ := serveGRPCGo(t)
	for name, reason := range map[string]string{
		"client_compressed_unary":     "probe (expect_compressed=true, sent uncompressed): succeeded, want INVALID_ARGUMENT",
		"server_compressed_unary":     "UnaryCall (response_compressed=true): the response's compressed flag is false, want true",
		"client_compressed_streaming": "probe (expect_compressed=true, sent uncompressed): succeeded, want INVALID_ARGUMENT",
		"server_compressed_streaming": "StreamingOutputCall response 0 (compressed=true): the response's compressed flag is false, want true",
	} {
		t.Run(name, func(t *testing.T) {
			out, ok := runClient(t, localArgs(port, name)...)
			wantFail(t, out, ok, name, reason)
		})
	}
}

// TestTLSWithHostOverride runs cases over TLS with grpc-go's test
// certificates, as the runner does: the server's certificate is for
// *.test.google.fr, so the handshake passes only with the override, which
// is also the :authority.
func TestTLSWithHostOverride(t *testing.T) {
	creds, err := credentials.NewServerTLSFromFile(testdata.Path("server1.pem"), testdata.Path("server1.key"))
	if err != nil {
		t.Fatal(err)
	}
	port, auth := serveGRPCGo(t, grpc.Creds(creds))
	tlsArgs := []string{"--use_tls", "--use_test_ca", "--ca_file=" + testdata.Path("ca.pem"), "--server_host_override=foo.test.google.fr"}

	names := []string{"empty_unary", "large_unary", "ping_pong", "custom_metadata", "channel_soak"}
	out, ok := runClient(t, localArgs(port, strings.Join(names, ","), tlsArgs...)...)
	wantPass(t, out, ok, names...)
	seen := auth.all()
	if len(seen) == 0 || slices.ContainsFunc(seen, func(a string) bool { return a != "foo.test.google.fr" }) {
		t.Errorf("the server saw :authority %q, want only foo.test.google.fr", seen)
	}

	t.Run("default CA", func(t *testing.T) {
		// Without --ca_file, grpc-go's testdata/ca.pem, as grpc-go's client.
		out, ok := runClient(t, localArgs(port, "large_unary", "--use_tls", "--use_test_ca", "--server_host_override=foo.test.google.fr")...)
		wantPass(t, out, ok, "large_unary")
	})
	t.Run("wrong name", func(t *testing.T) {
		out, ok := runClient(t, localArgs(port, "empty_unary", "--use_tls", "--use_test_ca", "--server_host_override=wrong.example.com")...)
		wantFail(t, out, ok, "empty_unary", "certificate")
	})
	t.Run("h2c client", func(t *testing.T) {
		// The TLS server drops the h2c preface.
		out, ok := runClient(t, localArgs(port, "empty_unary")...)
		wantFail(t, out, ok, "empty_unary", "Unavailable")
	})
}

// TestHostOverrideWithoutTLS: the override is the :authority on h2c too.
func TestHostOverrideWithoutTLS(t *testing.T) {
	port, auth := serveGRPCGo(t)
	out, ok := runClient(t, localArgs(port, "empty_unary,ping_pong", "--server_host_override=foo.test.google.fr")...)
	wantPass(t, out, ok, "empty_unary", "ping_pong")
	if seen := auth.all(); !slices.Equal(seen, []string{"foo.test.google.fr", "foo.test.google.fr"}) {
		t.Errorf("the server saw :authority %q, want foo.test.google.fr twice", seen)
	}
}

func TestSoakLimits(t *testing.T) {
	port, _ := serveGRPCGo(t)
	// The cases that are to pass do not test the latency bound (the
	// default, 1 s per iteration, is exceeded by a large unary call
	// under -race on a loaded 2-core machine): theirs is a minute.
	const slack = "--soak_per_iteration_max_acceptable_latency_ms=60000"
	for _, tc := range []struct {
		name   string
		args   []string
		reason string // "" for PASS
	}{
		{"four threads", []string{"--soak_iterations=6", "--soak_num_threads=4", slack}, ""},
		{"every iteration too slow", []string{"--soak_per_iteration_max_acceptable_latency_ms=0"}, "3 of 3 iterations failed, more than --soak_max_failures=0"},
		{"failures allowed", []string{"--soak_per_iteration_max_acceptable_latency_ms=0", "--soak_max_failures=3"}, ""},
		{"no time", []string{"--soak_overall_timeout_seconds=0"}, "ran 0 of 3 iterations within the overall timeout of 0s"},
		{"small messages, spaced", []string{"--soak_request_size=10", "--soak_response_size=20", "--soak_min_time_ms_between_rpcs=20", slack}, ""},
	} {
		for _, name := range []string{"rpc_soak", "channel_soak"} {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				out, ok := runClient(t, localArgs(port, name, tc.args...)...)
				if tc.reason == "" {
					wantPass(t, out, ok, name)
				} else {
					wantFail(t, out, ok, name, tc.reason)
				}
			})
		}
	}
}

func TestDialFailureFailsEveryCase(t *testing.T) {
	lis := listen(t)
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close() // nothing listens there now
	out, ok := runClient(t, localArgs(port, "empty_unary,large_unary")...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if ok || len(lines) != 2 || !strings.HasPrefix(lines[0], "FAIL empty_unary: dial ") || !strings.HasPrefix(lines[1], "FAIL large_unary: dial ") {
		t.Fatalf("want both cases to fail to dial, got (exit 0: %v):\n%s", ok, out)
	}
}

func TestSelectCases(t *testing.T) {
	names := func(cs []testCase) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.name)
		}
		return out
	}
	all := []string{
		"empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong", "empty_stream",
		"timeout_on_sleeping_server", "cancel_after_begin", "cancel_after_first_response",
		"status_code_and_message", "special_status_message", "custom_metadata",
		"unimplemented_method", "unimplemented_service", "rpc_soak", "channel_soak",
		"client_compressed_unary", "server_compressed_unary", "client_compressed_streaming", "server_compressed_streaming",
	}
	for spec, want := range map[string][]string{
		"all":                          all,
		"large_unary":                  {"large_unary"},
		" ping_pong , empty_unary,":    {"ping_pong", "empty_unary"},
		"empty_unary,nope":             {"empty_unary", "nope"},
		"":                             nil,
		"rpc_soak,channel_soak,,":      {"rpc_soak", "channel_soak"},
		"server_compressed_streaming ": {"server_compressed_streaming"},
	} {
		if got := names(selectCases(spec)); !slices.Equal(got, want) {
			t.Errorf("selectCases(%q) = %q, want %q", spec, got, want)
		}
	}

	// An unknown case fails without dialling: nothing listens here.
	out, ok := runClient(t, "--test_case=nope")
	wantFail(t, out, ok, "nope", "unknown test case")
	out, ok = runClient(t, "--test_case=,")
	wantFail(t, out, ok, ",", "no test case selected")
}

func TestFlagDefaults(t *testing.T) {
	cfg, err := parseFlags(nil, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		serverHost: "localhost",
		serverPort: 10000,
		testCases:  "large_unary",
		soak: soakConfig{
			iterations:     10,
			maxFailures:    0,
			maxLatency:     time.Second,
			overallTimeout: 10 * time.Second,
			minInterval:    0,
			requestSize:    271828,
			responseSize:   314159,
			threads:        1,
		},
	}
	if cfg != want {
		t.Errorf("defaults = %+v, want %+v", cfg, want)
	}
	if got := cfg.target(); got != "localhost:10000" {
		t.Errorf("target = %q, want localhost:10000", got)
	}
	if _, err := parseFlags([]string{"extra"}, new(bytes.Buffer)); err == nil {
		t.Error("a positional argument was accepted")
	}
}

func TestUnreadableCAFailsEveryCase(t *testing.T) {
	out, ok := runClient(t, "--use_tls", "--use_test_ca", "--ca_file=/nonexistent/ca.pem", "--test_case=empty_unary,large_unary")
	if ok || out != "FAIL empty_unary: reading the CA: open /nonexistent/ca.pem: no such file or directory\n"+
		"FAIL large_unary: reading the CA: open /nonexistent/ca.pem: no such file or directory\n" {
		t.Fatalf("got (exit 0: %v):\n%s", ok, out)
	}
}
