package seccomp

import (
	"runtime"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A large profile takes libseccomp milliseconds to compile. The init
// starts that at once, on another thread, and meanwhile does its mounts;
// Compile of the same config then takes the result.
var pending struct {
	sync.Mutex
	cfg  *specs.LinuxSeccomp
	done chan struct{}
	f    *Filter
	err  error
}

// Precompile starts compiling s in the background; the next Compile of
// the same *LinuxSeccomp (which must not change meanwhile) waits for it.
// bpf, when not nil, is s compiled before (the parent's Cached): Compile
// then only decodes it and asks the kernel about the flags, and libseccomp
// compiles nothing.
func Precompile(s *specs.LinuxSeccomp, bpf []byte) {
	if s == nil || disabled(s) {
		return
	}
	pending.Lock()
	defer pending.Unlock()
	pending.cfg, pending.done = s, make(chan struct{})
	if bpf != nil {
		pending.f, pending.err = compileNow(s, bpf)
		close(pending.done)
		return
	}
	// The init runs with one P: the compilation (Go between many cgo
	// calls) and the caller would take turns on it.
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
	go func() {
		f, err := compileNow(s, nil)
		pending.f, pending.err = f, err
		close(pending.done)
	}()
}

// precompiled returns the background result for s, if Precompile had it.
func precompiled(s *specs.LinuxSeccomp) (f *Filter, ok bool, err error) {
	pending.Lock()
	defer pending.Unlock()
	if s == nil || pending.cfg != s {
		return nil, false, nil
	}
	<-pending.done
	pending.cfg = nil
	return pending.f, true, pending.err
}
