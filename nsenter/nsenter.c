/*
 * nsenter runs as a constructor of the husk binary, before the Go runtime
 * starts any thread. Only `husk init` processes have _HUSK_INITPIPE set; for
 * every other invocation this returns at once.
 *
 * setns() into a user or mount namespace and unshare(CLONE_NEWUSER) are
 * refused to multi-threaded processes, and a new PID or time namespace only
 * applies to children, so this work has to happen here, in C, while the
 * process is still single-threaded.
 *
 * Protocol (see libcontainer/message.go): frames of u32 type, u32 length,
 * payload, in host byte order, over the socket in _HUSK_INITPIPE.
 *   parent -> here: MSG_NSCONFIG, NUL-separated "key=value" strings:
 *     cgtask=<path>       a cgroup v1 tasks file to write "0" to, first of
 *                         all: this single thread moves itself, which
 *                         unlike a pid write takes no global cgroup lock
 *     join=<type>:<path>  setns into that namespace (user first, in order)
 *     clone=<flags>       CLONE_NEW* flags to unshare
 *     timens=<offsets>    written to /proc/self/timens_offsets
 *     oom=<score>         written to /proc/self/oom_score_adj
 *   here -> parent: MSG_USERMAP_REQ after unshare(CLONE_NEWUSER); the parent
 *     writes our uid_map/gid_map and answers MSG_USERMAP_ACK.
 *   here -> parent: MSG_PID with the pid (host view) of the process that goes
 *     on to the Go init, or MSG_ERROR with a one-line message.
 * When a new PID or time namespace is involved we fork: the child is the
 * container's init and this process exits; the parent (a subreaper when it
 * waits for the container) collects both.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

enum {
	MSG_NSCONFIG = 1,
	MSG_USERMAP_REQ = 2,
	MSG_USERMAP_ACK = 3,
	MSG_PID = 4,
	MSG_ERROR = 5,
};

#define MAX_CONFIG (1 << 20)
#define MAX_JOIN 16

static int pipefd = -1;

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

#define MAX_SEND 1024

/* One write per frame: if we are killed, the parent finds the frame whole
 * or not at all, never a header waiting for its payload. */
static void send_msg(uint32_t type, const void *data, uint32_t len)
{
	char buf[8 + MAX_SEND];
	uint32_t hdr[2] = { type, len };
	if (len > MAX_SEND)
		_exit(1);
	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), data, len);
	if (write_all(pipefd, buf, sizeof(hdr) + len) < 0)
		_exit(1);
}

/* bail reports a one-line error to the parent (with errno's text, if set) and exits. */
static void bail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void bail(const char *fmt, ...)
{
	char msg[MAX_SEND];
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (saved)
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(saved));
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	send_msg(MSG_ERROR, msg, (uint32_t)n);
	_exit(1);
}

static void expect_msg(uint32_t want, char **payload, uint32_t *len)
{
	uint32_t hdr[2];
	errno = 0;
	if (read_all(pipefd, hdr, sizeof(hdr)) < 0)
		bail("nsenter: read message from parent");
	if (hdr[0] != want || hdr[1] > MAX_CONFIG) {
		errno = 0;
		bail("nsenter: unexpected message %u (length %u), want %u", hdr[0], hdr[1], want);
	}
	char *buf = malloc(hdr[1] + 1);
	if (!buf)
		bail("nsenter: allocate %u bytes", hdr[1]);
	if (hdr[1] > 0 && read_all(pipefd, buf, hdr[1]) < 0)
		bail("nsenter: read message payload");
	buf[hdr[1]] = '\0';
	if (payload)
		*payload = buf;
	else
		free(buf);
	if (len)
		*len = hdr[1];
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		bail("nsenter: open %s", path);
	if (write_all(fd, data, strlen(data)) < 0)
		bail("nsenter: write %s", path);
	close(fd);
}

struct ns_type {
	const char *name;
	int flag;
};

static const struct ns_type ns_types[] = {
	{ "user", CLONE_NEWUSER }, { "mount", CLONE_NEWNS },  { "pid", CLONE_NEWPID },
	{ "network", CLONE_NEWNET }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS },
	{ "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
};

static int ns_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(ns_types) / sizeof(ns_types[0]); i++)
		if (strlen(ns_types[i].name) == len && strncmp(ns_types[i].name, name, len) == 0)
			return ns_types[i].flag;
	errno = 0;
	bail("nsenter: unknown namespace type %.*s", (int)len, name);
}

