package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/cgroups"
	"husk/seccomp"
)

// CreateOpts are the options of `create` and `run`.
type CreateOpts struct {
	Root         string
	ID           string
	Bundle       *Bundle
	PidFile      string
	NoPivot      bool
	NoNewKeyring bool
	PreserveFds  int
	// ListenFds are socket-activation fds (LISTEN_FDS): they go first, from 3.
	ListenFds int
	Stdio     [3]*os.File
	// Console receives the pty master when process.terminal is set; the
	// process's stdio is then the terminal, and Stdio is not used.
	Console func(master *os.File) error
}

// Warnf reports problems that do not fail the command (set by the CLI).
var Warnf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, "husk: warning: "+format+"\n", args...) }

// Create makes a container and leaves it in the created state; on any error
// it leaves nothing behind. The returned container is locked.
func Create(o CreateOpts) (_ *Container, err error) {
	if _, err := containerDir(o.Root, o.ID); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Root, 0o700); err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	b := o.Bundle
	spec := b.Spec
	cg, err := cgroups.New(spec.Linux.CgroupsPath, o.ID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.File, err)
	}
	// The cgroup paths are recorded with the directory, before the cgroups
	// exist, so that `delete` finds them whenever create dies.
	dir, lock, err := makeLockedDir(o.Root, o.ID, cg.Paths())
	if err != nil {
		return nil, err
	}
	var p *initProcess
	defer func() {
		if err != nil {
			if p != nil {
				p.kill()
				p.conn.f.Close()
			}
			cg.Kill()
			cg.Destroy()
			removeDir(dir)
			lock.Close()
		}
	}()

	bpf, storeBPF := seccomp.Cached(o.Root, spec.Linux.Seccomp)
	defer storeBPF()
	warnUnknownCaps(b.File, spec.Process)
	listener, err := listenStart(lock)
	if err != nil {
		return nil, err
	}
	defer listener.Close()
	extra, err := inheritedFds(3, o.ListenFds, "LISTEN_FDS")
	if err != nil {
		return nil, err
	}
	preserved, err := inheritedFds(3+o.ListenFds, o.PreserveFds, "--preserve-fds")
	if err != nil {
		return nil, err
	}
	extra = append(extra, preserved...)
	stdio, closeStdio, err := processStdio(spec.Process.Terminal, o.Console, o.Stdio)
	if err != nil {
		return nil, err
	}
	cloneInto, byPid := createPlacement(cg, spec)
	if cloneInto != "" {
		if err := cgroups.MkdirAll(cloneInto); err != nil {
			return nil, inFile(b.File, err)
		}
	}
	p, err = launch(launchOpts{
		stateRoot: o.Root, dir: b.Dir, stdio: stdio,
		extra: append(extra, listener), ns: createRequest(spec), cloneInto: cloneInto,
	})
	closeStdio()
	if err != nil {
		return nil, err
	}
	// The other directories while the init's Go runtime starts, before it
	// gets its config: it binds them for the cgroup mount.
	if err := cg.Apply(-1); err != nil {
		return nil, inFile(b.File, err)
	}
	st := specs.State{Version: specs.Version, ID: o.ID, Status: specs.StateCreating, Pid: p.pid, Bundle: b.Dir, Annotations: spec.Annotations}
	hooks := spec.Hooks
	newCgroupNS := slices.ContainsFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
		return ns.Type == specs.CgroupNamespace && ns.Path == ""
	})
	//lint:ignore SA1019 prestart is deprecated but still honoured
	runtimeHooks := len(hooks.Prestart)+len(hooks.CreateRuntime) > 0
	err = p.conn.sendInit(initConfig{
		ID: o.ID, Rootfs: b.Rootfs, State: st, Config: b.Raw,
		NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring, RuntimeHooks: runtimeHooks,
		StartFd: 3 + len(extra), PreserveFds: len(extra), ListenFds: o.ListenFds,
		CgroupPaths: cg.Paths(), NewCgroupNS: newCgroupNS, SeccompBPF: bpf,
	})
	if err != nil {
		return nil, fmt.Errorf("send config to init: %w", err)
	}
	// Limits and device rules go in after the init has made the config's
	// device nodes and before any user code runs. An init that joins its
	// cgroups itself does so only at COMMIT: then they go in now, while
	// it sets up its root.
	setResources := func() error {
		if spec.Linux.Resources == nil {
			return nil
		}
		return inFile(b.File, cg.Set(spec.Linux.Resources))
	}
	if !byPid {
		if err := setResources(); err != nil {
			return nil, err
		}
	}
	if err := p.waitCreated(hooks, st, newConsoleReceiver(spec.Process.Terminal, o.Console)); err != nil {
		return nil, inFile(b.File, err)
	}
	// Otherwise the init joins its cgroup only now, after its setup, so
	// the memory that setup took is not charged to the container (on v2,
	// and on v1 without move_charge_at_immigrate).
	if byPid {
		if err := cg.Apply(p.pid); err != nil {
			return nil, inFile(b.File, err)
		}
		if err := setResources(); err != nil {
			return nil, err
		}
	}
	stat, err := readProcStat(p.pid)
	if err != nil {
		return nil, fmt.Errorf("container init exited: %w", err)
	}
	st.Status = specs.StateCreated
	rec := &record{
		State:         State{State: st, Rootfs: b.Rootfs, Created: time.Now().UTC()},
		InitStartTime: stat.startTime,
		Config:        b.Raw,
		CgroupPaths:   cg.Paths(),
	}
	if err := writeFirstRecord(dir, rec); err != nil {
		return nil, err
	}
	if err := p.conn.send(msgCommit, nil); err != nil {
		return nil, fmt.Errorf("container init exited: %w", err)
	}
	if err := p.awaitCommitted(); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, p.pid); err != nil {
			return nil, err
		}
	}
	p.conn.f.Close()
	return &Container{ID: o.ID, dir: dir, lock: lock, rec: rec, spec: spec}, nil
}

