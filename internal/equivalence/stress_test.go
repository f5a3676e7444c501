package equivalence

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// TestStress runs a bounded burst of concurrent calls of every pattern,
// size and fate (completed, failed by the handler, cancelled by the client
// at a random moment) on one connection of each of heavyPairings with an
// h2grpc side (see heavyPairings for why a subset). Every call must end
// with the status its fate allows, quickly, and nothing may be left
// running afterwards (goleak in TestMain).
func TestStress(t *testing.T) {
	const (
		workers = 32
		calls   = 40 // per worker
	)
	var ps []examplePairing
	for _, p := range heavyPairings {
		if p.server.ours || p.client.ours {
			ps = append(ps, p)
		}
	}
	run(t, ps, limits{}, func(t *testing.T, p examplePairing, c exampleClient) {
		// A budget for a hang, not a speed check: a pairing takes about
		// 8 s under -race on the 2-core machine, and over 60 s when other
		// work loads it 5 times over (a cold CI run beside benchmarks).
		ctx := testContext(t, 180*time.Second)
		var wg sync.WaitGroup
		errs := make(chan error, workers*calls)
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for i := range calls {
					if err := stressCall(ctx, c, rng); err != nil {
						errs <- fmt.Errorf("worker %d call %d: %w", w, i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// The connection still serves a plain call afterwards.
		if _, err := c.UnaryUnary(ctx, &pb.ExampleRequest{Value: "after"}); err != nil {
			t.Fatalf("call after the burst: %v", err)
		}
	})
}

// stressCall makes one random call and checks its outcome.
func stressCall(parent context.Context, c exampleClient, rng *rand.Rand) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	cancelled := rng.IntN(4) == 0
	if cancelled {
		delay := time.Duration(rng.IntN(3000)) * time.Microsecond
		timer := time.AfterFunc(delay, cancel)
		defer timer.Stop()
	}
	size := []int32{0, 1, 100, 20 << 10, 300 << 10}[rng.IntN(5)]
	count := int32(rng.IntN(20))
	value := "v"
	failing := rng.IntN(6) == 0
	if failing {
		value = "fail:11:out of range"
	}
	// ok: the call's outcome is what its fate allows.
	ok := func(err error) error {
		switch code := status.Code(c.code(err)); {
		case err == nil || err == io.EOF:
			if failing {
				return fmt.Errorf("a failing call succeeded")
			}
			return nil
		case code == status.OutOfRange && failing:
			return nil
		case code == status.Canceled && cancelled:
			return nil
		default:
			return fmt.Errorf("unexpected outcome %v (failing %v, cancelled %v)", err, failing, cancelled)
		}
	}
	switch rng.IntN(4) {
	case 0:
		resp, err := c.UnaryUnary(ctx, &pb.ExampleRequest{Value: value, Blob: blob(size, 1), ResponseSize: size})
		if err == nil && len(resp.Blob) != int(size) {
			return fmt.Errorf("unary reply of %d bytes, want %d", len(resp.Blob), size)
		}
		return ok(err)
	case 1:
		s, err := c.UnaryStream(ctx, &pb.ExampleRequest{Value: value, ResponseCount: count, ResponseSize: size})
		if err == io.EOF {
			// See TestServerStreamAnsweredWhileSending.
			return fmt.Errorf("UnaryStream returned io.EOF, not a status (failing %v, cancelled %v)", failing, cancelled)
		}
		if err != nil {
			return ok(err)
		}
		for n := int32(0); ; n++ {
			r, err := s.Recv()
			if err != nil {
				if err == io.EOF && n != count {
					return fmt.Errorf("server stream ended after %d of %d replies", n, count)
				}
				return ok(err)
			}
			if len(r.Blob) != int(size) {
				return fmt.Errorf("reply of %d bytes, want %d", len(r.Blob), size)
			}
		}
	case 2:
		s, err := c.StreamUnary(ctx)
		if err != nil {
			return ok(err)
		}
		for range count {
			if s.Send(&pb.ExampleRequest{Value: "v", Blob: blob(size, 2)}) != nil {
				break
			}
		}
		if failing {
			s.Send(&pb.ExampleRequest{Value: value})
		}
		r, err := s.CloseAndRecv()
		if err == nil && r.Seqno != count {
			return fmt.Errorf("server counted %d requests, want %d", r.Seqno, count)
		}
		return ok(err)
	default:
		s, err := c.StreamStream(ctx)
		if err != nil {
			return ok(err)
		}
		for range count {
			if s.Send(&pb.ExampleRequest{Value: "v", ResponseSize: size}) != nil {
				break
			}
			if _, err := s.Recv(); err != nil {
				return ok(err)
			}
		}
		if failing {
			s.Send(&pb.ExampleRequest{Value: value})
		} else {
			s.CloseSend()
		}
		_, err = s.Recv()
		return ok(err)
	}
}
