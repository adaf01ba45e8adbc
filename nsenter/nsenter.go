// Package nsenter enters or creates the namespaces of a `husk init` process
// before the Go runtime starts. Importing it installs a C constructor; see
// nsenter.c for the protocol it speaks with the parent.
package nsenter

/*
#cgo CFLAGS: -Wall -Wextra -O2
void nsenter(void);
__attribute__((constructor)) static void husk_nsenter(void) { nsenter(); }
*/
import "C"
