//go:build unix

package sqlite

import "golang.org/x/sys/unix"

// imageAlloc returns n zeroed bytes outside the Go heap (an anonymous
// mapping): the garbage collector neither scans them nor counts them in
// the heap it paces itself by, so the image costs its size in memory, not
// twice that (GOGC). imageFree gives them back.
func imageAlloc(n int) []byte {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n) // no mapping: the Go heap
	}
	return b
}

func imageFree(b []byte) {
	if cap(b) > 0 && unix.Munmap(b[:cap(b)]) != nil {
		clear(b[:cap(b)]) // a heap slice (imageAlloc's fallback): the GC frees it
	}
}