// waitCreated follows the init through its setup, running the hooks that
// belong to the runtime's namespaces when it asks for them.
func (p *initProcess) waitCreated(hooks *specs.Hooks, st specs.State, console *consoleReceiver) error {
	pidfd, err := unix.PidfdOpen(p.pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open init %d: %w", p.pid, err)
	}
	defer unix.Close(pidfd)
	for {
		typ, payload, fd, err := p.conn.recvWatching(pidfd)
		if err != nil {
			return p.died(p.pid, err)
		}
		if typ != msgConsole && fd >= 0 {
			unix.Close(fd)
		}
		switch typ {
		case msgConsole:
			if err := console.receive(fd); err != nil {
				return err
			}
		case msgReady:
			return console.check()
		case msgError:
			return remoteError(payload)
		case msgHooks:
			//lint:ignore SA1019 prestart is deprecated but still honoured
			if err := runHooks("prestart", hooks.Prestart, st); err != nil {
				return err
			}
			if err := runHooks("createRuntime", hooks.CreateRuntime, st); err != nil {
				return err
			}
			if err := p.conn.send(msgHooksDone, nil); err != nil {
				return p.died(p.pid, io.EOF) // the init closed its end
			}
		default:
			return fmt.Errorf("unexpected message %d from init", typ)
		}
	}
}

// awaitCommitted waits for the init to close its end of the socket after
// the commit: it unshares its cgroup namespace first, so that every
// namespace is in place once create returns.
func (p *initProcess) awaitCommitted() error {
	typ, payload, err := p.conn.recv()
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return p.died(p.pid, err)
	case typ == msgError:
		return remoteError(payload)
	}
	return fmt.Errorf("unexpected message %d from init after the commit", typ)
}

// warnUnknownCaps says which capabilities of p this kernel does not know,
// so nobody mistakes them for being in force.
func warnUnknownCaps(file string, p *specs.Process) {
	if unknown, _ := checkCaps("process", p.Capabilities); len(unknown) > 0 {
		Warnf("%s: process.capabilities: this kernel does not know %s: skipped", file, strings.Join(unknown, ", "))
	}
}

// configFields are the config.json keys that init's errors start with
// when a field is to blame.
var configFields = []string{"process.", "mounts[", "linux.", "root.", "hostname", "domainname", "hooks."}

// inFile names the config file in a setup error that names a field.
func inFile(file string, err error) error {
	if err == nil {
		return nil
	}
	for _, f := range configFields {
		if strings.HasPrefix(err.Error(), f) {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	return err
}

// listenStart makes the socket `start` connects to; it exists exactly while
// the container is created and not yet started.
func listenStart(dir *os.File) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "start-listener")
	// Through the directory's fd, so a long --root never hits sun_path's limit.
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: procFd(dir) + "/" + startSock}); err != nil {
		f.Close()
		return nil, fmt.Errorf("bind start socket: %w", err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		f.Close()
		return nil, fmt.Errorf("listen on start socket: %w", err)
	}
	return f, nil
}

