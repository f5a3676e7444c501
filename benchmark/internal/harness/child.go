package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// childEnv marks a process the harness started as one of its parts; see
// IsChild.
const childEnv = "H2BENCH_CHILD"

// IsChild reports whether this process was started by the harness as one
// of its parts. A test binary that runs the harness checks it in TestMain
// and, if so, calls Main with its arguments instead of running tests.
func IsChild() bool { return os.Getenv(childEnv) == "1" }

// serverReady is the line a server prints once it serves.
type serverReady struct {
	Addr string `json:"addr"` // the gRPC (or TCP echo) listener
	Ctl  string `json:"ctl"`  // the control listener
}

// serveMain runs a server of stack on 127.0.0.1:port until stdin closes.
// It does not stop the server: the process ends, and its connections with
// it, sooner than a server holding 10,000 streams would stop.
func serveMain(stack string, port int, maxStreams uint32, stdout io.Writer) error {
	defer startProfile("server", stack)()
	svc := new(testService)
	serve, _, err := newServer(stack, maxStreams, svc)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	cl := &countingListener{Listener: lis}
	ctl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		lis.Close()
		return err
	}
	defer ctl.Close()
	served := make(chan error, 1)
	go func() { served <- serve(cl) }()
	go serveCtl(ctl, func(settle bool) procStats {
		s := readStats(settle)
		s.Conns = cl.accepted.Load()
		s.Streams = svc.streams.Load()
		return s
	})
	if err := json.NewEncoder(stdout).Encode(serverReady{Addr: lis.Addr().String(), Ctl: ctl.Addr().String()}); err != nil {
		return err
	}
	stdinClosed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-stdinClosed:
		return nil
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	}
}

// serveCtl answers the control protocol on every connection: a line
// "stats" or "memstats" (the same after collecting garbage) is answered
// with the process's procStats as one JSON line.
func serveCtl(lis net.Listener, stats func(settle bool) procStats) {
	for {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			sc := bufio.NewScanner(c)
			enc := json.NewEncoder(c)
			for sc.Scan() {
				var s procStats
				switch sc.Text() {
				case "stats":
					s = stats(false)
				case "memstats":
					s = stats(true)
				default:
					return
				}
				if enc.Encode(s) != nil {
					return
				}
			}
		}()
	}
}

// ctlClient asks a server process for its counters. One goroutine at a
// time may use it.
type ctlClient struct {
	c  net.Conn
	br *bufio.Reader
}

func dialCtl(ctx context.Context, addr string) (*ctlClient, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &ctlClient{c: c, br: bufio.NewReader(c)}, nil
}

func (c *ctlClient) stats(settle bool) (procStats, error) {
	cmd := "stats\n"
	if settle {
		cmd = "memstats\n"
	}
	var s procStats
	if _, err := io.WriteString(c.c, cmd); err != nil {
		return s, fmt.Errorf("server control: %w", err)
	}
	line, err := c.br.ReadBytes('\n')
	if err != nil {
		return s, fmt.Errorf("server control: %w", err)
	}
	return s, json.Unmarshal(line, &s)
}

func (c *ctlClient) Close() error { return c.c.Close() }

// childTimeout bounds a client or one-process part: its own work plus a
// margin for connecting and for the memory workloads.
func childTimeout(t timing) time.Duration { return t.Warmup + t.Window + 2*time.Minute }

// clientMain runs w from clientStack against a server process and prints
// its Sample.
func clientMain(w workload, clientStack, addr, ctlAddr string, t timing, stdout io.Writer) error {
	defer startProfile("client", clientStack)()
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout(t))
	defer cancel()
	ctl, err := dialCtl(ctx, ctlAddr)
	if err != nil {
		return err
	}
	defer ctl.Close()
	var s Sample
	switch w.Kind {
	case kindIdleConns, kindUsedConns:
		s, err = runIdleConns(ctx, w, clientStack, addr, ctl.stats)
	case kindIdleStreams:
		s, err = runIdleStreams(ctx, w, clientStack, addr, ctl.stats)
	default:
		s, err = runLoad(ctx, w, clientStack, addr, t, ctl.stats)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(s)
}

// inprocMain runs w with p's server and client in this process and prints
// its Sample, whose counters cover both.
func inprocMain(w workload, p pairing, t timing, stdout io.Writer) error {
	if w.Kind != kindUnary && w.Kind != kindPingPong && w.Kind != kindStream {
		return fmt.Errorf("workload %s does not run in one process", w.name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout(t))
	defer cancel()
	serve, stop, err := newServer(p.Server, 0, new(testService))
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- serve(lis) }()
	defer func() {
		stop()
		<-served
	}()
	s, err := runLoad(ctx, w, p.Client, lis.Addr().String(), t, nil)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(s)
}

// parseSample reads the Sample a client or one-process part printed as its
// last line.
func parseSample(out []byte) (Sample, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var s Sample
	if len(lines) == 0 || lines[len(lines)-1] == "" {
		return s, errors.New("the process printed no sample")
	}
	return s, json.Unmarshal([]byte(lines[len(lines)-1]), &s)
}
