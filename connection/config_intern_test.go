package connection

import "testing"

// TestInternConfig: connections of one configuration share it, and a
// program with a configuration per connection does not grow the table
// past maxInterned.
func TestInternConfig(t *testing.T) {
	a := internConfig(Config{MaxFrameSize: 1 << 15}.withDefaults())
	b := internConfig(Config{MaxFrameSize: 1 << 15}.withDefaults())
	if a != b {
		t.Error("two connections of one configuration do not share it")
	}
	if a.MaxFrameSize != 1<<15 || a.ReadBufferSize != DefaultReadBufferSize {
		t.Errorf("interned %+v", *a)
	}
	for i := range 2 * maxInterned {
		cfg := Config{MaxEmptyDataFrames: 1000 + i}.withDefaults()
		if p := internConfig(cfg); *p != cfg {
			t.Fatalf("configuration %d: got %+v", i, *p)
		}
	}
	if n := internedLen.Load(); n > maxInterned {
		t.Errorf("%d configurations kept, want at most %d", n, maxInterned)
	}
}
