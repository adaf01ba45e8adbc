package seccomp

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// precompileMatches checks that Compile after Precompile(s, bpf) gives the
// filter a direct compilation of s does.
func precompileMatches(t *testing.T, s *specs.LinuxSeccomp, bpf []byte) {
	t.Helper()
	want, err := compileNow(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	Precompile(s, bpf)
	got, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	// Compile took the precompiled result rather than compiling anew.
	if pending.cfg != nil {
		t.Fatalf("the precompiled result is still pending after use")
	}
	if got == nil || !slices.Equal(got.prog, want.prog) || got.flags != want.flags {
		t.Fatalf("precompiled filter (from %d bytes of cached program) differs from a direct compilation", len(bpf))
	}
}

func TestPrecompileGivesTheSameFilter(t *testing.T) {
	s := loadProfile(t)
	precompileMatches(t, s, nil)
	// Another config is compiled on its own, and errors come through.
	bad := &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}
	Precompile(bad, nil)
	if _, err := Compile(bad); err == nil {
		t.Fatalf("Compile of a precompiled bad config succeeded")
	}
}
