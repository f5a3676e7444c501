package harness

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
)

// Report is a run of the harness: every run's sample, and the medians the
// tables are made of. It is what results.json holds.
type Report struct {
	Date      string       `json:"date"`
	Machine   Machine      `json:"machine"`
	Config    ReportConfig `json:"config"`
	Seconds   float64      `json:"seconds"`    // how long the runs took
	RoundsRun int          `json:"rounds_run"` // Config.Rounds, or fewer to keep within its budget
	Summary   []Summary    `json:"summary"`
	Runs      []Run        `json:"runs"`
	index     map[string]*Summary
}

// Machine describes where the report was made.
type Machine struct {
	GOOS          string `json:"goos"`
	GOARCH        string `json:"goarch"`
	CPU           string `json:"cpu"`
	NumCPU        int    `json:"num_cpu"`
	GoVersion     string `json:"go_version"`
	GrpcGoVersion string `json:"grpc_go_version"`
	// LoadBefore and LoadAfter are /proc/loadavg when the runs started and
	// ended: how busy the machine was with other work.
	LoadBefore string `json:"load_before,omitempty"`
	LoadAfter  string `json:"load_after,omitempty"`
}

// ReportConfig is the Config a report was made with, as JSON.
type ReportConfig struct {
	Rounds    int    `json:"rounds"`
	Budget    string `json:"budget,omitempty"`
	Warmup    string `json:"warmup"`
	Window    string `json:"window"`
	OneWindow string `json:"one_process_window"`
	Conns     int    `json:"conns"`
	Streams   int    `json:"streams"`
	Run       string `json:"run,omitempty"`
}

// Metrics are what the tables show of a load run; a Summary holds their
// medians over rounds, each metric on its own.
type Metrics struct {
	OpsPerSec         float64 `json:"ops_per_s"`
	MBPerSec          float64 `json:"mb_per_s"` // payload received, 10^6 bytes
	P50us             float64 `json:"p50_us"`
	P99us             float64 `json:"p99_us"`
	CPUusPerOp        float64 `json:"cpu_us_per_op"` // client + server
	ClientCPUusPerOp  float64 `json:"client_cpu_us_per_op"`
	ServerCPUusPerOp  float64 `json:"server_cpu_us_per_op"`
	AllocsPerOp       float64 `json:"allocs_per_op"` // client + server
	BytesPerOp        float64 `json:"bytes_per_op"`
	ClientAllocsPerOp float64 `json:"client_allocs_per_op"`
	ServerAllocsPerOp float64 `json:"server_allocs_per_op"`
}

func metricsOf(s Sample) Metrics {
	var m Metrics
	if s.Ops == 0 || s.Seconds == 0 {
		return m
	}
	ops := float64(s.Ops)
	m.OpsPerSec = ops / s.Seconds
	m.MBPerSec = float64(s.Bytes) / s.Seconds / 1e6
	m.P50us, m.P99us = s.P50us, s.P99us
	m.ClientCPUusPerOp = s.ClientCPU / ops * 1e6
	m.ServerCPUusPerOp = s.ServerCPU / ops * 1e6
	m.CPUusPerOp = m.ClientCPUusPerOp + m.ServerCPUusPerOp
	m.ClientAllocsPerOp = float64(s.ClientAllocs) / ops
	m.ServerAllocsPerOp = float64(s.ServerAllocs) / ops
	m.AllocsPerOp = m.ClientAllocsPerOp + m.ServerAllocsPerOp
	m.BytesPerOp = float64(s.ClientAllocBytes+s.ServerAllocBytes) / ops
	return m
}

// Summary is a group's pairing over its successful rounds.
type Summary struct {
	Group    string   `json:"group"`
	Mode     string   `json:"mode"`
	Workload workload `json:"workload"`
	pairing
	Rounds  int        `json:"rounds"`
	Metrics Metrics    `json:"metrics"`
	Mem     *MemSample `json:"mem,omitempty"`
}

