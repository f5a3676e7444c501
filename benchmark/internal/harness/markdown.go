package harness

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Markdown renders the report's tables.
func (r *Report) Markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "## h2grpc vs grpc-go %s\n\n", m.GrpcGoVersion)
	fmt.Fprintf(&b, "%s · %s, %d CPUs, %s/%s · %s · medians of %d rounds; each round runs every workload on each stack in turn (A B A B); "+
		"windows of %s (separate processes) and %s (one process) after %s of warm-up; %d runs in %.0f s.\n\n",
		r.Date, orUnknown(m.CPU), m.NumCPU, m.GOOS, m.GOARCH, m.GoVersion, r.RoundsRun,
		r.Config.Window, r.Config.OneWindow, r.Config.Warmup, len(r.Runs), r.Seconds)
	if m.LoadBefore != "" {
		fmt.Fprintf(&b, "Load average (1, 5, 15 min) %s before the runs and %s after: other work on the machine is part of the noise.\n\n",
			m.LoadBefore, m.LoadAfter)
	}
	b.WriteString("Ratios are h2grpc / grpc-go: above 1 is better for ops/s and MB/s, below 1 for latency, CPU, allocations and memory. " +
		"CPU/op is user + system time of client and server processes together. An op is a call (unary), a round trip (ping-pong) or a message (server stream).\n")
	r.separateTable(&b)
	r.mixedTable(&b)
	r.oneProcessTable(&b)
	r.floorTable(&b)
	r.memoryTable(&b)
	r.failures(&b)
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown CPU"
	}
	return s
}

// groupsOf returns the plan's groups of a mode that the report has runs of.
func (r *Report) groupsOf(mode string) []group {
	var gs []group
	for _, g := range plan(r.Config.Conns, r.Config.Streams) {
		if g.Mode != mode {
			continue
		}
		for _, p := range g.Pairings {
			if r.find(mode, g.Workload, p) != nil {
				gs = append(gs, g)
				break
			}
		}
	}
	return gs
}

