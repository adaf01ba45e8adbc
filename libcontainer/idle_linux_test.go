package libcontainer

import (
	"debug/elf"
	"testing"
)

// The segments found in memory are the ones the executable's file gives.
func TestReadOnlySegments(t *testing.T) {
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []elf.ProgHeader
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W == 0 && p.Memsz > 0 {
			want = append(want, p.ProgHeader)
		}
	}
	got := readOnlySegments()
	if f.Type != elf.ET_EXEC {
		if len(got) != 0 {
			t.Fatalf("position-independent test binary: got %d segments, want none", len(got))
		}
		t.Skip("test binary is position-independent")
	}
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("got %d read-only segments, want %d", len(got), len(want))
	}
	for i, p := range got {
		if p.Vaddr != want[i].Vaddr || p.Memsz != want[i].Memsz {
			t.Errorf("segment %d: vaddr %#x size %#x, want %#x %#x", i, p.Vaddr, p.Memsz, want[i].Vaddr, want[i].Memsz)
		}
	}
}
