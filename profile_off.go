//go:build !huskprofile

package main

import "os"

// startCPUProfile of a husk built without the huskprofile tag: runtime/pprof
// is left out of the binary, which also leaves the Go runtime's memory
// profiling off (the linker turns it off when nothing can read it), a
// stack walk per sampled allocation in every husk process. `make
// bench-profile` builds bin/husk-profile with the tag.
func startCPUProfile() func() {
	if os.Getenv("HUSK_CPUPROFILE") != "" {
		logWarn("HUSK_CPUPROFILE: this husk has no profiler: use the one 'make bench-profile' builds (tag huskprofile)")
	}
	return func() {}
}
