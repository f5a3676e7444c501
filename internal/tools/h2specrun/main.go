package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/h2grpc/h2grpc/internal/tlstest"
	"github.com/h2grpc/h2grpc/server"
)

func main() {
	bin := flag.String("h2spec", ".tmp/bin/h2spec", "the h2spec binary")
	timeout := flag.Int("case-timeout", 2, "h2spec's timeout per case, in seconds (its -o)")
	verbose := flag.Bool("v", false, "run h2spec verbosely")
	flag.Parse()
	if _, err := os.Stat(*bin); err != nil {
		fmt.Fprintf(os.Stderr, "h2specrun: %v; build it with\n\tgo build -C internal/tools/h2spec -o %s github.com/summerwind/h2spec/cmd/h2spec\n", err, *bin)
		os.Exit(2)
	}
	if err := run(*bin, *timeout, *verbose, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "h2specrun:", err)
		os.Exit(1)
	}
}

// run serves both variants and checks each; it fails if either failed.
func run(bin string, timeout int, verbose bool, specs []string) error {
	var failed []string
	for _, tlsOn := range []bool{false, true} {
		name := "h2c"
		if tlsOn {
			name = "TLS"
		}
		res, err := check(bin, tlsOn, timeout, verbose, specs)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("h2spec --strict over %s: %d cases, %d passed, %d skipped, %d failed\n\n",
			name, res.total, res.passed, res.skipped, res.failed)
		if res.passed != res.total || res.skipped+res.failed > 0 || (len(specs) == 0 && res.total != allCases) {
			failed = append(failed, name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("h2spec did not pass every case over %v", failed)
	}
	return nil
}

type result struct{ total, passed, skipped, failed int }

// allCases is how many cases h2spec v2.2.1 runs with --strict: a run of
// all of them that reports fewer did not run them all.
const allCases = 146

// runTimeout bounds one h2spec run; it takes a few seconds.
const runTimeout = 2 * time.Minute

// summary is h2spec's last line: "146 tests, 146 passed, 0 skipped, 0 failed".
var summary = regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`)

// check serves a new server on a loopback port and runs h2spec against it.
func check(bin string, tlsOn bool, timeout int, verbose bool, specs []string) (result, error) {
	var opts []server.Option
	if tlsOn {
		opts = append(opts, server.TLS(tlstest.Certs().ServerConfig(false)))
	}
	srv := server.New(opts...)
	// One method, so the server is a real gRPC server; h2spec's requests
	// (GET /, POST / without a gRPC content-type) get HTTP errors with a
	// text body.
	server.RegisterUnary(srv, "/h2spec.Service/Echo", func(_ context.Context, r *emptypb.Empty) (*emptypb.Empty, error) {
		return r, nil
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	go srv.Serve(lis)
	defer srv.Stop()

	port := lis.Addr().(*net.TCPAddr).Port
	args := []string{"--strict", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-o", strconv.Itoa(timeout)}
	if tlsOn {
		args = append(args, "-t", "-k")
	}
	if verbose {
		args = append(args, "-v")
	}
	args = append(args, specs...)
	var out bytes.Buffer
	stdout := &lastSegment{w: io.MultiWriter(os.Stdout, &out)}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout = stdout
	cmd.Stderr = os.Stderr
	start := time.Now()
	fmt.Printf("%s %v\n", bin, args)
	// h2spec exits non-zero when a case fails; its summary says which.
	runErr := cmd.Run()
	stdout.flush()
	fmt.Printf("(%s)\n", time.Since(start).Round(time.Millisecond))
	m := summary.FindAllSubmatch(out.Bytes(), -1)
	if len(m) == 0 {
		if runErr != nil {
			return result{}, fmt.Errorf("running h2spec: %w", runErr)
		}
		return result{}, fmt.Errorf("no summary line in h2spec's output")
	}
	last := m[len(m)-1]
	atoi := func(b []byte) int { n, _ := strconv.Atoi(string(b)); return n }
	return result{total: atoi(last[1]), passed: atoi(last[2]), skipped: atoi(last[3]), failed: atoi(last[4])}, nil
}

// lastSegment passes h2spec's output on line by line, keeping of each line
// what follows its last carriage return: h2spec prints a case's title,
// then "\r" and its result over it, which a log shows as both.
type lastSegment struct {
	w    io.Writer
	line []byte
}

func (l *lastSegment) Write(p []byte) (int, error) {
	for _, c := range p {
		l.line = append(l.line, c)
		if c == '\n' {
			l.flush()
		}
	}
	return len(p), nil
}

func (l *lastSegment) flush() {
	if i := bytes.LastIndexByte(l.line, '\r'); i >= 0 {
		l.line = l.line[i+1:]
	}
	l.w.Write(l.line)
	l.line = l.line[:0]
}