// inheritedFds returns husk's own fds first..first+n-1, which go to the
// container; what names them (a flag, a variable) is in errors. They are
// marked close-on-exec so that only the container gets them.
func inheritedFds(first, n int, what string) ([]*os.File, error) {
	files := make([]*os.File, 0, n+1)
	for fd := first; fd < first+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return nil, fmt.Errorf("%s: fd %d is not open", what, fd)
		}
		unix.CloseOnExec(fd)
		files = append(files, os.NewFile(uintptr(fd), "preserved-"+strconv.Itoa(fd)))
	}
	return files, nil
}

func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return writeFileAtomic(abs, []byte(strconv.Itoa(pid)), 0o644)
}

// Start runs the user process of a created container; it returns once the
// process has been exec'd (or failed to be).
func (c *Container) Start() error {
	switch s := c.Status(); s {
	case specs.StateCreated:
	case specs.StateStopped:
		return fmt.Errorf("cannot start a container that has stopped")
	default:
		return fmt.Errorf("cannot start an already %s container", s)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	start := conn{os.NewFile(uintptr(fd), "start")}
	defer start.f.Close()
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: procFd(c.lock) + "/" + startSock}); err != nil {
		return fmt.Errorf("container init is not waiting for start: %w", err)
	}
	os.Remove(filepath.Join(c.dir, startSock))
	spec, err := c.Spec()
	if err != nil {
		return err
	}
	st := c.hookState(specs.StateRunning)
	if err := awaitExec(start, spec.Linux.Seccomp, c.rec.Pid, st, nil); err != nil {
		// The container is stopped once start has failed: engines delete
		// it next without --force, which an init still exiting would fail.
		c.killAndWait()
		return err
	}
	warnHooks("poststart", spec.Hooks.Poststart, st)
	return nil
}

// Signal sends sig to the container's init, or with all to each of its
// processes.
func (c *Container) Signal(sig unix.Signal, all bool) error {
	s := c.Status()
	if s == specs.StateStopped {
		// containerd maps "container not running" to "already finished".
		return fmt.Errorf("cannot signal container %q: container not running", c.ID)
	}
	cg, err := c.rec.cgroup()
	if err != nil {
		return err
	}
	if s == StatePaused && sig == unix.SIGKILL {
		// Frozen processes die only once thawed.
		defer func() {
			cg.Thaw()
			os.Remove(filepath.Join(c.dir, pausedFile))
		}()
	}
	if !all {
		return signalProcess(c.rec.Pid, c.rec.InitStartTime, sig)
	}
	if cg != nil {
		return cg.Signal(sig)
	}
	for _, pid := range c.processes() {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal %d: %w", pid, err)
		}
	}
	return nil
}

// signalProcess signals pid through a pidfd, after checking it is still the
// process that started at startTime.
func signalProcess(pid int, startTime uint64, sig unix.Signal) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	if !processAlive(pid, startTime) {
		return nil
	}
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal %d: %w", pid, err)
	}
	return nil
}

// processes lists the container's processes: all members of its PID
// namespace when it has one, otherwise its init.
func (c *Container) processes() []int {
	pid := c.rec.Pid
	mine, err1 := os.Readlink("/proc/self/ns/pid")
	theirs, err2 := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
	if err1 != nil || err2 != nil || mine == theirs {
		return []int{pid}
	}
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && ns == theirs {
			pids = append(pids, n)
		}
	}
	return pids
}

// Delete removes a stopped container; created ones are killed first, and
// running ones too with force.
func (c *Container) Delete(force bool) error {
	switch s := c.Status(); s {
	case specs.StateStopped:
	case specs.StateCreated:
		c.killAndWait()
	default:
		if !force {
			return fmt.Errorf("cannot delete container %q that is not stopped: %s", c.ID, s)
		}
		c.killAndWait()
	}
	return c.destroy()
}

