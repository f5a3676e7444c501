package connection

// Flow control, RFC 9113 §6.9. Both types are owned by Conn.mu.

// initialWindow is the window every connection and stream starts with
// before SETTINGS and WINDOW_UPDATE say otherwise.
const initialWindow = 65535

// maxWindow is the largest legal flow-control window.
const maxWindow = 1<<31 - 1

// minRefresh is the least credit worth a WINDOW_UPDATE frame.
const minRefresh = 4 << 10

// inflow is a receive window: what the peer may still send (avail) and what
// the application has consumed but we have not yet returned (unsent).
type inflow struct {
	avail  int32
	unsent int32
}

func (f *inflow) init(n int32) { f.avail = n }

// take charges a received frame of n bytes to the window; false means the
// peer overran it.
func (f *inflow) take(n uint32) bool {
	if n > uint32(f.avail) {
		return false
	}
	f.avail -= int32(n)
	return true
}

// add returns n consumed bytes to the window and says how much to announce
// now: nothing until the unsent credit is worth a frame and at least what
// the peer still has, so a busy stream sends few WINDOW_UPDATEs and the
// peer is never left waiting on a closed window. Once the peer has no window
// left, any credit is announced: a window smaller than minRefresh would
// otherwise never reopen.
func (f *inflow) add(n int) int32 {
	unsent := int64(f.unsent) + int64(n)
	if unsent < int64(f.avail) || (unsent < minRefresh && f.avail > 0) {
		f.unsent = int32(min(unsent, maxWindow))
		return 0
	}
	incr := int32(min(unsent, int64(maxWindow-f.avail)))
	f.avail += incr
	f.unsent = 0
	return incr
}

// outflow is a send window: what we may still send. It can go negative when
// the peer lowers SETTINGS_INITIAL_WINDOW_SIZE.
type outflow struct {
	n int64
}

// grow adds the peer's credit; false means the window went past 2^31-1.
func (f *outflow) grow(n int64) bool {
	f.n += n
	return f.n <= maxWindow
}
