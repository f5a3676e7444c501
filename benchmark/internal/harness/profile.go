package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// profileEnv names a directory where each server and client part of a
// separate-process run writes its CPU profile, as
// STACK-ROLE-PID.prof (STACK h2grpc, grpcgo or tcp; ROLE server or
// client): the profiles of both processes of a pairing, under the load
// the tables measure. Unset, nothing is profiled.
const profileEnv = "H2BENCH_CPUPROFILE"

// startProfile starts a CPU profile of this part when profileEnv is set,
// and returns the func that stops it.
func startProfile(role, stack string) (stop func()) {
	dir := os.Getenv(profileEnv)
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%s-%d.prof", stack, role, os.Getpid())))
	if err != nil {
		fmt.Fprintf(os.Stderr, "h2bench: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "h2bench: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