struct join {
	int flag;
	int fd;
	const char *path;
};

void nsenter(void)
{
	const char *env = getenv("_HUSK_INITPIPE");
	if (!env)
		return;
	pipefd = atoi(env);
	if (pipefd < 3)
		_exit(1);

	/* Die with husk: killed while we wait here, it must not leave us
	 * behind. The Go init sets its own once husk is surely its parent
	 * (a child we fork does not inherit this). If husk died before the
	 * prctl, its end of the socket is already closed. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		bail("nsenter: prctl(PR_SET_PDEATHSIG)");
	struct pollfd pfd = { .fd = pipefd, .events = POLLRDHUP };
	if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP)))
		_exit(1);

	char *config;
	uint32_t len;
	expect_msg(MSG_NSCONFIG, &config, &len);

	struct join joins[MAX_JOIN];
	int njoin = 0, cloneflags = 0, joined = 0;
	const char *timens = NULL, *oom = NULL;
	for (char *kv = config; kv < config + len; kv += strlen(kv) + 1) {
		if (strncmp(kv, "join=", 5) == 0) {
			char *type = kv + 5, *colon = strchr(type, ':');
			errno = 0;
			if (!colon || njoin == MAX_JOIN)
				bail("nsenter: bad join entry %s", kv);
			joins[njoin].flag = ns_flag(type, (size_t)(colon - type));
			joins[njoin].path = colon + 1;
			njoin++;
		} else if (strncmp(kv, "clone=", 6) == 0) {
			cloneflags = atoi(kv + 6);
		} else if (strncmp(kv, "timens=", 7) == 0) {
			timens = kv + 7;
		} else if (strncmp(kv, "oom=", 4) == 0) {
			oom = kv + 4;
		} else if (strncmp(kv, "cgtask=", 7) == 0) {
			/* Still in the parent's mount namespace: host paths resolve. */
			write_file(kv + 7, "0");
		}
	}

	/* Before entering a user namespace, and while we still own our /proc
	 * files: afterwards we may lack the right. */
	if (oom)
		write_file("/proc/self/oom_score_adj", oom);

	/* Keep the container from reaching our memory and fds through /proc/<pid>. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail("nsenter: prctl(PR_SET_DUMPABLE)");

	/* Open every path first: after one setns the others may not resolve. */
	for (int i = 0; i < njoin; i++) {
		joins[i].fd = open(joins[i].path, O_RDONLY | O_CLOEXEC);
		if (joins[i].fd < 0)
			bail("nsenter: open namespace %s", joins[i].path);
	}
	for (int i = 0; i < njoin; i++) {
		if (setns(joins[i].fd, joins[i].flag) < 0)
			bail("nsenter: setns %s", joins[i].path);
		close(joins[i].fd);
		joined |= joins[i].flag;
	}

	if (cloneflags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			bail("nsenter: unshare user namespace");
		send_msg(MSG_USERMAP_REQ, "", 0);
		expect_msg(MSG_USERMAP_ACK, NULL, NULL);
	}
	if (joined & CLONE_NEWUSER || cloneflags & CLONE_NEWUSER) {
		/* Become root of the user namespace; uid 0 must be mapped. */
		if (setresgid(0, 0, 0) < 0)
			bail("nsenter: setresgid(0) in the user namespace");
		if (setresuid(0, 0, 0) < 0)
			bail("nsenter: setresuid(0) in the user namespace");
	}

	int rest = cloneflags & ~CLONE_NEWUSER;
	if (rest && unshare(rest) < 0)
		bail("nsenter: unshare namespaces 0x%x", rest);
	if (timens)
		write_file("/proc/self/timens_offsets", timens);

	pid_t pid = getpid();
	if ((cloneflags | joined) & (CLONE_NEWPID | CLONE_NEWTIME)) {
		pid = fork();
		if (pid < 0)
			bail("nsenter: fork into the new namespaces");
		if (pid > 0) {
			uint32_t p = (uint32_t)pid;
			send_msg(MSG_PID, &p, sizeof(p));
			_exit(0);
		}
		free(config);
		return; /* the container's init: on to the Go runtime */
	}
	uint32_t p = (uint32_t)pid;
	send_msg(MSG_PID, &p, sizeof(p));
	free(config);
}
