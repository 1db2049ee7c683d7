//go:build !unix

package sqlite

// imageAlloc returns n zeroed bytes (the Go heap: no anonymous mappings
// here).
func imageAlloc(n int) []byte { return make([]byte, n) }

func imageFree(b []byte) { clear(b[:cap(b)]) }
