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
// as its default, so Spawn and ForExec put the inherited one back first.
package timerslack

/*
#cgo CFLAGS: -Wall -Wextra -O2
#include <sys/prctl.h>

#define HUSK_TIMER_SLACK_NS 5000000UL

static unsigned long husk_inherited_slack;
static int husk_slack_widened;

// After nsenter's constructor (which has priority 101): a `husk init` that
// nsenter forks takes the inherited slack as its default.
__attribute__((constructor(102))) static void husk_widen_timer_slack(void)
{
	int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	// 0: a real-time thread, whose sleeps have no slack to widen.
	if (slack <= 0 || (unsigned long)slack >= HUSK_TIMER_SLACK_NS)
		return;
	husk_inherited_slack = (unsigned long)slack;
	husk_slack_widened = prctl(PR_SET_TIMERSLACK, HUSK_TIMER_SLACK_NS, 0, 0, 0) == 0;
}

static int husk_timer_slack(unsigned long *inherited, unsigned long *wide)
{
	*inherited = husk_inherited_slack;
	*wide = HUSK_TIMER_SLACK_NS;
	return husk_slack_widened;
}
*/
import "C"

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

var inherited, wide, widened = func() (uintptr, uintptr, bool) {
	var i, w C.ulong
	ok := C.husk_timer_slack(&i, &w) != 0
	return uintptr(i), uintptr(w), ok
}()

// Wide is the slack of husk's own threads, or 0 when it was left as
// inherited (a real-time thread, or one started with a wider slack).
func Wide() uintptr {
	if !widened {
		return 0
	}
	return wide
}

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
	if !widened {
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

func set(slack uintptr) error {
	if !widened {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, slack, 0, 0, 0); err != nil {
		return fmt.Errorf("restore timer slack %d ns: %w", slack, err)
	}
	return nil
}
