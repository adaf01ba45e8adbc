//go:build huskprofile

package main

import (
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile of this husk process to the file
// named by HUSK_CPUPROFILE, for `make bench-profile`; the returned func
// ends it. Unset, it costs one getenv. `husk init` never profiles: its
// environment is husk's own.
func startCPUProfile() func() {
	path := os.Getenv("HUSK_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		logWarn("HUSK_CPUPROFILE: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		logWarn("HUSK_CPUPROFILE: %v", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
