// The signal handler of package sigfwd: it writes the number of each
// signal it catches, one byte, to a pipe that Go reads.

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sigfwd.h"

static volatile int sigfwd_fd = -1;

static void sigfwd_handler(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	// A full pipe (nobody reads any more) drops the signal.
	(void)!write(sigfwd_fd, &b, 1);
	errno = saved;
}

int sigfwd_install(int fd, const int *sigs, int n)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sigfwd_handler;
	// SA_ONSTACK: it runs on Go threads, which need their signal stacks
	// (os/signal's rules for non-Go handlers). SA_RESTART: Go's
	// syscalls do not expect EINTR from these signals.
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	sigfwd_fd = fd;
	for (int i = 0; i < n; i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return sigs[i];
	return 0;
}
