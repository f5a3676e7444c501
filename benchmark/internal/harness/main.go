package harness

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"time"
)

// flags are h2bench's command line: the driver's, and a part's.
type flags struct {
	// The driver's.
	quick                     bool
	rounds                    int
	window, oneWindow, warmup time.Duration
	conns, streams            int
	run, out                  string
	budget                    time.Duration

	// A part's (-window and -warmup too).
	serve            string
	port, maxStreams int
	child            string
	client, server   string
	addr, ctl        string
	kind, codec      string
	size, conc, n    int
}

func (f *flags) register(fs *flag.FlagSet) {
	def := DefaultConfig()
	fs.BoolVar(&f.quick, "quick", false, "run every workload once, briefly (a smoke test, under a minute)")
	fs.IntVar(&f.rounds, "rounds", def.Rounds, "rounds: each workload runs on each stack once per round")
	fs.DurationVar(&f.window, "window", def.Window, "measured window of each run (a part: its window)")
	fs.DurationVar(&f.oneWindow, "one-window", def.OneWindow, "measured window of each run in one process")
	fs.DurationVar(&f.warmup, "warmup", def.Warmup, "warm-up before each window")
	fs.IntVar(&f.conns, "conns", def.Conns, "idle connections the memory workload opens")
	fs.IntVar(&f.streams, "streams", def.Streams, "idle streams the memory workload opens on one connection")
	fs.StringVar(&f.run, "run", "", "regexp: run only the groups it matches (sep/unary-1B-c1, inproc/..., mem/idle-conns)")
	fs.StringVar(&f.out, "out", filepath.Join(".tmp", "bench"), "directory for results.md and results.json")
	fs.DurationVar(&f.budget, "budget", def.Budget, "stop after the round that would make the runs take longer than this (0: no limit)")

	fs.StringVar(&f.serve, "serve", "", "be a server of this stack (h2grpc, grpcgo, tcp) until stdin closes")
	fs.IntVar(&f.port, "port", 0, "the server's loopback port (0: any)")
	fs.IntVar(&f.maxStreams, "max-streams", 0, "raise h2grpc's streams per connection (0: its default)")
	fs.StringVar(&f.child, "child", "", "be a part of a run: client or inproc")
	fs.StringVar(&f.client, "client", "", "the client's stack")
	fs.StringVar(&f.server, "server", "", "the server's stack (one process)")
	fs.StringVar(&f.addr, "addr", "", "the server's address")
	fs.StringVar(&f.ctl, "ctl", "", "the server's control address")
	fs.StringVar(&f.kind, "workload", "", "the workload: unary, pingpong, stream, idle-conns, idle-conns-used, idle-streams")
	fs.IntVar(&f.size, "size", 0, "message bytes")
	fs.IntVar(&f.conc, "conc", 1, "calls, streams or connections in flight")
	fs.StringVar(&f.codec, "codec", codecProto, "proto or raw")
	fs.IntVar(&f.n, "n", 0, "connections or streams the memory workloads open")
}

// Main is h2bench: the driver, or with a part's flags one part of a run
// (see the package comment). It returns the process's exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("h2bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f flags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := raiseFDLimit(); err != nil {
		fmt.Fprintf(stderr, "h2bench: raising the open-file limit: %v\n", err)
	}
	w := workload{Kind: f.kind, Size: f.size, Conc: f.conc, Codec: f.codec, N: f.n}
	t := timing{Warmup: f.warmup, Window: f.window}
	var err error
	switch {
	case f.serve != "":
		err = serveMain(f.serve, f.port, uint32(f.maxStreams), stdout)
	case f.child == "client":
		err = clientMain(w, f.client, f.addr, f.ctl, t, stdout)
	case f.child == "inproc":
		err = inprocMain(w, pairing{Client: f.client, Server: f.server}, t, stdout)
	case f.child != "":
		err = fmt.Errorf("unknown part -child=%q", f.child)
	default:
		return f.drive(fs, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "h2bench: %v\n", err)
		return 1
	}
	return 0
}

// drive is Main as the driver: it runs the groups, prints the tables and
// writes the files.
func (f *flags) drive(fs *flag.FlagSet, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "h2bench: %v\n", err)
		return 1
	}
	cfg := DefaultConfig()
	if f.quick {
		cfg = QuickConfig()
	}
	// Flags given explicitly win over -quick's values.
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "rounds":
			cfg.Rounds = f.rounds
		case "window":
			cfg.Window = f.window
		case "one-window":
			cfg.OneWindow = f.oneWindow
		case "warmup":
			cfg.Warmup = f.warmup
		case "conns":
			cfg.Conns = f.conns
		case "streams":
			cfg.Streams = f.streams
		case "budget":
			cfg.Budget = f.budget
		}
	})
	if f.run != "" {
		re, err := regexp.Compile(f.run)
		if err != nil {
			return fail(fmt.Errorf("-run: %w", err))
		}
		cfg.Run = re
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	cfg.Exe = exe
	cfg.Log = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := Drive(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	if err := rep.WriteFiles(f.out); err != nil {
		return fail(err)
	}
	fmt.Fprint(stdout, rep.Markdown())
	status := fmt.Sprintf("%d runs", len(rep.Runs))
	if n := rep.Failed(); n > 0 {
		status += fmt.Sprintf(", %d FAILED", n)
	}
	fmt.Fprintf(stderr, "h2bench: %s in %.0f s; wrote %s and %s\n", status, rep.Seconds,
		filepath.Join(f.out, "results.md"), filepath.Join(f.out, "results.json"))
	if rep.Failed() > 0 {
		return 1
	}
	return 0
}
