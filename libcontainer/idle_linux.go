package libcontainer

import (
	"debug/elf"
	"os"

	"golang.org/x/sys/unix"
)

// releaseIdleMemory shrinks the init while it waits in `created`, which
// may last as long as the user likes. Most of its resident memory (about
// 5 of 7 MB) is husk's own text and read-only data, mapped from the page
// cache: MADV_DONTNEED unmaps those pages from this process only, and the
// few that `start` needs fault back in from the page cache. The heap the
// setup left behind goes back to the kernel too. Best effort: without
// /proc/self/exe (no /proc in the container) only the heap shrinks.
func releaseIdleMemory() {
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return
	}
	// A position-independent binary is mapped at an offset that the
	// headers do not give; husk is built static and not PIE.
	if ef.Type != elf.ET_EXEC {
		return
	}
	page := uint64(os.Getpagesize())
	for _, p := range ef.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_W != 0 || p.Memsz == 0 {
			continue
		}
		start := p.Vaddr &^ (page - 1)
		end := (p.Vaddr + p.Memsz + page - 1) &^ (page - 1)
		unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
