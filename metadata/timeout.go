package metadata

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// This file holds the grpc-timeout codec (SPEC.md, "Requests"): 1 to 8 ASCII
// digits and one unit, H (hours), M (minutes), S (seconds), m (milliseconds),
// u (microseconds) or n (nanoseconds).

// maxTimeoutValue is the largest value 8 digits hold.
const maxTimeoutValue = 99_999_999

// timeoutUnits are the units, finest first.
var timeoutUnits = [...]struct {
	unit byte
	d    time.Duration
}{
	{'n', time.Nanosecond},
	{'u', time.Microsecond},
	{'m', time.Millisecond},
	{'S', time.Second},
	{'M', time.Minute},
	{'H', time.Hour},
}

// EncodeTimeout returns the grpc-timeout value for d: the value in the finest
// unit whose value, rounded up, fits in 8 digits, so the peer never sees a
// timeout shorter than d. A d <= 0 (already expired, but still a timeout)
// gives "1n". It allocates only the result.
func EncodeTimeout(d time.Duration) string {
	if d <= 0 {
		return "1n"
	}
	var buf [9]byte
	for _, u := range timeoutUnits {
		v := d / u.d
		if d%u.d != 0 {
			v++
		}
		if v > maxTimeoutValue {
			continue
		}
		i := len(buf) - 1
		buf[i] = u.unit
		for {
			i--
			buf[i] = byte('0' + v%10)
			v /= 10
			if v == 0 {
				break
			}
		}
		return string(buf[i:])
	}
	// Unreachable: the largest Duration is about 2.6 million hours.
	panic("metadata: EncodeTimeout: duration out of range")
}

// DecodeTimeout parses a grpc-timeout value: 1 to 8 ASCII digits followed by
// exactly one unit (H M S m u n). Anything else (empty, 9 or more digits, no
// unit, an unknown unit, a sign, spaces) is an error. A value beyond the
// largest [time.Duration] saturates at it.
func DecodeTimeout(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("metadata: malformed grpc-timeout %q: want 1-8 digits and a unit", s)
	}
	digits := s[:len(s)-1]
	if len(digits) > 8 {
		return 0, fmt.Errorf("metadata: malformed grpc-timeout %q: more than 8 digits", clip(s))
	}
	unit, err := timeoutUnit(s[len(s)-1])
	if err != nil {
		return 0, fmt.Errorf("metadata: malformed grpc-timeout %q: %w", s, err)
	}
	var v int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("metadata: malformed grpc-timeout %q: want 1-8 digits and a unit", s)
		}
		v = v*10 + int64(c-'0')
	}
	if v > math.MaxInt64/int64(unit) {
		return math.MaxInt64, nil
	}
	return time.Duration(v) * unit, nil
}

var errTimeoutUnit = errors.New("unknown unit; want one of H M S m u n")

func timeoutUnit(c byte) (time.Duration, error) {
	for _, u := range timeoutUnits {
		if u.unit == c {
			return u.d, nil
		}
	}
	return 0, errTimeoutUnit
}

// clip shortens s for use in an error message.
func clip(s string) string {
	const max = 32
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
