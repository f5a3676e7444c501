package server_test

import (
	"fmt"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
)

// What the soak tests (soak_test.go, soak_abort_test.go) use to report:
// failed and pending calls, goroutine and heap baselines, grouped stacks.

// checkSoakErrors fails the test if any call did not succeed, reporting
// the first few in full and the count by status code.
func checkSoakErrors(t *testing.T, calls []soakCall, errs []error) {
	t.Helper()
	failed := map[codes.Code]int{}
	shown := 0
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed[grpcstatus.Code(err)]++
		if shown < 10 {
			t.Errorf("%v: %v", calls[i], err)
			shown++
		}
	}
	if len(failed) > 0 {
		t.Errorf("failed calls by code: %v (of %d)", failed, len(calls))
	}
}

// stageCounts counts calls by stage: not started, started, first exchange
// done, finished.
func stageCounts(stages []atomic.Int32) map[string]int {
	names := [...]string{"not started", "started", "first exchange done", "finished"}
	m := map[string]int{}
	for i := range stages {
		m[names[stages[i].Load()]]++
	}
	return m
}

// reportPending logs the first calls not finished.
func reportPending(t *testing.T, calls []soakCall, stages []atomic.Int32) {
	t.Helper()
	shown := 0
	for i := range stages {
		if st := stages[i].Load(); st != stageDone && shown < 20 {
			t.Logf("not finished: %v, stage %d", calls[i], st)
			shown++
		}
	}
}

// waitTimeout waits for wg at most d and reports whether it finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// soakBaseline is the goroutines and heap before a soak.
type soakBaseline struct {
	goroutines int
	ids        map[string]bool // goroutine ids then, to tell the extras
	heap       uint64          // HeapAlloc after GC
	prewarm    int             // goroutines started and ended before
}

// takeSoakBaseline first starts and ends prewarm goroutines, so that the
// runtime has at least that many goroutine descriptors before the
// baseline (see gDescriptor), then notes goroutines and heap.
func takeSoakBaseline(t *testing.T, prewarm int) *soakBaseline {
	t.Helper()
	var wg sync.WaitGroup
	hold := make(chan struct{})
	for range prewarm {
		wg.Go(func() { <-hold })
	}
	close(hold)
	wg.Wait()
	b := &soakBaseline{ids: map[string]bool{}, prewarm: prewarm}
	b.heap = heapAfterGC()
	b.goroutines = runtime.NumGoroutine()
	for _, g := range goroutineStacks() {
		b.ids[goroutineID(g)] = true
	}
	return b
}

// heapAfterGC is the live heap: HeapAlloc after two collections (the
// second empties sync.Pool's victim cache, which survives one).
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// gDescriptor is a generous size of the runtime's goroutine descriptor
// (runtime.g, about 450 B in Go 1.26) with its share of allgs. The
// runtime never frees a descriptor: a goroutine that ends leaves it on a
// free list for the next one, still on the heap. Measured: the first
// 10,000-stream soak in a process (20,008 goroutines at the peak) leaves
// 9.6 MiB more heap, about 500 B per goroutine; later ones, reusing the
// descriptors, leave nothing.
const gDescriptor = 512

// soakHeapSlack is what the heap may keep besides goroutine descriptors:
// the runtime's and the test's own small growth (timers, the testing
// package's output) and the noise of a collection; measured, under
// 0.1 MiB. A leak of anything per stream or per connection is larger:
// 210 B per stream of 10,000, or a 1 KiB message in one stream of 2,000.
const soakHeapSlack = 2 << 20

// check waits for goroutines and heap to come back to the baseline after
// a soak whose peak goroutine count was peak. Goroutines must come back
// exactly (none more than before). The heap may keep soakHeapSlack, plus
// a descriptor for each goroutine at the peak beyond the baseline's and
// the prewarmed ones, which the runtime keeps (gDescriptor): with the
// prewarm above the peak, none.
func (b *soakBaseline) check(t *testing.T, peak int) {
	t.Helper()
	deadline := time.Now().Add(soakSettleTimeout)
	for {
		n := runtime.NumGoroutine()
		if n <= b.goroutines {
			break
		}
		if time.Now().After(deadline) {
			var extras []string
			for _, g := range goroutineStacks() {
				if !b.ids[goroutineID(g)] {
					extras = append(extras, g)
				}
			}
			t.Errorf("%d goroutines %v after closing everything, %d before; the %d new ones, grouped:\n%s",
				n, soakSettleTimeout, b.goroutines, len(extras), groupedStacks(extras))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	limit := b.heap + soakHeapSlack + uint64(max(peak-max(b.goroutines, b.prewarm), 0))*gDescriptor
	var heap uint64
	for {
		heap = heapAfterGC()
		if heap <= limit || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if heap > limit {
		t.Errorf("heap %.1f MiB after closing everything, %.1f MiB before: more than the %.1f MiB allowed (peak %d goroutines)",
			mib(heap), mib(b.heap), mib(limit), peak)
	}
	t.Logf("goroutines: %d before, peak %d, %d after; heap (HeapAlloc after GC): %.1f MiB before, %.1f MiB after (limit %.1f MiB)",
		b.goroutines, peak, runtime.NumGoroutine(), mib(b.heap), mib(heap), mib(limit))
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// peakSampler records the peak goroutine count while a soak runs.
type peakSampler struct {
	done, stopped chan struct{}
	peak          atomic.Int64
}

func startPeakSampler() *peakSampler {
	s := &peakSampler{done: make(chan struct{}), stopped: make(chan struct{})}
	s.peak.Store(int64(runtime.NumGoroutine()))
	go func() {
		defer close(s.stopped)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if n := int64(runtime.NumGoroutine()); n > s.peak.Load() {
				s.peak.Store(n)
			}
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *peakSampler) goroutines() int { return int(s.peak.Load()) }

// stop ends the sampler and returns the peak.
func (s *peakSampler) stop() int {
	close(s.done)
	<-s.stopped
	return s.goroutines()
}

// goroutineStacks returns the stack of every goroutine, one string each.
func goroutineStacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return strings.Split(strings.TrimSpace(string(buf)), "\n\n")
}

// goroutineID is the id in a stack's first line, "goroutine 12 [...]:".
func goroutineID(stack string) string {
	f := strings.Fields(stack)
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

var (
	stackHeader = regexp.MustCompile(`^goroutine \d+ \[([^,\]]*)[^\]]*\]:`)
	stackArgs   = regexp.MustCompile(`(?m)^([^\t\n].*)\([^()\n]*\)$`)
	stackGoID   = regexp.MustCompile(` in goroutine \d+`)
)

// groupedStacks groups stacks (all goroutines' when nil) that differ only
// in goroutine ids, wait times and argument values, with their counts,
// most frequent first: thousands of goroutines in a few lines each.
func groupedStacks(stacks []string) string {
	if stacks == nil {
		stacks = goroutineStacks()
	}
	counts := map[string]int{}
	for _, s := range stacks {
		s = stackHeader.ReplaceAllString(s, "[$1]:")
		s = stackArgs.ReplaceAllString(s, "$1(...)")
		s = stackGoID.ReplaceAllString(s, "")
		counts[s]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%d × %s\n\n", counts[k], k)
	}
	return sb.String()
}
