package benchmark

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/benchmark/internal/harness"
)

// TestHarnessQuick runs h2bench's plumbing as -quick does, smaller and on
// a subset of its groups that still starts every kind of part (server,
// client, one process), every stack (h2grpc, grpc-go, TCP), both mixed
// pairings, the raw codec and both memory workloads, so a broken harness
// fails CI. It asserts that every run produced a sample and that the
// files are written; nothing about how fast anything was.
func TestHarnessQuick(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := harness.QuickConfig()
	cfg.Exe = exe
	cfg.Warmup = 10 * time.Millisecond
	cfg.Window = 30 * time.Millisecond
	cfg.OneWindow = 30 * time.Millisecond
	cfg.Conns = 4
	cfg.Streams = 8
	groups := []string{
		"sep/unary-1B-c1", // h2grpc, grpc-go, both mixed pairings and TCP
		"sep/pingpong-1KiB-c64",
		"sep/stream-16KiB",
		"inproc/unary-1B-c1-raw",
		"inproc/pingpong-1B-c1",
		"mem/idle-conns",
		"mem/idle-streams",
	}
	cfg.Run = regexp.MustCompile("^(" + strings.Join(groups, "|") + ")$")
	cfg.Log = testLog{t}

	rep, err := harness.Drive(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]int{}
	for _, r := range rep.Runs {
		ran[r.Group]++
		switch {
		case r.Error != "":
			t.Errorf("%s %s→%s: %s", r.Group, r.Client, r.Server, r.Error)
		case r.Sample.Ops == 0:
			t.Errorf("%s %s→%s: no operations completed", r.Group, r.Client, r.Server)
		case strings.HasPrefix(r.Group, "mem/") && r.Sample.Mem == nil:
			t.Errorf("%s %s→%s: no memory sample", r.Group, r.Client, r.Server)
		}
	}
	for _, g := range groups {
		if ran[g] == 0 {
			t.Errorf("group %s did not run", g)
		}
	}
	if want := 5 + 2 + 2 + 2 + 2 + 2 + 2; len(rep.Runs) != want {
		t.Errorf("%d runs, want %d", len(rep.Runs), want)
	}

	dir := t.TempDir()
	if err := rep.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Summary []json.RawMessage `json:"summary"`
		Runs    []json.RawMessage `json:"runs"`
	}
	if err := json.Unmarshal(js, &decoded); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if len(decoded.Runs) != len(rep.Runs) || len(decoded.Summary) == 0 {
		t.Errorf("results.json has %d runs and %d summaries, want %d runs and some summaries",
			len(decoded.Runs), len(decoded.Summary), len(rep.Runs))
	}
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, heading := range []string{
		"### Client and server in separate processes",
		"### Mixed pairings",
		"### Client and server in one process",
		"### The loopback floor",
		"### Memory per idle connection",
	} {
		if !strings.Contains(string(md), heading) {
			t.Errorf("results.md has no %q table:\n%s", heading, md)
		}
	}
}

// testLog sends the driver's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
