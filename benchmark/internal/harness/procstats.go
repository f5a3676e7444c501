package harness

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"
)

// procStats are one process's counters at one moment: what the harness
// subtracts across a window (CPU, allocations) or across opening idle
// connections and streams (memory).
type procStats struct {
	CPU        time.Duration `json:"cpu_ns"`
	Mallocs    uint64        `json:"mallocs"`
	TotalAlloc uint64        `json:"total_alloc"`
	HeapInuse  uint64        `json:"heap_inuse"`
	StackInuse uint64        `json:"stack_inuse"`
	RSS        uint64        `json:"rss"`
	// Conns and Streams count what a server holds: accepted connections
	// and running FullDuplexCall handlers. Clients leave them 0.
	Conns   int64 `json:"conns"`
	Streams int64 `json:"streams"`
}

// readStats reads this process's counters. With settle, it first collects
// garbage and returns freed memory to the system, so the heap and RSS are
// what is live: for memory comparisons, not inside a timed window.
func readStats(settle bool) procStats {
	if settle {
		runtime.GC()
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return procStats{
		CPU:        cpuTime(),
		Mallocs:    ms.Mallocs,
		TotalAlloc: ms.TotalAlloc,
		HeapInuse:  ms.HeapInuse,
		StackInuse: ms.StackInuse,
		RSS:        readRSS(),
	}
}

// readRSS returns VmRSS from /proc/self/status, or 0 where there is none.
func readRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest) // "2024 kB"
		if len(fields) == 0 {
			return 0
		}
		kb, err := strconv.ParseUint(string(fields[0]), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
