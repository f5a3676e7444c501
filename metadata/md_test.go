package metadata_test

import (
	"reflect"
	"testing"

	"github.com/h2grpc/h2grpc/metadata"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want metadata.MD
	}{
		{"nil", nil, metadata.MD{}},
		{"lowercased", map[string]string{"X-Trace": "a", "k": "v"}, metadata.MD{"x-trace": {"a"}, "k": {"v"}}},
	}
	for _, tt := range tests {
		if got := metadata.New(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: New() = %v, want %v", tt.name, got, tt.want)
		}
	}
	// Keys that collide after lowercasing keep both values.
	got := metadata.New(map[string]string{"A": "1", "a": "2"})
	if len(got["a"]) != 2 || len(got) != 1 {
		t.Errorf("New() with colliding keys = %v, want both values under \"a\"", got)
	}
}

func TestPairs(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want metadata.MD
	}{
		{"none", nil, metadata.MD{}},
		{"one", []string{"Key", "v"}, metadata.MD{"key": {"v"}}},
		{"repeated keep order", []string{"k", "1", "K", "2", "other", "x", "k", "3"},
			metadata.MD{"k": {"1", "2", "3"}, "other": {"x"}}},
	}
	for _, tt := range tests {
		if got := metadata.Pairs(tt.in...); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Pairs() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPairsOddPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("Pairs with an odd count did not panic")
		}
	}()
	//lint:ignore SA5012 the odd count is what this test is about
	metadata.Pairs("k", "v", "lonely")
}

func TestGetSetAppendDelete(t *testing.T) {
	md := metadata.Pairs("a", "1")
	if got := md.Get("A"); !reflect.DeepEqual(got, []string{"1"}) {
		t.Errorf("Get(A) = %v", got)
	}
	if got := md.Get("missing"); got != nil {
		t.Errorf("Get(missing) = %v, want nil", got)
	}

	md.Append("A", "2", "3")
	if got := md.Get("a"); !reflect.DeepEqual(got, []string{"1", "2", "3"}) {
		t.Errorf("after Append, Get(a) = %v", got)
	}
	md.Append("a")
	if got := md.Get("a"); len(got) != 3 {
		t.Errorf("Append with no values changed the key: %v", got)
	}
	md.Append("New", "n")
	if got := md.Get("new"); !reflect.DeepEqual(got, []string{"n"}) {
		t.Errorf("Append to a new key: Get = %v", got)
	}

	vals := []string{"x", "y"}
	md.Set("A", vals...)
	vals[0] = "changed"
	if got := md.Get("a"); !reflect.DeepEqual(got, []string{"x", "y"}) {
		t.Errorf("after Set, Get(a) = %v (Set must copy its values)", got)
	}
	md.Set("a")
	if got := md.Get("a"); len(got) != 2 {
		t.Errorf("Set with no values changed the key: %v", got)
	}

	md.Delete("A")
	if _, ok := md["a"]; ok {
		t.Errorf("Delete(A) left key a")
	}
	if md.Len() != 1 {
		t.Errorf("Len() = %d, want 1 (%v)", md.Len(), md)
	}
}

func TestCopy(t *testing.T) {
	md := metadata.Pairs("a", "1", "a", "2", "b", "3")
	cp := md.Copy()
	if !reflect.DeepEqual(cp, md) {
		t.Fatalf("Copy() = %v, want %v", cp, md)
	}
	cp["a"][0] = "changed"
	cp.Append("b", "4")
	cp.Set("c", "5")
	if !reflect.DeepEqual(md, metadata.Pairs("a", "1", "a", "2", "b", "3")) {
		t.Errorf("changing the copy changed the original: %v", md)
	}
	var nilMD metadata.MD
	if got := nilMD.Copy(); got == nil || got.Len() != 0 {
		t.Errorf("nil.Copy() = %#v, want an empty MD", got)
	}
}

func TestJoin(t *testing.T) {
	a := metadata.Pairs("k", "1", "only-a", "x")
	b := metadata.Pairs("k", "2", "k", "3", "only-b", "y")
	got := metadata.Join(a, nil, b)
	want := metadata.MD{"k": {"1", "2", "3"}, "only-a": {"x"}, "only-b": {"y"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Join() = %v, want %v", got, want)
	}
	got["k"][0] = "changed"
	got["only-a"][0] = "changed"
	if a["k"][0] != "1" || a["only-a"][0] != "x" {
		t.Errorf("changing the join changed an input: %v", a)
	}
	if got := metadata.Join(); got == nil || got.Len() != 0 {
		t.Errorf("Join() of nothing = %#v, want an empty MD", got)
	}
}
