package harness

import (
	"fmt"
	"strconv"
)

// The kinds of workload.
const (
	kindUnary       = "unary"           // unary calls, Conc in flight on one connection (TCP: Conc connections)
	kindPingPong    = "pingpong"        // a message each way on Conc long-lived bidi streams of one connection
	kindStream      = "stream"          // one server stream sending as fast as the client reads
	kindIdleConns   = "idle-conns"      // memory held per idle connection
	kindUsedConns   = "idle-conns-used" // the same, each connection idle after usedConnCalls unary calls
	kindIdleStreams = "idle-streams"    // memory held per open idle stream, on one connection
)

// The codecs a workload's messages go through.
const (
	codecProto = "proto" // the TestService's protobuf messages
	codecRaw   = "raw"   // the raw service: bytes no codec parses
)

// workload is what a client does in a run.
type workload struct {
	Kind  string `json:"kind"`
	Size  int    `json:"size,omitempty"`  // message bytes, each way (stream: from the server)
	Conc  int    `json:"conc,omitempty"`  // calls, streams or TCP connections in flight
	Codec string `json:"codec,omitempty"` // codecProto or codecRaw
	N     int    `json:"n,omitempty"`     // memory workloads: connections or streams opened
}

// name is the workload's identifier in group names, flags and JSON.
func (w workload) name() string {
	switch w.Kind {
	case kindIdleConns, kindUsedConns, kindIdleStreams:
		return w.Kind
	case kindStream:
		return w.Kind + "-" + sizeName(w.Size)
	}
	s := fmt.Sprintf("%s-%s-c%d", w.Kind, sizeName(w.Size), w.Conc)
	if w.Codec == codecRaw {
		s += "-raw"
	}
	return s
}

// label is how the workload reads in a table.
func (w workload) label() string {
	switch w.Kind {
	case kindIdleConns:
		return fmt.Sprintf("idle connection (%d)", w.N)
	case kindUsedConns:
		return fmt.Sprintf("idle connection after %d calls (%d)", usedConnCalls, w.N)
	case kindIdleStreams:
		return fmt.Sprintf("idle stream (%d on 1 conn)", w.N)
	case kindStream:
		return "server stream " + sizeLabel(w.Size) + " (MB/s)"
	}
	kind := "unary"
	if w.Kind == kindPingPong {
		kind = "ping-pong"
	}
	s := fmt.Sprintf("%s %s ×%d", kind, sizeLabel(w.Size), w.Conc)
	if w.Codec == codecRaw {
		s += ", raw bytes"
	}
	return s
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

func sizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}

// The modes a group runs in.
const (
	modeSeparate = "sep"    // client and server in separate processes
	modeOne      = "inproc" // client and server in one process
	modeMemory   = "mem"    // idle connections and streams, each side in its own process
)

// pairing is one client stack calling one server stack.
type pairing struct {
	Client string `json:"client"`
	Server string `json:"server"`
}

func (p pairing) label() string {
	if p.Client == p.Server {
		return stackLabel(p.Client)
	}
	return stackLabel(p.Client) + " → " + stackLabel(p.Server)
}

var (
	h2grpcPair = pairing{stackH2grpc, stackH2grpc}
	grpcgoPair = pairing{stackGrpcgo, stackGrpcgo}
	h2ToGoPair = pairing{stackH2grpc, stackGrpcgo}
	goToH2Pair = pairing{stackGrpcgo, stackH2grpc}
	tcpPair    = pairing{stackTCP, stackTCP}
)

// group is one workload in one mode, run on each of its pairings in turn
// every round: A B A B.
type group struct {
	Mode     string
	Workload workload
	Pairings []pairing
}

func (g group) name() string { return g.Mode + "/" + g.Workload.name() }

// plan lists the groups of a run of the harness, in the order they run
// within a round: the workloads, in separate processes (with the
// TCP floor next to the unary workloads of the same sizes), in one process
// (with raw-bytes variants for the transport's own allocations), and the
// memory workloads.
func plan(conns, streams int) []group {
	same := []pairing{h2grpcPair, grpcgoPair}
	mixed := []pairing{h2grpcPair, grpcgoPair, h2ToGoPair, goToH2Pair}
	unary := []workload{
		{Kind: kindUnary, Size: 1, Conc: 1},
		{Kind: kindUnary, Size: 1, Conc: 64},
		{Kind: kindUnary, Size: 1 << 10, Conc: 1},
		{Kind: kindUnary, Size: 1 << 10, Conc: 64},
		{Kind: kindUnary, Size: 64 << 10, Conc: 8},
		{Kind: kindUnary, Size: 1 << 20, Conc: 8},
	}
	others := []workload{
		{Kind: kindPingPong, Size: 1, Conc: 1},
		{Kind: kindPingPong, Size: 1, Conc: 64},
		{Kind: kindPingPong, Size: 1 << 10, Conc: 1},
		{Kind: kindPingPong, Size: 1 << 10, Conc: 64},
		{Kind: kindStream, Size: 16 << 10, Conc: 1},
		{Kind: kindStream, Size: 1 << 20, Conc: 1},
	}
	raw := []workload{
		{Kind: kindUnary, Size: 1, Conc: 1, Codec: codecRaw},
		{Kind: kindPingPong, Size: 1, Conc: 1, Codec: codecRaw},
	}
	var gs []group
	for _, mode := range []string{modeSeparate, modeOne} {
		for _, w := range unary {
			w.Codec = codecProto
			ps := same
			if w.Size == 1 {
				ps = mixed
			}
			if mode == modeSeparate {
				ps = append(ps[:len(ps):len(ps)], tcpPair)
			}
			gs = append(gs, group{mode, w, ps})
		}
		for _, w := range others {
			w.Codec = codecProto
			gs = append(gs, group{mode, w, same})
		}
		if mode == modeOne {
			for _, w := range raw {
				gs = append(gs, group{mode, w, same})
			}
		}
	}
	gs = append(gs,
		group{modeMemory, workload{Kind: kindIdleConns, N: conns}, same},
		// A quarter as many: each makes usedConnCalls calls first.
		group{modeMemory, workload{Kind: kindUsedConns, N: max(conns/4, 1)}, same},
		group{modeMemory, workload{Kind: kindIdleStreams, N: streams}, same})
	return gs
}
