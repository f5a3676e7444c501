package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is what the driver runs.
type Config struct {
	// Exe is the executable started as each part of a run: one that calls
	// Main with its arguments (h2bench, or a test binary; see IsChild).
	Exe string
	// Rounds is how many times each group runs each of its pairings
	// (A B A B ...); the tables give medians over them.
	Rounds int
	// Warmup precedes each measured window; Window is the measured time
	// of a run with client and server in separate processes, OneWindow
	// with both in one process.
	Warmup, Window, OneWindow time.Duration
	// Conns and Streams are the idle connections and streams the memory
	// workloads open.
	Conns, Streams int
	// Run, if not nil, selects the groups whose names ("sep/unary-1B-c1",
	// "inproc/pingpong-1B-c1-raw", "mem/idle-conns") it matches.
	Run *regexp.Regexp
	// Budget, if not 0, is how long the runs may take: after a round, if
	// another as long would end past it, the driver stops there and the
	// medians are over the rounds it ran.
	Budget time.Duration
	// Log receives a line per run; nil discards them.
	Log io.Writer
}

// DefaultConfig is what `make bench` runs: 3 rounds of every group, about
// seven minutes on a 2-core machine.
func DefaultConfig() Config {
	return Config{
		Rounds:    3,
		Warmup:    300 * time.Millisecond,
		Window:    1500 * time.Millisecond,
		OneWindow: time.Second,
		Conns:     1000,
		Streams:   10000,
		// `make bench` must end within 10 minutes, building included.
		Budget: 8*time.Minute + 30*time.Second,
	}
}

// QuickConfig runs every group once, briefly: a smoke test of the harness
// in well under a minute, whose numbers mean little.
func QuickConfig() Config {
	return Config{
		Rounds:    1,
		Warmup:    30 * time.Millisecond,
		Window:    60 * time.Millisecond,
		OneWindow: 60 * time.Millisecond,
		Conns:     100,
		Streams:   1000,
	}
}

