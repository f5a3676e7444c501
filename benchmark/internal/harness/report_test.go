package harness

import (
	"strings"
	"testing"
)

// A pairing whose every round failed shows as "—", not as a zero, and the
// failure is listed; medians are taken per metric over the other rounds.
func TestReportMediansAndFailures(t *testing.T) {
	w := workload{Kind: kindUnary, Size: 1, Conc: 1, Codec: codecProto}
	g := group{Mode: modeSeparate, Workload: w}
	r := newReport(DefaultConfig())
	for i, ops := range []int64{100, 300, 200} {
		r.Runs = append(r.Runs, Run{Group: g.name(), Mode: g.Mode, Workload: w, pairing: grpcgoPair, Round: i + 1,
			Sample: &Sample{Ops: ops, Seconds: 1, P50us: float64(ops), ClientAllocs: uint64(ops) * 10}})
		r.Runs = append(r.Runs, Run{Group: g.name(), Mode: g.Mode, Workload: w, pairing: h2grpcPair, Round: i + 1,
			Error: "connection refused"})
	}
	r.summarise()

	s := r.find(modeSeparate, w, grpcgoPair)
	if s == nil || s.Rounds != 3 {
		t.Fatalf("grpc-go summary %+v, want 3 rounds", s)
	}
	if s.Metrics.OpsPerSec != 200 || s.Metrics.P50us != 200 || s.Metrics.AllocsPerOp != 10 {
		t.Errorf("medians %+v, want 200 ops/s, p50 200 µs, 10 allocs/op", s.Metrics)
	}
	if h := r.find(modeSeparate, w, h2grpcPair); h == nil || h.Rounds != 0 {
		t.Errorf("h2grpc summary %+v, want 0 rounds", h)
	}
	md := r.Markdown()
	if !strings.Contains(md, "| unary 1 B ×1 | 200 | — | — |") {
		t.Errorf("the failed pairing does not read as unknown:\n%s", md)
	}
	if !strings.Contains(md, "3 failed runs") || r.Failed() != 3 {
		t.Errorf("the failures are not listed (Failed() = %d):\n%s", r.Failed(), md)
	}
}
