package harness

import (
	"slices"
	"testing"
)

// TestPlanCoversTheIssue pins the groups `make bench` runs: the workloads
// the performance issue asks for, with their pairings.
func TestPlanCoversTheIssue(t *testing.T) {
	want := map[string][]pairing{
		"sep/unary-1B-c1":           {h2grpcPair, grpcgoPair, h2ToGoPair, goToH2Pair, tcpPair},
		"sep/unary-1B-c64":          {h2grpcPair, grpcgoPair, h2ToGoPair, goToH2Pair, tcpPair},
		"sep/unary-1KiB-c1":         {h2grpcPair, grpcgoPair, tcpPair},
		"sep/unary-1KiB-c64":        {h2grpcPair, grpcgoPair, tcpPair},
		"sep/unary-64KiB-c8":        {h2grpcPair, grpcgoPair, tcpPair},
		"sep/unary-1MiB-c8":         {h2grpcPair, grpcgoPair, tcpPair},
		"sep/pingpong-1B-c1":        {h2grpcPair, grpcgoPair},
		"sep/pingpong-1B-c64":       {h2grpcPair, grpcgoPair},
		"sep/pingpong-1KiB-c1":      {h2grpcPair, grpcgoPair},
		"sep/pingpong-1KiB-c64":     {h2grpcPair, grpcgoPair},
		"sep/stream-16KiB":          {h2grpcPair, grpcgoPair},
		"sep/stream-1MiB":           {h2grpcPair, grpcgoPair},
		"inproc/unary-1B-c1":        {h2grpcPair, grpcgoPair, h2ToGoPair, goToH2Pair},
		"inproc/unary-1B-c64":       {h2grpcPair, grpcgoPair, h2ToGoPair, goToH2Pair},
		"inproc/unary-1KiB-c1":      {h2grpcPair, grpcgoPair},
		"inproc/unary-1KiB-c64":     {h2grpcPair, grpcgoPair},
		"inproc/unary-64KiB-c8":     {h2grpcPair, grpcgoPair},
		"inproc/unary-1MiB-c8":      {h2grpcPair, grpcgoPair},
		"inproc/pingpong-1B-c1":     {h2grpcPair, grpcgoPair},
		"inproc/pingpong-1B-c64":    {h2grpcPair, grpcgoPair},
		"inproc/pingpong-1KiB-c1":   {h2grpcPair, grpcgoPair},
		"inproc/pingpong-1KiB-c64":  {h2grpcPair, grpcgoPair},
		"inproc/stream-16KiB":       {h2grpcPair, grpcgoPair},
		"inproc/stream-1MiB":        {h2grpcPair, grpcgoPair},
		"inproc/unary-1B-c1-raw":    {h2grpcPair, grpcgoPair},
		"inproc/pingpong-1B-c1-raw": {h2grpcPair, grpcgoPair},
		"mem/idle-conns":            {h2grpcPair, grpcgoPair},
		"mem/idle-conns-used":       {h2grpcPair, grpcgoPair},
		"mem/idle-streams":          {h2grpcPair, grpcgoPair},
	}
	got := map[string][]pairing{}
	for _, g := range plan(1000, 10000) {
		if _, dup := got[g.name()]; dup {
			t.Errorf("group %s planned twice", g.name())
		}
		got[g.name()] = g.Pairings
	}
	for name, ps := range want {
		if !slices.Equal(got[name], ps) {
			t.Errorf("group %s: pairings %v, want %v", name, got[name], ps)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected group %s", name)
		}
	}
}