func (c *Container) killAndWait() {
	pidfd, err := unix.PidfdOpen(c.rec.Pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(pidfd)
	if !processAlive(c.rec.Pid, c.rec.InitStartTime) {
		return
	}
	if cg, err := c.rec.cgroup(); err == nil && cg != nil {
		cg.Kill()
	} else {
		for _, pid := range c.processes() {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
	unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
	// The pidfd becomes readable when the process exits.
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, 10_000); err != unix.EINTR {
			return
		}
	}
}

// destroy runs the poststop hooks and removes the container's state.
func (c *Container) destroy() error {
	if hooks, err := c.poststopHooks(); err == nil && len(hooks) > 0 {
		warnHooks("poststop", hooks, c.hookState(specs.StateStopped))
	}
	if cg, err := c.rec.cgroup(); err != nil {
		return err
	} else if cg != nil {
		// What the init left behind (daemons without a PID namespace) goes too.
		cg.Kill()
		if err := cg.Destroy(); err != nil {
			return fmt.Errorf("remove cgroup: %w", err)
		}
	}
	if err := removeDir(c.dir); err != nil {
		return err
	}
	c.Close()
	return nil
}

// ExecOpts are the options of `exec`.
type ExecOpts struct {
	Process     *specs.Process
	ProcessFile string // where Process came from, for messages
	PidFile     string
	PreserveFds int
	Stdio       [3]*os.File
	// Console receives the pty master when Process.Terminal is set.
	Console func(master *os.File) error
	// IgnorePaused execs into a paused container; the process stays
	// frozen until the container is resumed.
	IgnorePaused bool
}

// Exec starts a process in the container's namespaces and returns its pid
// once it has been exec'd.
func (c *Container) Exec(o ExecOpts) (int, error) {
	status := c.Status()
	switch {
	case status == specs.StateStopped:
		return 0, fmt.Errorf("cannot exec in a stopped container")
	case status == StatePaused && !o.IgnorePaused:
		// The new process would freeze on joining the cgroup.
		return 0, fmt.Errorf("cannot exec in a paused container (resume it, or pass --ignore-paused)")
	}
	if err := validateProcess(o.ProcessFile, o.Process); err != nil {
		return 0, err
	}
	warnUnknownCaps(o.ProcessFile, o.Process)
	spec, err := c.Spec()
	if err != nil {
		return 0, err
	}
	bpf, storeBPF := seccomp.Cached(filepath.Dir(c.dir), spec.Linux.Seccomp)
	defer storeBPF()
	var ns nsRequest
	for _, n := range spec.Linux.Namespaces {
		ns.addJoin(n.Type, fmt.Sprintf("/proc/%d/ns/%s", c.rec.Pid, namespaceProcName[n.Type]))
	}
	extra, err := inheritedFds(3, o.PreserveFds, "--preserve-fds")
	if err != nil {
		return 0, err
	}
	stdio, closeStdio, err := processStdio(o.Process.Terminal, o.Console, o.Stdio)
	if err != nil {
		return 0, err
	}
	defer closeStdio()
	lo := launchOpts{stateRoot: filepath.Dir(c.dir), dir: "/", stdio: stdio, extra: extra, ns: ns}
	if cg, err := c.rec.cgroup(); err != nil {
		return 0, err
	} else if cg != nil {
		pl := cg.Placement()
		lo.cloneInto, lo.ns.cgroupTasks = pl.CloneInto, pl.Tasks
	}
	if a := o.Process.ExecCPUAffinity; a != nil {
		lo.cpus = a.Initial
	}
	p, err := launch(lo)
	if err != nil {
		return 0, err
	}
	defer p.conn.f.Close()
	err = p.conn.sendInit(initConfig{ID: c.ID, Process: o.Process, Seccomp: spec.Linux.Seccomp, SeccompBPF: bpf, PreserveFds: o.PreserveFds})
	if err == nil {
		console := newConsoleReceiver(o.Process.Terminal, o.Console)
		err = awaitExec(p.conn, spec.Linux.Seccomp, p.pid, c.hookState(status), console)
		if err == nil {
			err = console.check()
		}
	}
	if err != nil {
		p.kill()
		return 0, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, p.pid); err != nil {
			return p.pid, err
		}
	}
	return p.pid, nil
}

