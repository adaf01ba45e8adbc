package libcontainer

import (
	"debug/elf"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releaseIdleMemory shrinks the init while it waits in `created`, which
// may last as long as the user likes. Most of its resident memory (about
// 5 of 7 MB) is husk's own text and read-only data, mapped from the page
// cache: MADV_DONTNEED unmaps those pages from this process only, and the
// few that `start` needs fault back in from the page cache.
func releaseIdleMemory() {
	page := uint64(os.Getpagesize())
	for _, p := range readOnlySegments() {
		start := p.Vaddr &^ (page - 1)
		end := (p.Vaddr + p.Memsz + page - 1) &^ (page - 1)
		unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}

// Auxiliary vector keys (elf.h): where the kernel mapped the program
// headers, their size and count.
const (
	atPhdr  = 3
	atPhent = 4
	atPhnum = 5
)

// readOnlySegments lists husk's read-only PT_LOAD segments from the program
// headers the kernel mapped (AT_PHDR in the auxiliary vector): no file to
// open and parse. Nothing for a position-independent binary, which is
// mapped at an offset the headers do not give (then the headers, which
// follow the ELF header, are not where the first segment says); husk is
// built static and not PIE.
func readOnlySegments() []elf.Prog64 {
	auxv, err := unix.Auxv()
	if err != nil {
		return nil
	}
	var phdr, phnum, phent uintptr
	for _, kv := range auxv {
		switch kv[0] {
		case atPhdr:
			phdr = kv[1]
		case atPhnum:
			phnum = kv[1]
		case atPhent:
			phent = kv[1]
		}
	}
	if phdr == 0 || phent != unsafe.Sizeof(elf.Prog64{}) {
		return nil
	}
	// The headers are mapped with husk's first segment, not on Go's heap.
	progs := unsafe.Slice(*(**elf.Prog64)(unsafe.Pointer(&phdr)), phnum)
	var out []elf.Prog64
	for _, p := range progs {
		if elf.ProgType(p.Type) != elf.PT_LOAD {
			continue
		}
		if p.Off == 0 && uintptr(p.Vaddr)+unsafe.Sizeof(elf.Header64{}) != phdr {
			return nil // loaded at an offset: PIE
		}
		if elf.ProgFlag(p.Flags)&elf.PF_W == 0 && p.Memsz > 0 {
			out = append(out, p)
		}
	}
	return out
}
