package libcontainer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/internal/timerslack"
)

// nsRequest tells nsenter which namespaces to join and create.
type nsRequest struct {
	join   [][2]string // {nsenter type name, path}, user first
	clone  int
	uidMap []specs.LinuxIDMapping
	gidMap []specs.LinuxIDMapping
	timens string
	oom    *int
	// cgroupTasks are v1 tasks files nsenter joins first (cgroups.Placement).
	cgroupTasks []string
}

// nsenterNames are the type names nsenter.c knows.
var nsenterNames = map[specs.LinuxNamespaceType]string{
	specs.UserNamespace: "user", specs.MountNamespace: "mount", specs.PIDNamespace: "pid",
	specs.NetworkNamespace: "network", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

var cloneFlags = map[specs.LinuxNamespaceType]int{
	specs.UserNamespace: unix.CLONE_NEWUSER, specs.MountNamespace: unix.CLONE_NEWNS, specs.PIDNamespace: unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET, specs.IPCNamespace: unix.CLONE_NEWIPC, specs.UTSNamespace: unix.CLONE_NEWUTS,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

// addJoin queues a namespace to join, keeping the user namespace first so
// that the others are entered with its privileges.
func (r *nsRequest) addJoin(typ specs.LinuxNamespaceType, path string) {
	j := [2]string{nsenterNames[typ], path}
	if typ == specs.UserNamespace {
		r.join = append([][2]string{j}, r.join...)
		return
	}
	r.join = append(r.join, j)
}

func (r *nsRequest) encode() []byte {
	var b strings.Builder
	kv := func(k, v string) { b.WriteString(k + "=" + v + "\x00") }
	for _, j := range r.join {
		kv("join", j[0]+":"+j[1])
	}
	for _, t := range r.cgroupTasks {
		kv("cgtask", t)
	}
	kv("clone", strconv.Itoa(r.clone))
	if r.timens != "" {
		kv("timens", r.timens)
	}
	if r.oom != nil {
		kv("oom", strconv.Itoa(*r.oom))
	}
	return []byte(b.String())
}

// cloneDirectly returns the namespaces the init can be cloned into at once
// instead of nsenter unsharing them: then nsenter need not fork into a new
// PID namespace, which costs a process. Only when nothing is joined (a
// clone would create them before the joins) and there is no new user
// namespace (its uid maps must be written before the others are made) or
// time namespace (its offsets must be written before anyone enters it).
func (r *nsRequest) cloneDirectly() uintptr {
	if len(r.join) > 0 || r.clone&(unix.CLONE_NEWUSER|unix.CLONE_NEWTIME) != 0 {
		return 0
	}
	return uintptr(r.clone)
}

// createRequest derives the namespace work of a new container from its config.
func createRequest(spec *specs.Spec) nsRequest {
	var r nsRequest
	for _, ns := range spec.Linux.Namespaces {
		switch {
		case ns.Path != "":
			r.addJoin(ns.Type, ns.Path)
		case ns.Type == specs.CgroupNamespace:
			// The Go init unshares it once it is in the container's cgroup.
		default:
			r.clone |= cloneFlags[ns.Type]
		}
	}
	if r.clone&unix.CLONE_NEWUSER != 0 {
		r.uidMap, r.gidMap = spec.Linux.UIDMappings, spec.Linux.GIDMappings
	}
	var offsets strings.Builder
	for clock, off := range spec.Linux.TimeOffsets {
		fmt.Fprintf(&offsets, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
	}
	r.timens = offsets.String()
	r.oom = spec.Process.OOMScoreAdj
	return r
}

// launchOpts describe one `husk init` process.
type launchOpts struct {
	stateRoot string      // an empty-enough directory for sealing the binary
	dir       string      // working directory of the init
	stdio     [3]*os.File // the container process's stdio
	extra     []*os.File  // fds handed to the process as 3, 4, ...
	ns        nsRequest
	cpus      string // CPU list to start on (execCPUAffinity.initial)
	// cloneInto is a cgroup v2 directory the process starts in
	// (CLONE_INTO_CGROUP); with ns.cgroupTasks, it puts the process in the
	// container's cgroup before nsenter runs, so a cgroup namespace is
	// rooted there and no user code ever runs outside it.
	cloneInto string
}

// initProcess is a started `husk init` after nsenter has done its work.
type initProcess struct {
	conn conn
	pid  int // the Go init (container init or exec'd process), host pid
}

// launch starts `husk init` from the sealed binary and drives nsenter.
// The caller becomes a child subreaper so that the init, which nsenter may
// fork off, stays its child and can be waited for.
func launch(o launchOpts) (_ *initProcess, err error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become subreaper: %w", err)
	}
	exe, err := sealedExe(o.stateRoot)
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "init-parent"), os.NewFile(uintptr(fds[1]), "init-child")
	defer child.Close()
	files := append(append(o.stdio[:0:0], o.stdio[:]...), o.extra...)
	files = append(files, child)
	// One P is all the init needs; it also spares the Go runtime from
	// reading (and keeping open) the host's cgroup CPU limits.
	env := []string{"_HUSK_INITPIPE=" + strconv.Itoa(len(files)-1), "GOMAXPROCS=1"}
	// Exec through our own fd table: the path stays valid in the child.
	path := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), exe.Fd())
	sys, closeDir, err := cloneIntoAttr(o.cloneInto)
	if err != nil {
		parent.Close()
		return nil, err
	}
	// syscall.ForkExec, not os.StartProcess: os probes pidfd support with
	// a throwaway child the first time, and the clone gives us the pidfd.
	pidfd := -1
	sys.PidFD = &pidfd
	ns := o.ns
	sys.Cloneflags = ns.cloneDirectly()
	ns.clone &^= int(sys.Cloneflags)
	fdNums := make([]uintptr, len(files))
	for i, f := range files {
		fdNums[i] = f.Fd()
	}
	var pid int
	err = timerslack.Spawn(func() (err error) {
		pid, err = syscall.ForkExec(path, []string{"husk", "init"}, &syscall.ProcAttr{Dir: o.dir, Env: env, Files: fdNums, Sys: sys})
		return err
	})
	runtime.KeepAlive(files)
	closeDir()
	if err != nil {
		parent.Close()
		return nil, fmt.Errorf("start init: %w", err)
	}
	child.Close()
	p := &initProcess{conn: conn{parent}}
	// Our unwaited child: the pid cannot be reused while we hold it.
	defer func() {
		if err != nil {
			unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
			p.kill()
			parent.Close()
		}
		unix.Close(pidfd)
	}()
	if o.cpus != "" {
		if err := setAffinity(pid, "process.execCPUAffinity.initial", o.cpus); err != nil {
			return nil, err
		}
	}
	if err := p.conn.send(msgNsConfig, ns.encode()); err != nil {
		return nil, fmt.Errorf("send namespace config: %w", err)
	}
	for p.pid == 0 {
		typ, payload, fd, err := p.conn.recvWatching(pidfd)
		if fd >= 0 {
			unix.Close(fd) // nsenter sends no fds
		}
		if err != nil {
			if errors.Is(err, errPeerExited) {
				var ws unix.WaitStatus
				unix.Wait4(pid, &ws, 0, nil)
				return nil, fmt.Errorf("nsenter exited before reporting the init's pid (%s)", describeWait(ws))
			}
			return nil, p.died(pid, err)
		}
		switch typ {
		case msgUsermapReq:
			if err := writeIDMaps(pid, ns.uidMap, ns.gidMap); err != nil {
				return nil, err
			}
			if err := p.conn.send(msgUsermapAck, nil); err != nil {
				return nil, err
			}
		case msgPid:
			if len(payload) != 4 {
				return nil, fmt.Errorf("bad pid message from nsenter")
			}
			p.pid = int(binary.NativeEndian.Uint32(payload))
			if sys.Cloneflags&unix.CLONE_NEWPID != 0 {
				p.pid = pid // nsenter sees itself as 1
			}
		case msgError:
			return nil, remoteError(payload)
		default:
			return nil, fmt.Errorf("unexpected message %d from nsenter", typ)
		}
	}
	if p.pid != pid {
		// nsenter forked the init into the new PID namespace and exits.
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
			return nil, fmt.Errorf("wait for nsenter: %w", err)
		}
		if !ws.Exited() || ws.ExitStatus() != 0 {
			return nil, fmt.Errorf("nsenter exited with %s after reporting the init's pid", describeWait(ws))
		}
	}
	return p, nil
}

