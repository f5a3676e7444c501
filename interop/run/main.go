// Command run is `make interop`: it builds h2grpc's interop server and
// client and grpc-go's (at the version given, from the module proxy),
// starts every server on a free loopback port, runs every case in every
// direction over h2c and TLS, prints a table and exits non-zero on any
// failure. It stops every process it started.
//
// The directions: grpc-go's client against h2grpc's server, h2grpc's
// client against grpc-go's server, and h2grpc against itself, which also
// runs the compression cases grpc-go's client does not have.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// The cases both clients have, in the order of interop-test-descriptions.md.
var commonCases = []string{
	"empty_unary", "large_unary", "client_streaming", "server_streaming",
	"ping_pong", "empty_stream", "timeout_on_sleeping_server",
	"cancel_after_begin", "cancel_after_first_response",
	"status_code_and_message", "special_status_message", "custom_metadata",
	"unimplemented_method", "unimplemented_service", "rpc_soak", "channel_soak",
}

// compressionCases only h2grpc's client runs: grpc-go's has none.
var compressionCases = []string{
	"client_compressed_unary", "server_compressed_unary",
	"client_compressed_streaming", "server_compressed_streaming",
}

// The TLS host name grpc-go's test certificate (testdata/server1.pem)
// holds, as the interop tests use it.
const hostOverride = "foo.test.google.fr"

type impl string

const (
	ours   impl = "h2grpc"
	grpcGo impl = "grpc-go"
)

// run is one client process: a case, from one client to one server.
type run struct {
	client, server impl
	tls            bool
	testCase       string

	ok     bool
	took   time.Duration
	output string
}

func (r *run) column() string {
	t := "h2c"
	if r.tls {
		t = "tls"
	}
	return fmt.Sprintf("%s→%s %s", r.client, r.server, t)
}

func main() {
	grpcVersion := flag.String("grpc-go-version", "v1.85.0", "grpc-go version whose interop peers to run")
	dir := flag.String("dir", ".tmp/interop", "where to build the binaries")
	cases := flag.String("cases", "", "comma-separated cases to run (default: all)")
	flag.Parse()
	if err := mainErr(*grpcVersion, *dir, *cases); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
}

func mainErr(grpcVersion, dir, only string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	bins, err := build(ctx, dir, grpcVersion)
	if err != nil {
		return err
	}
	certs, err := grpcTestdata(ctx)
	if err != nil {
		return err
	}

	var procs processes
	defer procs.stopAll()
	ports := map[string]int{} // impl/transport → port
	for _, s := range []impl{ours, grpcGo} {
		for _, tls := range []bool{false, true} {
			port, err := procs.startServer(ctx, bins[s+"-server"], tls, certs)
			if err != nil {
				return fmt.Errorf("starting %s server: %w", s, err)
			}
			ports[key(s, tls)] = port
		}
	}

	var runs []*run
	add := func(c, s impl, cases []string) {
		for _, tls := range []bool{false, true} {
			for _, tc := range cases {
				if only == "" || strings.Contains(","+only+",", ","+tc+",") {
					runs = append(runs, &run{client: c, server: s, tls: tls, testCase: tc})
				}
			}
		}
	}
	add(grpcGo, ours, commonCases)
	add(ours, grpcGo, commonCases)
	add(ours, ours, append(append([]string(nil), commonCases...), compressionCases...))

	// One worker per column: the cases of a pairing run one after the
	// other, the pairings side by side.
	byColumn := map[string][]*run{}
	var columns []string
	for _, r := range runs {
		if _, ok := byColumn[r.column()]; !ok {
			columns = append(columns, r.column())
		}
		byColumn[r.column()] = append(byColumn[r.column()], r)
	}
	var wg sync.WaitGroup
	for _, col := range columns {
		wg.Go(func() {
			for _, r := range byColumn[col] {
				if ctx.Err() != nil {
					r.output = "interrupted"
					continue
				}
				r.exec(ctx, bins[r.client+"-client"], ports[key(r.server, r.tls)], certs)
			}
		})
	}
	wg.Wait()
	return report(runs, columns)
}

func key(s impl, tls bool) string { return fmt.Sprintf("%s/%v", s, tls) }