func newReport(cfg Config) *Report {
	r := &Report{
		Date: time.Now().UTC().Format(time.RFC3339),
		Machine: Machine{
			GOOS:          runtime.GOOS,
			GOARCH:        runtime.GOARCH,
			CPU:           cpuModel(),
			NumCPU:        runtime.NumCPU(),
			GoVersion:     runtime.Version(),
			GrpcGoVersion: "v" + grpc.Version,
			LoadBefore:    loadAvg(),
		},
		Config: ReportConfig{
			Rounds:    cfg.Rounds,
			Warmup:    cfg.Warmup.String(),
			Window:    cfg.Window.String(),
			OneWindow: cfg.OneWindow.String(),
			Conns:     cfg.Conns,
			Streams:   cfg.Streams,
		},
	}
	if cfg.Run != nil {
		r.Config.Run = cfg.Run.String()
	}
	if cfg.Budget > 0 {
		r.Config.Budget = cfg.Budget.String()
	}
	return r
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAvg is the first three fields of /proc/loadavg, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func summaryKey(group string, p pairing) string { return group + " " + p.Client + " " + p.Server }

// summarise computes the medians of each group's pairing.
func (r *Report) summarise() {
	r.Summary = nil
	r.index = map[string]*Summary{}
	byKey := map[string][]Sample{}
	var order []Run
	for _, run := range r.Runs {
		k := summaryKey(run.Group, run.pairing)
		if _, seen := byKey[k]; !seen {
			order = append(order, run)
			byKey[k] = nil
		}
		if run.Sample != nil {
			byKey[k] = append(byKey[k], *run.Sample)
		}
	}
	for _, run := range order {
		samples := byKey[summaryKey(run.Group, run.pairing)]
		s := Summary{Group: run.Group, Mode: run.Mode, Workload: run.Workload, pairing: run.pairing, Rounds: len(samples)}
		var ms []Metrics
		var mems []MemSample
		for _, x := range samples {
			ms = append(ms, metricsOf(x))
			if x.Mem != nil {
				mems = append(mems, *x.Mem)
			}
		}
		s.Metrics = medianMetrics(ms)
		if len(mems) > 0 {
			m := medianMem(mems)
			s.Mem = &m
		}
		r.Summary = append(r.Summary, s)
	}
	for i := range r.Summary {
		r.index[summaryKey(r.Summary[i].Group, r.Summary[i].pairing)] = &r.Summary[i]
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// medianOf sets each field f picks to the median of the same field of xs.
func medianOf[T any](xs []T, fields ...func(*T) *float64) T {
	var out T
	for _, f := range fields {
		vals := make([]float64, len(xs))
		for i := range xs {
			vals[i] = *f(&xs[i])
		}
		*f(&out) = median(vals)
	}
	return out
}

func medianMetrics(ms []Metrics) Metrics {
	return medianOf(ms,
		func(m *Metrics) *float64 { return &m.OpsPerSec },
		func(m *Metrics) *float64 { return &m.MBPerSec },
		func(m *Metrics) *float64 { return &m.P50us },
		func(m *Metrics) *float64 { return &m.P99us },
		func(m *Metrics) *float64 { return &m.CPUusPerOp },
		func(m *Metrics) *float64 { return &m.ClientCPUusPerOp },
		func(m *Metrics) *float64 { return &m.ServerCPUusPerOp },
		func(m *Metrics) *float64 { return &m.AllocsPerOp },
		func(m *Metrics) *float64 { return &m.BytesPerOp },
		func(m *Metrics) *float64 { return &m.ClientAllocsPerOp },
		func(m *Metrics) *float64 { return &m.ServerAllocsPerOp },
	)
}

func medianMem(ms []MemSample) MemSample {
	out := medianOf(ms,
		func(m *MemSample) *float64 { return &m.Client.RSS },
		func(m *MemSample) *float64 { return &m.Client.Heap },
		func(m *MemSample) *float64 { return &m.Client.Stack },
		func(m *MemSample) *float64 { return &m.Server.RSS },
		func(m *MemSample) *float64 { return &m.Server.Heap },
		func(m *MemSample) *float64 { return &m.Server.Stack },
	)
	out.N = ms[0].N
	return out
}

// find returns the summary of a group's pairing, or nil.
func (r *Report) find(mode string, w workload, p pairing) *Summary {
	return r.index[summaryKey(mode+"/"+w.name(), p)]
}

// WriteFiles writes results.md and results.json into dir.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(r.Markdown()), 0o644)
}

// Failed counts the runs that failed.
func (r *Report) Failed() int {
	n := 0
	for _, run := range r.Runs {
		if run.Error != "" {
			n++
		}
	}
	return n
}

// Number formats. NaN is a value nobody measured: "—".

func unknown(v float64) bool { return math.IsNaN(v) }

func fmtCount(v float64) string {
	switch {
	case unknown(v) || v == 0:
		return "—"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// fmtMicros formats a duration in µs; 0 is "not measured" too (streams
// have no latency).
func fmtMicros(us float64) string {
	switch {
	case unknown(us) || us == 0:
		return "—"
	case us < 10:
		return fmt.Sprintf("%.1f µs", us)
	case us < 1000:
		return fmt.Sprintf("%.0f µs", us)
	case us < 1e6:
		return fmt.Sprintf("%.2f ms", us/1e3)
	}
	return fmt.Sprintf("%.2f s", us/1e6)
}

func fmtBytes(b float64) string {
	a := math.Abs(b)
	switch {
	case unknown(b):
		return "—"
	case a < 1<<10:
		return fmt.Sprintf("%.0f B", b)
	case a < 1<<20:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.2f MiB", b/(1<<20))
}

func fmtAllocs(a float64) string {
	switch {
	case unknown(a):
		return "—"
	case a < 10:
		return fmt.Sprintf("%.1f", a)
	}
	return fmt.Sprintf("%.0f", a)
}

func fmtMBs(v float64) string {
	if unknown(v) || v == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MB/s", v)
}

// ratio is num / den to two places, or "—" when either is unknown or den
// is 0.
func ratio(num, den float64) string {
	if unknown(num) || unknown(den) || den == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", num/den)
}
