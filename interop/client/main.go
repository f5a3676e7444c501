package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/testdata"

	"github.com/h2grpc/h2grpc/client"
)

// caseTimeout bounds each case but the soaks, which get their overall
// timeout on top of it.
const caseTimeout = 30 * time.Second

// giveUpAfter is how long the runner still waits for a case whose context
// has ended before it reports it as stuck and goes on to the next one.
const giveUpAfter = 5 * time.Second

// config is what the flags say.
type config struct {
	serverHost   string
	hostOverride string // TLS server name and :authority
	serverPort   int
	testCases    string // one case, a comma-separated list, or "all"
	useTLS       bool
	useTestCA    bool
	caFile       string
	soak         soakConfig
}

// parseFlags reads grpc-go's interop client flags (those the runner
// passes) from args, with grpc-go's defaults.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var (
		cfg                                         config
		soakLatencyMs, soakTimeoutS, soakIntervalMs int
	)
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.serverHost, "server_host", "localhost", "The server host name")
	fs.StringVar(&cfg.hostOverride, "server_host_override", "", "The server name used to verify the TLS handshake and sent as :authority, if not empty; else --server_host is used")
	fs.IntVar(&cfg.serverPort, "server_port", 10000, "The server port number (0: --server_host alone is the target)")
	fs.StringVar(&cfg.testCases, "test_case", "large_unary", "The case to run, a comma-separated list of cases, or \"all\": "+strings.Join(caseNames(), ", "))
	fs.BoolVar(&cfg.useTLS, "use_tls", false, "Connection uses TLS if true")
	fs.BoolVar(&cfg.useTestCA, "use_test_ca", false, "Whether to replace platform root CAs with the test CA (--ca_file) as the CA root")
	fs.StringVar(&cfg.caFile, "ca_file", "", "The file containing the CA root cert file (default: grpc-go's testdata/ca.pem)")
	fs.IntVar(&cfg.soak.iterations, "soak_iterations", 10, "The number of iterations to use for the two soak tests: rpc_soak and channel_soak")
	fs.IntVar(&cfg.soak.maxFailures, "soak_max_failures", 0, "The number of iterations in soak tests that are allowed to fail (either due to non-OK status code or exceeding the per-iteration max acceptable latency)")
	fs.IntVar(&soakLatencyMs, "soak_per_iteration_max_acceptable_latency_ms", 1000, "The number of milliseconds a single iteration in the two soak tests (rpc_soak and channel_soak) should take")
	fs.IntVar(&soakTimeoutS, "soak_overall_timeout_seconds", 10, "The overall number of seconds after which a soak test should stop and fail, if the desired number of iterations have not yet completed")
	fs.IntVar(&soakIntervalMs, "soak_min_time_ms_between_rpcs", 0, "The minimum time in milliseconds between consecutive RPCs in a soak test (rpc_soak or channel_soak), useful for limiting QPS")
	fs.IntVar(&cfg.soak.requestSize, "soak_request_size", 271828, "The request size in a soak RPC")
	fs.IntVar(&cfg.soak.responseSize, "soak_response_size", 314159, "The response size in a soak RPC")
	fs.IntVar(&cfg.soak.threads, "soak_num_threads", 1, "The number of threads for concurrent execution of the soak tests (rpc_soak or channel_soak)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments: %q", fs.Args())
		fmt.Fprintln(stderr, err)
		return config{}, err
	}
	cfg.soak.maxLatency = time.Duration(soakLatencyMs) * time.Millisecond
	cfg.soak.overallTimeout = time.Duration(soakTimeoutS) * time.Second
	cfg.soak.minInterval = time.Duration(soakIntervalMs) * time.Millisecond
	return cfg, nil
}

// target is the address dialled, as grpc-go's client makes it.
func (cfg *config) target() string {
	if cfg.serverPort == 0 {
		return cfg.serverHost
	}
	return net.JoinHostPort(cfg.serverHost, strconv.Itoa(cfg.serverPort))
}