// errPeerExited says the process at the other end of the socket exited
// without sending anything more.
var errPeerExited = errors.New("process exited")

// recvWatching is recvFd that also watches the process behind pidfd: when it
// exits with nothing more sent, the wait ends with errPeerExited. End of
// file alone is not enough: a process it forked (nsenter's init) may hold
// the other end of the socket for ever. Frames are written whole (one
// write each), so once the process is gone there is no half frame to wait
// for.
func (c conn) recvWatching(pidfd int) (uint32, []byte, int, error) {
	fds := []unix.PollFd{{Fd: int32(c.f.Fd()), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return 0, nil, -1, fmt.Errorf("poll init socket: %w", err)
		}
		// Data (or end of file) first: the process may have sent its
		// last message and then exited.
		if fds[0].Revents != 0 {
			return c.recvFd()
		}
		if fds[1].Revents != 0 {
			return 0, nil, -1, errPeerExited
		}
	}
}

func writeIDMaps(pid int, uids, gids []specs.LinuxIDMapping) error {
	for _, m := range []struct {
		file string
		ids  []specs.LinuxIDMapping
	}{{"uid_map", uids}, {"gid_map", gids}} {
		var b strings.Builder
		for _, id := range m.ids {
			fmt.Fprintf(&b, "%d %d %d\n", id.ContainerID, id.HostID, id.Size)
		}
		path := fmt.Sprintf("/proc/%d/%s", pid, m.file)
		if err := os.WriteFile(path, []byte(b.String()), 0); err != nil {
			return fmt.Errorf("linux.%sMappings: write %s: %w", strings.TrimSuffix(m.file, "_map"), path, err)
		}
	}
	return nil
}

// died turns a closed init socket into an error, with the init's exit
// status when it can be collected.
func (p *initProcess) died(pid int, err error) error {
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, errPeerExited) {
		return fmt.Errorf("read from init: %w", err)
	}
	if p.pid != 0 {
		pid = p.pid
	}
	var ws unix.WaitStatus
	if wpid, werr := unix.Wait4(pid, &ws, 0, nil); werr == nil && wpid == pid {
		return fmt.Errorf("init exited unexpectedly (%s)", describeWait(ws))
	}
	return errors.New("init exited unexpectedly")
}

// kill stops the init for good and collects it.
func (p *initProcess) kill() {
	if p.pid <= 0 {
		return
	}
	unix.Kill(p.pid, unix.SIGKILL)
	var ws unix.WaitStatus
	unix.Wait4(p.pid, &ws, 0, nil)
}

func describeWait(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}

// ExitCode maps a wait status to a shell-style exit code: 128+N for signal N.
func ExitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
