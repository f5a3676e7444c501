package equivalence

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"sync"

	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// The example service's behaviour, written once and served by both stacks.
// The request says what to do:
//   - value "fail:<code>:<message>": end the call with that status before
//     sending anything;
//   - value "fail-after:<code>:<message>" (streams): send the replies first;
//   - value "wait": after the replies, wait for the call's context to end
//     and report it on waiters[multiplier];
//   - value "block" (client streaming): stop reading after the first
//     request until the call's context ends;
//   - response_size / response_count: size and number of replies.
// A reply's message echoes what the server received: value × multiplier,
// the blob's length and its CRC.

// callErr is a status in stack-neutral form; each server turns it into its
// own status error.
type callErr struct {
	code int
	msg  string
}

func (e *callErr) Error() string { return fmt.Sprintf("code %d: %s", e.code, e.msg) }

// waiters reports, by request multiplier, that a handler saw its context end.
var waiters sync.Map // int32 -> chan struct{}

func waiter(id int32) chan struct{} {
	ch, _ := waiters.LoadOrStore(id, make(chan struct{}))
	return ch.(chan struct{})
}

func parseFail(value, prefix string) *callErr {
	rest, ok := strings.CutPrefix(value, prefix)
	if !ok {
		return nil
	}
	var code int
	codeText, msg, _ := strings.Cut(rest, ":")
	fmt.Sscan(codeText, &code)
	return &callErr{code: code, msg: msg}
}

func echo(r *pb.ExampleRequest) string {
	m := max(r.Multiplier, 1)
	if len(r.Value) > 64 {
		m = 1
	}
	return fmt.Sprintf("%s|%d|%08x", strings.Repeat(r.Value, int(m)), len(r.Blob), crc32.ChecksumIEEE(r.Blob))
}

// blob returns n bytes of pattern seed: byte i is i*7+seed (mod 256).
// The pattern repeats every 256 bytes, so it is written once and then
// doubled with copy, which -race checks a range at a time: 20 MiB takes
// 0.23 s instead of 0.37 s byte by byte, and a 20 MiB case makes seven.
func blob(n int32, seed int32) []byte {
	if n <= 0 {
		return nil
	}
	b := make([]byte, n)
	for i := range min(len(b), 256) {
		b[i] = byte(int32(i)*7 + seed)
	}
	for k := 256; k < len(b); k *= 2 {
		copy(b[k:], b[:k])
	}
	return b
}

func doUnary(_ context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	if e := parseFail(r.Value, "fail:"); e != nil {
		return nil, e
	}
	return &pb.ExampleReply{Message: echo(r), Blob: blob(r.ResponseSize, 1)}, nil
}

type replySender interface {
	Send(*pb.ExampleReply) error
	Context() context.Context
}

func doServerStream(r *pb.ExampleRequest, s replySender) error {
	if e := parseFail(r.Value, "fail:"); e != nil {
		return e
	}
	for i := range r.ResponseCount {
		if err := s.Send(&pb.ExampleReply{Message: echo(r), Seqno: i, Blob: blob(r.ResponseSize, i)}); err != nil {
			return err
		}
	}
	if e := parseFail(r.Value, "fail-after:"); e != nil {
		return e
	}
	if r.Value == "wait" {
		<-s.Context().Done()
		close(waiter(r.Multiplier))
		return s.Context().Err()
	}
	return nil
}

type requestReceiver interface {
	Recv() (*pb.ExampleRequest, error)
	Context() context.Context
}

func doClientStream(s requestReceiver) (*pb.ExampleReply, error) {
	var n, size int
	var sum uint32
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return &pb.ExampleReply{Message: fmt.Sprintf("%d|%d|%08x", n, size, sum), Seqno: int32(n)}, nil
		}
		if err != nil {
			return nil, err
		}
		if n == 0 && r.Value == "block" {
			<-s.Context().Done()
			close(waiter(r.Multiplier))
			return nil, s.Context().Err()
		}
		if e := parseFail(r.Value, "fail:"); e != nil {
			return nil, e
		}
		n++
		size += len(r.Blob)
		sum = crc32.Update(sum, crc32.IEEETable, r.Blob)
	}
}

type bidiStream interface {
	replySender
	Recv() (*pb.ExampleRequest, error)
}

func doBidi(s bidiStream) error {
	for i := int32(0); ; i++ {
		r, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if e := parseFail(r.Value, "fail:"); e != nil {
			return e
		}
		if err := s.Send(&pb.ExampleReply{Message: echo(r), Seqno: i, Blob: blob(r.ResponseSize, i)}); err != nil {
			return err
		}
	}
}
