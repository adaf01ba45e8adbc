// Package timerslack gives husk's own threads a wide timer slack, and the
// programs husk starts the slack husk itself was started with.
//
// The Go runtime's monitor thread (sysmon) sleeps 20 µs at a time for its
// first 50 rounds, so every husk process woke it about 50 times, with two
// context switches each: two thirds of the context switches of a `husk
// run`. With a wide slack the kernel lets those sleeps run long, and a
// storm of containers takes a fifth less CPU. husk's own timers (retry
// back-offs, hook timeouts, the events interval) fire at most that late.
//
// A C constructor widens the slack before the Go runtime makes its first
// thread, since a thread inherits the slack of the thread that makes it.
// A process forked from a thread takes that thread's slack as its own and
// as its default, so Spawn (or Run) and ForExec put the inherited one
// back first: every program husk starts goes through one of them.
package timerslack

/*
#cgo CFLAGS: -Wall -Wextra -O2
#include <sys/prctl.h>

#define HUSK_TIMER_SLACK_NS 5000000UL

// The slack husk was started with, once it is widened; else 0.
static unsigned long husk_inherited_slack;

// After nsenter's constructor (which has priority 101): a `husk init` that
// nsenter forks takes the inherited slack as its default.
__attribute__((constructor(102))) static void husk_widen_timer_slack(void)
{
	int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	// 0: a real-time thread, whose sleeps have no slack to widen.
	if (slack <= 0 || (unsigned long)slack >= HUSK_TIMER_SLACK_NS)
		return;
	if (prctl(PR_SET_TIMERSLACK, HUSK_TIMER_SLACK_NS, 0, 0, 0) == 0)
		husk_inherited_slack = (unsigned long)slack;
}

static unsigned long husk_inherited(void) { return husk_inherited_slack; }
*/
import "C"

import (
	"fmt"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// wide is the slack of husk's own threads.
const wide = uintptr(C.HUSK_TIMER_SLACK_NS)

// inherited is the slack husk was started with, or 0 when the constructor
// left it alone (a real-time thread, or one started with a wider slack).
var inherited = uintptr(C.husk_inherited())

// ForExec gives the calling thread back the inherited slack, for a
// program about to replace the process by execve(2) on that thread,
// which must be locked to it.
func ForExec() error {
	return set(inherited)
}

// Spawn calls start, which forks and execs another program, on a thread
// with the inherited slack, so that the program starts with the slack
// husk was started with.
func Spawn(start func() error) error {
	if inherited == 0 {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := set(inherited); err != nil {
		return err
	}
	// Left narrow if this fails: only sysmon's wake-ups would cost more.
	defer set(wide)
	return start()
}

// Run runs cmd (Start, then Wait) through Spawn.
func Run(cmd *exec.Cmd) error {
	if err := Spawn(cmd.Start); err != nil {
		return err
	}
	return cmd.Wait()
}

func set(slack uintptr) error {
	if inherited == 0 {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, slack, 0, 0, 0); err != nil {
		return fmt.Errorf("restore timer slack %d ns: %w", slack, err)
	}
	return nil
}
