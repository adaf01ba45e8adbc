package main

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// husk itself must not link runtime/pprof: the linker then turns the Go
// runtime's memory profiling off, a stack walk per sampled allocation in
// every husk process. Only the huskprofile build has the profiler.
func TestProfilerOnlyWithTag(t *testing.T) {
	for _, c := range []struct {
		tags string
		want bool
	}{{"", false}, {"huskprofile", true}} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, "go", "list", "-deps", "-tags", c.tags, ".").Output()
		cancel()
		if err != nil {
			t.Fatalf("go list -deps -tags %q: %v", c.tags, err)
		}
		if got := slices.Contains(strings.Fields(string(out)), "runtime/pprof"); got != c.want {
			t.Errorf("tags %q: runtime/pprof linked: %v, want %v", c.tags, got, c.want)
		}
	}
}