// build builds h2grpc's interop binaries from this module and installs
// grpc-go's at version from the module proxy.
func build(ctx context.Context, dir, version string) (map[impl]string, error) {
	bins := map[impl]string{}
	for _, side := range []string{"server", "client"} {
		out := filepath.Join(dir, "h2grpc-"+side)
		if err := goCmd(ctx, nil, "build", "-o", out, "./interop/"+side); err != nil {
			return nil, err
		}
		bins[ours+"-"+impl(side)] = out

		gobin := filepath.Join(dir, "grpc-go-"+version, side)
		env := []string{"GOBIN=" + gobin}
		if err := goCmd(ctx, env, "install", "google.golang.org/grpc/interop/"+side+"@"+version); err != nil {
			return nil, err
		}
		bins[grpcGo+"-"+impl(side)] = filepath.Join(gobin, side)
	}
	return bins, nil
}

func goCmd(ctx context.Context, env []string, args ...string) error {
	fmt.Fprintln(os.Stderr, "go", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// testCerts are grpc-go's interop certificates, read where the module
// cache keeps grpc-go's source, never copied into this repository.
type testCerts struct{ ca, cert, key string }

func grpcTestdata(ctx context.Context) (testCerts, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/grpc").Output()
	if err != nil {
		return testCerts{}, fmt.Errorf("locating grpc-go's source: %w", err)
	}
	d := filepath.Join(strings.TrimSpace(string(out)), "testdata")
	c := testCerts{ca: filepath.Join(d, "ca.pem"), cert: filepath.Join(d, "server1.pem"), key: filepath.Join(d, "server1.key")}
	for _, f := range []string{c.ca, c.cert, c.key} {
		if _, err := os.Stat(f); err != nil {
			return testCerts{}, err
		}
	}
	return c, nil
}

// processes are the servers started, stopped at the end whatever happens.
type processes struct {
	mu   sync.Mutex
	cmds []*exec.Cmd
	logs []*bytes.Buffer
}

func (p *processes) startServer(ctx context.Context, bin string, tls bool, certs testCerts) (int, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	args := []string{"--port=" + strconv.Itoa(port)}
	if tls {
		args = append(args, "--use_tls", "--tls_cert_file="+certs.cert, "--tls_key_file="+certs.key)
	}
	cmd := exec.Command(bin, args...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	p.mu.Lock()
	p.cmds = append(p.cmds, cmd)
	p.logs = append(p.logs, &log)
	p.mu.Unlock()
	// Ready once it accepts connections.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("localhost", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			return port, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("%s %v not listening on %d: %v", bin, args, port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *processes) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cmd := range p.cmds {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	for _, cmd := range p.cmds {
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// caseTimeout bounds one client process; the soak cases take longest.
const caseTimeout = 2 * time.Minute

func (r *run) exec(ctx context.Context, bin string, port int, certs testCerts) {
	ctx, cancel := context.WithTimeout(ctx, caseTimeout)
	defer cancel()
	args := []string{"--server_host=localhost", "--server_port=" + strconv.Itoa(port), "--test_case=" + r.testCase}
	if r.tls {
		args = append(args, "--use_tls", "--use_test_ca", "--ca_file="+certs.ca, "--server_host_override="+hostOverride)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r.took = time.Since(start)
	r.ok = err == nil
	r.output = strings.TrimSpace(out.String())
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		r.output += fmt.Sprintf("\n(killed after %v)", caseTimeout)
	}
}

// report prints the table (case × column) and the output of each failure.
func report(runs []*run, columns []string) error {
	cells := map[string]map[string]*run{}
	var cases []string
	for _, r := range runs {
		if cells[r.testCase] == nil {
			cells[r.testCase] = map[string]*run{}
			cases = append(cases, r.testCase)
		}
		cells[r.testCase][r.column()] = r
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "case\t"+strings.Join(columns, "\t")+"\t\n")
	failed := 0
	for _, tc := range cases {
		fmt.Fprint(tw, tc+"\t")
		for _, col := range columns {
			r := cells[tc][col]
			switch {
			case r == nil:
				fmt.Fprint(tw, "—\t")
			case r.ok:
				fmt.Fprintf(tw, "pass %s\t", r.took.Round(time.Millisecond))
			default:
				failed++
				fmt.Fprintf(tw, "FAIL %s\t", r.took.Round(time.Millisecond))
			}
		}
		fmt.Fprint(tw, "\n")
	}
	tw.Flush()
	fmt.Printf("\n%d runs, %d failed. — : the client has no such case (grpc-go's client has no compression cases).\n", len(runs), failed)
	for _, r := range runs {
		if !r.ok {
			fmt.Printf("\nFAIL %s %s:\n%s\n", r.column(), r.testCase, indent(r.output))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d runs failed", failed, len(runs))
	}
	return nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
