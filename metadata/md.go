package metadata

import (
	"fmt"
	"strings"
)

// MD is request or response metadata: lowercase keys, each with its values
// in the order they were added or received. Use the methods rather than
// indexing when a key may not be lowercase.
//
// See the package documentation for the concurrency rules.
type MD map[string][]string

// New returns an MD with one value per key of m; the keys are lowercased.
// When two keys of m lowercase to the same key, the values are kept in an
// unspecified order.
func New(m map[string]string) MD {
	md := make(MD, len(m))
	for k, v := range m {
		k = strings.ToLower(k)
		md[k] = append(md[k], v)
	}
	return md
}

// Pairs returns an MD made of key/value pairs: Pairs(k1, v1, k2, v2, ...).
// Keys are lowercased; the values of a repeated key are kept in order. It
// panics when given an odd number of strings, as grpc-go's metadata.Pairs
// does.
func Pairs(kv ...string) MD {
	if len(kv)%2 == 1 {
		panic(fmt.Sprintf("metadata: Pairs got an odd number of strings: %d", len(kv)))
	}
	md := make(MD, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k := strings.ToLower(kv[i])
		md[k] = append(md[k], kv[i+1])
	}
	return md
}

// Get returns the values of key k (lowercased first). The slice belongs to
// md; callers must not change it.
func (md MD) Get(k string) []string {
	return md[strings.ToLower(k)]
}

// Set replaces the values of key k (lowercased first) with vals. Set with no
// values does nothing, as in grpc-go; use [MD.Delete] to remove a key.
func (md MD) Set(k string, vals ...string) {
	if len(vals) == 0 {
		return
	}
	md[strings.ToLower(k)] = append([]string(nil), vals...)
}

// Append adds vals after the existing values of key k (lowercased first).
// Append with no values does nothing.
func (md MD) Append(k string, vals ...string) {
	if len(vals) == 0 {
		return
	}
	k = strings.ToLower(k)
	md[k] = append(md[k], vals...)
}

// Delete removes key k (lowercased first) and its values.
func (md MD) Delete(k string) {
	delete(md, strings.ToLower(k))
}

// Copy returns a deep copy of md: changing one does not change the other.
// The copy of a nil MD is an empty, non-nil MD.
func (md MD) Copy() MD {
	out := make(MD, len(md))
	for k, v := range md {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// Len returns the number of keys in md.
func (md MD) Len() int {
	return len(md)
}

// Join returns a new MD holding all the values of mds: for each key, the
// values of the first MD, then those of the second, and so on. The inputs
// are not changed. Keys are taken as they are (MDs built by this package
// hold lowercase keys).
func Join(mds ...MD) MD {
	n := 0
	for _, md := range mds {
		n += len(md)
	}
	out := make(MD, n)
	for _, md := range mds {
		for k, v := range md {
			out[k] = append(out[k], v...)
		}
	}
	return out
}