// dialOptions turns the transport flags into Conn options. With TLS,
// --server_host_override is the TLS server name, which the Conn also takes
// as its :authority; without, it is the :authority alone, as the interop
// descriptions say of the flag.
func (cfg *config) dialOptions() ([]client.Option, error) {
	opts := []client.Option{client.DialTimeout(10 * time.Second)}
	if !cfg.useTLS {
		if cfg.hostOverride != "" {
			opts = append(opts, client.WithAuthority(cfg.hostOverride))
		}
		return opts, nil
	}
	tc := &tls.Config{ServerName: cfg.hostOverride}
	if cfg.useTestCA {
		file := cfg.caFile
		if file == "" {
			file = testdata.Path("ca.pem") // grpc-go's client does the same
		}
		pem, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading the CA: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in the CA file %s", file)
		}
	}
	return append(opts, client.WithTLS(tc)), nil
}

// selectCases resolves --test_case: a name, a comma-separated list of
// names, or "all" (every case, in the order of the cases table). An
// unknown name is returned as a case without run, which fails.
func selectCases(spec string) []testCase {
	var out []testCase
	for name := range strings.SplitSeq(spec, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
		case name == "all":
			out = append(out, cases...)
		default:
			c, ok := caseNamed(name)
			if !ok {
				c = testCase{name: name} // no run: unknown
			}
			out = append(out, c)
		}
	}
	return out
}

// run runs the selected cases one after the other, each on a Conn of its
// own, and prints a line per case to stdout. It reports whether all
// passed.
func run(cfg config, stdout, stderr io.Writer) bool {
	selected := selectCases(cfg.testCases)
	if len(selected) == 0 {
		fmt.Fprintf(stdout, "FAIL %s: no test case selected\n", cfg.testCases)
		return false
	}
	// Soak workers log concurrently, and a stuck case may still log
	// while the next runs.
	stderr = &lockedWriter{w: stderr}
	opts, optErr := cfg.dialOptions()
	ok := true
	for _, tc := range selected {
		var (
			elapsed time.Duration
			err     = optErr
		)
		switch {
		case tc.run == nil:
			err = fmt.Errorf("unknown test case (known: all, %s)", strings.Join(caseNames(), ", "))
		case err == nil:
			elapsed, err = runCase(tc, &cfg, opts, stderr)
		}
		if err != nil {
			ok = false
			fmt.Fprintf(stdout, "FAIL %s: %s\n", tc.name, oneLine(err))
			continue
		}
		fmt.Fprintf(stdout, "PASS %s %v\n", tc.name, elapsed.Round(time.Millisecond))
	}
	return ok
}

// runCase runs one case under its timeout, with a Conn dialled for it. A
// case that panics fails; one that does not return soon after its context
// ends fails too, and is left behind so the others can run.
func runCase(tc testCase, cfg *config, opts []client.Option, stderr io.Writer) (time.Duration, error) {
	timeout := caseTimeout
	if tc.soak {
		timeout += cfg.soak.overallTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- dialAndRun(ctx, tc, cfg, opts, stderr)
	}()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-ctx.Done():
	}
	stuck := time.NewTimer(giveUpAfter)
	defer stuck.Stop()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-stuck.C:
		return time.Since(start), fmt.Errorf("still running %v after its timeout of %v", giveUpAfter, timeout)
	}
}

// dialAndRun dials the Conn a case runs on and runs it.
func dialAndRun(ctx context.Context, tc testCase, cfg *config, opts []client.Option, stderr io.Writer) error {
	target := cfg.target()
	dial := func() (*client.Conn, error) {
		conn, err := client.Dial(target, opts...)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", target, err)
		}
		return conn, nil
	}
	conn, err := dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	return tc.run(ctx, &env{conn: conn, dial: dial, soak: cfg.soak, log: stderr, target: target})
}

// lockedWriter makes writes to w one at a time.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// oneLine keeps a reason on its line: the special status message, for
// one, holds line breaks.
func oneLine(err error) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(err.Error())
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		// The flag set has said what is wrong, with the usage.
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if !run(cfg, os.Stdout, os.Stderr) {
		os.Exit(1)
	}
}
