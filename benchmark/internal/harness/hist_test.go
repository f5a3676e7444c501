package harness

import (
	"math"
	"testing"
	"time"
)

func TestHistBucketsCoverValues(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 100, 1000, 12345, 1 << 20, 1<<40 + 7, math.MaxInt64} {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d, out of [0, %d)", v, i, histBuckets)
		}
		mid := histValue(i)
		if v >= histLinear && math.Abs(float64(mid)-float64(v)) > float64(v)/histSub {
			t.Errorf("value %d lands in bucket %d whose middle is %d: more than 1/%d away", v, i, mid, histSub)
		}
		if v < histLinear && mid != v {
			t.Errorf("value %d: bucket middle %d, want exact", v, mid)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := h.quantile(tc.q)
		if math.Abs(float64(got-tc.want)) > float64(tc.want)/histSub {
			t.Errorf("quantile(%v) = %v, want %v within 1/%d", tc.q, got, tc.want, histSub)
		}
	}
	var empty hist
	if got := empty.quantile(0.5); got != 0 {
		t.Errorf("empty quantile = %v, want 0", got)
	}
}
