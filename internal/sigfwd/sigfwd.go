// Package sigfwd catches signals without os/signal's per-signal cost.
//
// os/signal enables each signal with a handshake between two threads of
// the Go runtime (a channel round trip and an rt_sigprocmask): catching
// every signal that way takes about 50 of them, 2-3 ms of system time in
// every foreground `run` and `exec`. Catch installs a C handler with one
// sigaction(2) per signal instead; the handler writes the signal's number
// to a pipe, which Catch relays to a channel.
//
// Only asynchronous signals that the Go runtime does not use itself may be
// caught this way (os/signal's rules for non-Go handlers, with
// SA_ONSTACK): see Catchable.
package sigfwd

/*
#cgo CFLAGS: -Wall -Wextra -O2
#include "sigfwd.h"
*/
import "C"

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Catchable tells whether Catch may take sig. Left to the Go runtime are
// the signals it needs (SIGURG preempts goroutines, SIGPROF profiles), the
// synchronous ones (SIGSEGV and the like become panics), SIGPIPE (Go's own
// writes to stdout and stderr check whether os/signal catches it), the
// ones the C library reserves (32 to 34), and SIGKILL and SIGSTOP, which
// nobody catches.
func Catchable(sig unix.Signal) bool {
	switch sig {
	case unix.SIGKILL, unix.SIGSTOP, unix.SIGURG, unix.SIGPROF, unix.SIGPIPE,
		unix.SIGILL, unix.SIGTRAP, unix.SIGBUS, unix.SIGFPE, unix.SIGSEGV, unix.SIGSYS, unix.SIGSTKFLT:
		return false
	}
	return sig >= 1 && sig < 32 || sig > 34 && sig <= 64
}

// Catch makes every signal in sigs (all Catchable) arrive on c from now on
// instead of taking its default action. It is for one call per process:
// the handlers stay installed until exit (a forked child gets the default
// ones back when it execs). A later os/signal.Notify for one of these
// signals never fires: the Go runtime only puts its own handler back when
// os/signal enables a signal for the first time.
func Catch(c chan<- os.Signal, sigs []unix.Signal) error {
	nums := make([]C.int, len(sigs))
	for i, s := range sigs {
		if !Catchable(s) {
			return fmt.Errorf("catch %v: left to the Go runtime", s)
		}
		nums[i] = C.int(s)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return fmt.Errorf("signal pipe: %w", err)
	}
	go relay(os.NewFile(uintptr(p[0]), "signal pipe"), c)
	if len(nums) == 0 {
		return nil
	}
	// The write end stays open for good: the handlers may run until exit.
	if bad, err := C.sigfwd_install(C.int(p[1]), &nums[0], C.int(len(nums))); bad != 0 {
		return fmt.Errorf("catch %v: sigaction: %w", unix.Signal(bad), err)
	}
	return nil
}

func relay(r *os.File, c chan<- os.Signal) {
	var buf [64]byte
	for {
		n, err := r.Read(buf[:])
		if err != nil {
			return
		}
		for _, b := range buf[:n] {
			c <- unix.Signal(b)
		}
	}
}