// awaitExec follows an init to its execve: the connection closes on exec,
// and a message before that is an error report, the pty master of an
// exec'd process (to console), or a seccomp notify fd, which goes to the
// config's listener.
func awaitExec(c conn, sc *specs.LinuxSeccomp, pid int, st specs.State, console *consoleReceiver) error {
	for {
		typ, payload, fd, err := c.recvFd()
		if err != nil {
			return nil
		}
		switch typ {
		case msgConsole:
			if err := console.receive(fd); err != nil {
				return err
			}
		case msgError:
			if fd >= 0 {
				unix.Close(fd)
			}
			return remoteError(payload)
		case msgSeccompFd:
			if fd < 0 || sc == nil {
				return fmt.Errorf("init sent a seccomp notify message without an fd or a filter")
			}
			err := sendToListener(sc, fd, pid, st)
			unix.Close(fd)
			if err != nil {
				return err
			}
		}
	}
}

// sendToListener hands the seccomp notify fd to the agent at listenerPath
// with the container process state, as the runtime-spec describes.
func sendToListener(sc *specs.LinuxSeccomp, fd, pid int, st specs.State) error {
	data, err := json.Marshal(specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: pid,
		Metadata: sc.ListenerMetadata, State: st,
	})
	if err != nil {
		return err
	}
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(sock)
	if err := unix.Connect(sock, &unix.SockaddrUnix{Name: sc.ListenerPath}); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: %w", sc.ListenerPath, err)
	}
	if err := unix.Sendmsg(sock, data, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: send: %w", sc.ListenerPath, err)
	}
	return nil
}

// cgroupOf returns the container's cgroup, or an error naming the command
// when it has none (a container created before husk managed cgroups).
func (c *Container) cgroupOf(what string) (cgroups.Manager, error) {
	cg, err := c.rec.cgroup()
	if err != nil {
		return nil, err
	}
	if cg == nil {
		return nil, fmt.Errorf("%s: container %q has no cgroup", what, c.ID)
	}
	return cg, nil
}

// Pause freezes every process of a running container.
func (c *Container) Pause() error {
	if s := c.Status(); s != specs.StateRunning {
		return fmt.Errorf("cannot pause container %q: it is %s", c.ID, s)
	}
	cg, err := c.cgroupOf("pause")
	if err != nil {
		return err
	}
	if err := cg.Freeze(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.dir, pausedFile), nil, 0o600); err != nil {
		cg.Thaw()
		return fmt.Errorf("pause: %w", err)
	}
	return nil
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if s := c.Status(); s != StatePaused {
		return fmt.Errorf("cannot resume container %q: it is %s, not paused", c.ID, s)
	}
	cg, err := c.cgroupOf("resume")
	if err != nil {
		return err
	}
	if err := cg.Thaw(); err != nil {
		return err
	}
	return os.Remove(filepath.Join(c.dir, pausedFile))
}

// Pids lists the container's processes (host pids).
func (c *Container) Pids() ([]int, error) {
	if c.Status() == specs.StateStopped {
		return nil, fmt.Errorf("container %q is not running", c.ID)
	}
	if cg, err := c.rec.cgroup(); err != nil {
		return nil, err
	} else if cg != nil {
		return cg.Pids()
	}
	return c.processes(), nil
}

// Update applies new resources and records them as the container's own.
// They are checked before anything is written, so a bad update leaves
// the old limits in place.
func (c *Container) Update(r *specs.LinuxResources) error {
	if c.Status() == specs.StateStopped {
		return fmt.Errorf("cannot update container %q: it is stopped", c.ID)
	}
	if err := cgroups.Validate(r); err != nil {
		return err
	}
	cg, err := c.cgroupOf("update")
	if err != nil {
		return err
	}
	spec, err := c.Spec()
	if err != nil {
		return err
	}
	if err := cg.Set(r); err != nil {
		return err
	}
	spec.Linux.Resources = r
	raw, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	c.rec.Config = raw
	return writeRecord(c.dir, c.rec)
}

// Resources returns a copy of the container's current resources.
func (c *Container) Resources() (*specs.LinuxResources, error) {
	spec, err := c.Spec()
	if err != nil {
		return nil, err
	}
	r := &specs.LinuxResources{}
	if spec.Linux.Resources != nil {
		data, err := json.Marshal(spec.Linux.Resources)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Stats reads the container's cgroup counters.
func (c *Container) Stats() (*cgroups.Stats, error) {
	cg, err := c.cgroupOf("events")
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

// OOMKills is how many of the container's processes the OOM killer took.
func (c *Container) OOMKills() (uint64, error) {
	cg, err := c.cgroupOf("events")
	if err != nil {
		return 0, err
	}
	return cg.OOMKillCount()
}