func row(b *strings.Builder, cells ...string) {
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

// header writes a table's header row; a column whose name starts with
// '>' is right-aligned.
func header(b *strings.Builder, cols ...string) {
	var names, rule []string
	for _, c := range cols {
		if name, ok := strings.CutPrefix(c, ">"); ok {
			names, rule = append(names, name), append(rule, "---:")
		} else {
			names, rule = append(names, c), append(rule, "---")
		}
	}
	row(b, names...)
	row(b, rule...)
}

// metricsFor returns a pairing's metrics in a group; every one is NaN
// when the pairing did not run or all its runs failed.
func (r *Report) metricsFor(mode string, w workload, p pairing) Metrics {
	if s := r.find(mode, w, p); s != nil && s.Rounds > 0 {
		return s.Metrics
	}
	nan := math.NaN()
	return Metrics{nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan}
}

// memFor returns a memory group's pairing's medians; every one is NaN when
// the pairing did not run or all its runs failed.
func (r *Report) memFor(w workload, p pairing) MemSample {
	if s := r.find(modeMemory, w, p); s != nil && s.Mem != nil {
		return *s.Mem
	}
	nan := math.NaN()
	d := MemDelta{nan, nan, nan}
	return MemSample{Client: d, Server: d}
}

// throughput is a row's speed: MB/s for streams, ops/s otherwise.
func throughput(w workload, m Metrics) (float64, string) {
	if w.Kind == kindStream {
		return m.MBPerSec, fmtMBs(m.MBPerSec)
	}
	return m.OpsPerSec, fmtCount(m.OpsPerSec)
}

func (r *Report) separateTable(b *strings.Builder) {
	gs := r.groupsOf(modeSeparate)
	if len(gs) == 0 {
		return
	}
	b.WriteString("\n### Client and server in separate processes (loopback TCP)\n\n")
	header(b, "workload", ">grpc-go ops/s", ">h2grpc ops/s", ">ratio", ">p50 grpc-go / h2grpc", ">p99 grpc-go / h2grpc",
		">CPU/op grpc-go / h2grpc", ">CPU ratio")
	for _, g := range gs {
		gm := r.metricsFor(modeSeparate, g.Workload, grpcgoPair)
		hm := r.metricsFor(modeSeparate, g.Workload, h2grpcPair)
		gv, gs := throughput(g.Workload, gm)
		hv, hs := throughput(g.Workload, hm)
		row(b, g.Workload.label(), gs, hs, ratio(hv, gv),
			fmtMicros(gm.P50us)+" / "+fmtMicros(hm.P50us),
			fmtMicros(gm.P99us)+" / "+fmtMicros(hm.P99us),
			fmtMicros(gm.CPUusPerOp)+" / "+fmtMicros(hm.CPUusPerOp),
			ratio(hm.CPUusPerOp, gm.CPUusPerOp))
	}
}

func (r *Report) mixedTable(b *strings.Builder) {
	var rows [][]string
	for _, g := range r.groupsOf(modeSeparate) {
		if !slices.Contains(g.Pairings, h2ToGoPair) {
			continue
		}
		for _, p := range []pairing{h2grpcPair, grpcgoPair, h2ToGoPair, goToH2Pair} {
			sm := r.metricsFor(modeSeparate, g.Workload, p)
			om := r.metricsFor(modeOne, g.Workload, p)
			rows = append(rows, []string{g.Workload.label(), p.label(), fmtCount(sm.OpsPerSec),
				fmtMicros(sm.P50us) + " / " + fmtMicros(sm.P99us),
				fmtMicros(sm.ClientCPUusPerOp) + " + " + fmtMicros(sm.ServerCPUusPerOp),
				fmtAllocs(sm.ClientAllocsPerOp) + " + " + fmtAllocs(sm.ServerAllocsPerOp),
				fmtCount(om.OpsPerSec), fmtAllocs(om.AllocsPerOp), fmtBytes(om.BytesPerOp)})
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n### Mixed pairings: each side's cost (client → server)\n\n" +
		"Separate processes, except the last three columns (one process, allocations of both sides).\n\n")
	header(b, "workload", "pairing", ">ops/s", ">p50 / p99", ">CPU/op client + server", ">allocs/op client + server",
		">one process ops/s", ">one process allocs/op", ">one process B/op")
	for _, cells := range rows {
		row(b, cells...)
	}
}

func (r *Report) oneProcessTable(b *strings.Builder) {
	gs := r.groupsOf(modeOne)
	if len(gs) == 0 {
		return
	}
	b.WriteString("\n### Client and server in one process (allocations count both sides)\n\n" +
		"Raw-bytes rows use a service whose codec does not parse messages: the transport's own share, without protobuf.\n\n")
	header(b, "workload", ">grpc-go ops/s", ">h2grpc ops/s", ">ratio", ">allocs/op grpc-go / h2grpc", ">ratio",
		">B/op grpc-go / h2grpc", ">ratio", ">CPU/op grpc-go / h2grpc")
	for _, g := range gs {
		gm := r.metricsFor(modeOne, g.Workload, grpcgoPair)
		hm := r.metricsFor(modeOne, g.Workload, h2grpcPair)
		gv, gs := throughput(g.Workload, gm)
		hv, hs := throughput(g.Workload, hm)
		row(b, g.Workload.label(), gs, hs, ratio(hv, gv),
			fmtAllocs(gm.AllocsPerOp)+" / "+fmtAllocs(hm.AllocsPerOp), ratio(hm.AllocsPerOp, gm.AllocsPerOp),
			fmtBytes(gm.BytesPerOp)+" / "+fmtBytes(hm.BytesPerOp), ratio(hm.BytesPerOp, gm.BytesPerOp),
			fmtMicros(gm.CPUusPerOp)+" / "+fmtMicros(hm.CPUusPerOp))
	}
}

func (r *Report) floorTable(b *strings.Builder) {
	var gs []group
	for _, g := range r.groupsOf(modeSeparate) {
		if r.find(modeSeparate, g.Workload, tcpPair) != nil {
			gs = append(gs, g)
		}
	}
	if len(gs) == 0 {
		return
	}
	b.WriteString("\n### The loopback floor: raw TCP ping-pong, separate processes\n\n" +
		"The same sizes each way; ×N is N connections, each with one message in flight. " +
		"The last columns compare the unary rows above with it.\n\n")
	header(b, "size ×connections", ">TCP ops/s", ">p50 / p99", ">CPU/op", ">grpc-go / TCP ops", ">h2grpc / TCP ops",
		">grpc-go / TCP p50", ">h2grpc / TCP p50")
	for _, g := range gs {
		tm := r.metricsFor(modeSeparate, g.Workload, tcpPair)
		gm := r.metricsFor(modeSeparate, g.Workload, grpcgoPair)
		hm := r.metricsFor(modeSeparate, g.Workload, h2grpcPair)
		row(b, fmt.Sprintf("%s ×%d", sizeLabel(g.Workload.Size), g.Workload.Conc), fmtCount(tm.OpsPerSec),
			fmtMicros(tm.P50us)+" / "+fmtMicros(tm.P99us), fmtMicros(tm.CPUusPerOp),
			ratio(gm.OpsPerSec, tm.OpsPerSec), ratio(hm.OpsPerSec, tm.OpsPerSec),
			ratio(gm.P50us, tm.P50us), ratio(hm.P50us, tm.P50us))
	}
}

func (r *Report) memoryTable(b *strings.Builder) {
	gs := r.groupsOf(modeMemory)
	if len(gs) == 0 {
		return
	}
	b.WriteString("\n### Memory per idle connection and per open idle stream, each side in its own process\n\n" +
		"Growth over N divided by N, measured after GC with free memory returned to the system. " +
		"Heap is Go's HeapInuse, stacks its StackInuse (goroutine stacks are not in the heap); RSS holds both.\n\n")
	header(b, "per", "side", ">RSS grpc-go / h2grpc", ">ratio", ">heap grpc-go / h2grpc", ">ratio",
		">stacks grpc-go / h2grpc", ">ratio")
	for _, g := range gs {
		gmem, hmem := r.memFor(g.Workload, grpcgoPair), r.memFor(g.Workload, h2grpcPair)
		for _, side := range []struct {
			name   string
			gd, hd MemDelta
		}{{"server", gmem.Server, hmem.Server}, {"client", gmem.Client, hmem.Client}} {
			row(b, g.Workload.label(), side.name,
				fmtBytes(side.gd.RSS)+" / "+fmtBytes(side.hd.RSS), ratio(side.hd.RSS, side.gd.RSS),
				fmtBytes(side.gd.Heap)+" / "+fmtBytes(side.hd.Heap), ratio(side.hd.Heap, side.gd.Heap),
				fmtBytes(side.gd.Stack)+" / "+fmtBytes(side.hd.Stack), ratio(side.hd.Stack, side.gd.Stack))
		}
	}
}

func (r *Report) failures(b *strings.Builder) {
	n := r.Failed()
	if n == 0 {
		return
	}
	fmt.Fprintf(b, "\n### %d failed runs (left out of the medians)\n\n", n)
	for _, run := range r.Runs {
		if run.Error == "" {
			continue
		}
		msg := run.Error
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		fmt.Fprintf(b, "- %s, %s, round %d: %s\n", run.Group, run.pairing.label(), run.Round, strings.ReplaceAll(msg, "\n", " "))
	}
}