// Run is one pairing's run of a group in one round.
type Run struct {
	Group    string   `json:"group"`
	Mode     string   `json:"mode"`
	Workload workload `json:"workload"`
	pairing
	Round  int     `json:"round"`
	Sample *Sample `json:"sample,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// Drive runs every selected group's pairings, round after round, each
// run in fresh processes, and returns the report. A run that fails is
// recorded with its error and the others go on; Drive fails only when it
// cannot run at all.
func Drive(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Exe == "" {
		return nil, fmt.Errorf("h2bench: no executable to run the parts with")
	}
	if cfg.Rounds < 1 {
		cfg.Rounds = 1
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	var groups []group
	for _, g := range plan(cfg.Conns, cfg.Streams) {
		if cfg.Run == nil || cfg.Run.MatchString(g.name()) {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("h2bench: -run matches no group")
	}
	total := 0
	for _, g := range groups {
		total += cfg.Rounds * len(g.Pairings)
	}
	fmt.Fprintf(log, "h2bench: %d groups, %d runs, about %v\n", len(groups), total, estimate(cfg, groups).Round(time.Second))
	rep := newReport(cfg)
	start := time.Now()
	done := 0
	for round := 1; round <= cfg.Rounds; round++ {
		if elapsed := time.Since(start); round > 1 && cfg.Budget > 0 &&
			elapsed+elapsed/time.Duration(round-1) > cfg.Budget {
			fmt.Fprintf(log, "h2bench: stopping after %d rounds: another would end past the %v budget\n", round-1, cfg.Budget)
			break
		}
		rep.RoundsRun = round
		for _, g := range groups {
			for _, p := range g.Pairings {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				r := Run{Group: g.name(), Mode: g.Mode, Workload: g.Workload, pairing: p, Round: round}
				s, err := runOne(ctx, cfg, g, p)
				if err != nil {
					r.Error = err.Error()
				} else {
					r.Sample = &s
				}
				rep.Runs = append(rep.Runs, r)
				done++
				fmt.Fprintf(log, "[%d/%d %v] %s %s round %d: %s\n", done, total,
					time.Since(start).Round(time.Second), g.name(), p.label(), round, r.brief())
			}
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.Machine.LoadAfter = loadAvg()
	rep.summarise()
	return rep, nil
}

// estimate is roughly how long the runs take: the windows plus about
// 150 ms for starting processes and connecting, and a few seconds per
// memory run.
func estimate(cfg Config, groups []group) time.Duration {
	var d time.Duration
	for _, g := range groups {
		var per time.Duration
		switch g.Mode {
		case modeSeparate:
			per = cfg.Warmup + cfg.Window + 150*time.Millisecond
		case modeOne:
			per = cfg.Warmup + cfg.OneWindow + 100*time.Millisecond
		case modeMemory:
			per = 500*time.Millisecond + time.Duration(cfg.Conns+cfg.Streams/5)*time.Millisecond
		}
		d += per * time.Duration(cfg.Rounds*len(g.Pairings))
	}
	return d
}

// brief is a run's line in the log.
func (r Run) brief() string {
	if r.Error != "" {
		return "FAILED: " + r.Error
	}
	s := r.Sample
	if s.Mem != nil {
		return fmt.Sprintf("per item: server RSS %s heap %s, client RSS %s heap %s",
			fmtBytes(s.Mem.Server.RSS), fmtBytes(s.Mem.Server.Heap), fmtBytes(s.Mem.Client.RSS), fmtBytes(s.Mem.Client.Heap))
	}
	m := metricsOf(*s)
	line := fmt.Sprintf("%s ops/s", fmtCount(m.OpsPerSec))
	if r.Workload.Kind == kindStream {
		line += fmt.Sprintf(", %.0f MB/s", m.MBPerSec)
	} else {
		line += fmt.Sprintf(", p50 %s p99 %s", fmtMicros(m.P50us), fmtMicros(m.P99us))
	}
	return line + fmt.Sprintf(", CPU %s/op, %s allocs/op", fmtMicros(m.CPUusPerOp), fmtAllocs(m.AllocsPerOp))
}

// runOne runs one pairing of a group in fresh processes.
func runOne(ctx context.Context, cfg Config, g group, p pairing) (Sample, error) {
	w := g.Workload
	t := timing{Warmup: cfg.Warmup, Window: cfg.Window}
	args := []string{
		"-workload=" + w.Kind,
		"-size=" + strconv.Itoa(w.Size),
		"-conc=" + strconv.Itoa(w.Conc),
		"-codec=" + w.Codec,
		"-n=" + strconv.Itoa(w.N),
		"-client=" + p.Client,
		"-warmup=" + t.Warmup.String(),
	}
	if g.Mode == modeOne {
		t.Window = cfg.OneWindow
		args = append(args, "-child=inproc", "-server="+p.Server, "-window="+t.Window.String())
		return runChild(ctx, cfg.Exe, args, childTimeout(t)+10*time.Second)
	}
	var maxStreams int
	if w.Kind == kindIdleStreams {
		maxStreams = w.N + 16
	}
	srv, err := startServer(ctx, cfg.Exe, p.Server, maxStreams)
	if err != nil {
		return Sample{}, err
	}
	args = append(args, "-child=client", "-addr="+srv.ready.Addr, "-ctl="+srv.ready.Ctl, "-window="+t.Window.String())
	s, err := runChild(ctx, cfg.Exe, args, childTimeout(t)+10*time.Second)
	if serr := srv.stop(); err == nil && serr != nil {
		err = serr
	}
	return s, err
}

// childCmd is a command that starts exe as a part of the harness.
func childCmd(ctx context.Context, exe string, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, exe, args...)
	// Under the race detector a process sleeps a second before it exits,
	// in case another goroutine has a race to report; a part need not.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), childEnv+"=1", "GORACE="+gorace)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runChild runs a client or one-process part and returns the Sample it
// printed.
func runChild(ctx context.Context, exe string, args []string, timeout time.Duration) (Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := childCmd(ctx, exe, args)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return Sample{}, fmt.Errorf("%s: %w%s", strings.Join(args, " "), err, stderrTail(&stderr))
	}
	s, err := parseSample(stdout.Bytes())
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w%s", strings.Join(args, " "), err, stderrTail(&stderr))
	}
	return s, nil
}

func stderrTail(b *bytes.Buffer) string {
	s := strings.TrimSpace(b.String())
	if s == "" {
		return ""
	}
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return "; stderr: " + s
}

// serverProc is a server part: it serves until its stdin closes.
type serverProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *bytes.Buffer
	ready  serverReady
	done   chan error
}

func startServer(ctx context.Context, exe, stack string, maxStreams int) (*serverProc, error) {
	args := []string{"-serve=" + stack, "-port=0", "-max-streams=" + strconv.Itoa(maxStreams)}
	cmd := childCmd(ctx, exe, args)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// An os.Pipe of our own rather than StdoutPipe, which Wait (running
	// from the start) would close under the read.
	stdout, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	p := &serverProc{cmd: cmd, stdin: stdin, stderr: new(bytes.Buffer), done: make(chan error, 1)}
	cmd.Stdout = w
	cmd.Stderr = p.stderr
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, err
	}
	go func() { p.done <- cmd.Wait() }()
	// A server that never prints its line is killed, which ends the read.
	kill := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	kill.Stop()
	if err == nil {
		err = json.Unmarshal(line, &p.ready)
	}
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("starting the %s server: %w%s", stack, err, stderrTail(p.stderr))
	}
	return p, nil
}

// stop closes the server's stdin and waits for it to exit, killing it if
// it takes more than a few seconds.
func (p *serverProc) stop() error {
	p.stdin.Close()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("the server: %w%s", err, stderrTail(p.stderr))
		}
		return nil
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("the server did not exit within 5 s of its stdin closing; killed")
	}
}
