package libcontainer

import (
	"errors"
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"

	"husk/internal/sigfwd"
)

// Forwarder catches every signal from before the container process
// exists, so that none kills husk half way or is lost; Wait hands them on.
// Like runc, it forwards every signal that can be caught but SIGURG (the
// Go runtime's preemption), and uses SIGCHLD to reap; SIGWINCH is the
// terminal relay's.
type Forwarder struct{ sigs chan os.Signal }

// The handlers stay for the life of the process, so there is one channel:
// every Forwarder of a process reads it.
var caught struct {
	once sync.Once
	sigs chan os.Signal
}

// NewForwarder starts catching signals: most with sigfwd's handler, which
// costs one sigaction(2) each, and the few the Go runtime must keep
// through os/signal, which costs no thread handshake for the synchronous
// ones and one for SIGPIPE. Should sigfwd fail, os/signal takes them all.
func NewForwarder() *Forwarder {
	caught.once.Do(func() {
		caught.sigs = make(chan os.Signal, 128)
		var ours []unix.Signal
		var runtimes []os.Signal
		for s := unix.Signal(1); s <= 64; s++ {
			switch {
			case s == unix.SIGURG || s == unix.SIGWINCH || s == unix.SIGPROF:
				// Not forwarded; SIGPROF never reaches os/signal.
			case sigfwd.Catchable(s):
				ours = append(ours, s)
			default:
				runtimes = append(runtimes, s)
			}
		}
		if err := sigfwd.Catch(caught.sigs, ours); err != nil {
			signal.Notify(caught.sigs)
			return
		}
		signal.Notify(caught.sigs, runtimes...)
	})
	// What an earlier Forwarder of this process left (in tests) is not
	// for this one's process.
	for {
		select {
		case <-caught.sigs:
		default:
			return &Forwarder{sigs: caught.sigs}
		}
	}
}

// Wait forwards signals (those caught so far first) to pid, reaps every
// child that ends, and returns pid's exit code once it ends. The caller
// must be pid's parent or its subreaper. Signals stay caught afterwards:
// husk exits right after.
func (f *Forwarder) Wait(pid int) int {
	for {
		if code, done := reap(pid); done {
			return code
		}
		sig := (<-f.sigs).(unix.Signal)
		switch sig {
		case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH:
			// SIGURG is the Go runtime's own preemption signal.
		default:
			unix.Kill(pid, sig)
		}
	}
}

// reap collects every exited child without blocking.
func reap(pid int) (code int, done bool) {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || wpid <= 0 {
			return 0, errors.Is(err, unix.ECHILD)
		}
		if wpid == pid {
			return ExitCode(ws), true
		}
	}
}
