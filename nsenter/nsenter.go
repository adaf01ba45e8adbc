// Package nsenter enters or creates the namespaces of a `husk init` process
// before the Go runtime starts. Importing it installs a C constructor; see
// nsenter.c for the protocol it speaks with the parent.
package nsenter

/*
#cgo CFLAGS: -Wall -Wextra -O2
void nsenter(void);
// First of husk's constructors: see internal/timerslack.
__attribute__((constructor(101))) static void husk_nsenter(void) { nsenter(); }
*/
import "C"

import (
	"os"
	"runtime"
)

func init() {
	// `husk init` joins the container's v1 cgroups with the thread that
	// execs, which must be the thread group leader, whose cgroup memory is
	// charged to: package inits run on the main thread, keep it there.
	if os.Getenv("_HUSK_INITPIPE") != "" {
		runtime.LockOSThread()
	}
}
