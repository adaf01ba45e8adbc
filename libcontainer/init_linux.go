package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/cgroups"
	"husk/internal/jsondec"
	"husk/internal/jsonenc"
	"husk/internal/timerslack"
	"husk/seccomp"
)

// initConfig is what the parent sends the Go init (msgInit).
type initConfig struct {
	ID     string      `json:"id"`
	Rootfs string      `json:"rootfs,omitempty"`
	State  specs.State `json:"state"` // for the hooks run in the container

	// A new container: its config.json as read, and the create options.
	Config       json.RawMessage `json:"config,omitempty"`
	NoPivot      bool            `json:"noPivot,omitempty"`
	NoNewKeyring bool            `json:"noNewKeyring,omitempty"`
	RuntimeHooks bool            `json:"runtimeHooks,omitempty"` // stop for prestart/createRuntime hooks
	StartFd      int             `json:"startFd,omitempty"`      // listening socket `start` connects to
	// The container's cgroup directories; the init joins them only when
	// created, so its setup is not charged to the container.
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// Unshare the cgroup namespace once in the container's cgroup.
	NewCgroupNS bool `json:"newCgroupNS,omitempty"`

	// `exec`: the process to run in the container's namespaces, and the
	// container's seccomp filter for it.
	Process *specs.Process      `json:"process,omitempty"`
	Seccomp *specs.LinuxSeccomp `json:"seccomp,omitempty"`
	// The container's seccomp program when the parent had it compiled
	// (seccomp.Cached): the init then skips libseccomp's compilation.
	SeccompBPF []byte `json:"seccompBPF,omitempty"`

	// Fds above stdio the process keeps: the LISTEN_FDS ones (ListenFds,
	// which also go into its environment) and then the --preserve-fds ones.
	PreserveFds int `json:"preserveFds,omitempty"`
	ListenFds   int `json:"listenFds,omitempty"`
}

// encode writes what json.Marshal(c) writes, without the cold start of
// its encoders (0.2-0.4 ms in a new process); only exec's process and
// filter, rare and nested, go through encoding/json.
func (c initConfig) encode() ([]byte, error) {
	var o jsonenc.Object
	o.String("id", c.ID)
	if c.Rootfs != "" {
		o.String("rootfs", c.Rootfs)
	}
	o.Object("state", func(st *jsonenc.Object) { writeSpecState(st, c.State) })
	if len(c.Config) > 0 {
		o.Raw("config", c.Config)
	}
	if c.NoPivot {
		o.Bool("noPivot", true)
	}
	if c.NoNewKeyring {
		o.Bool("noNewKeyring", true)
	}
	if c.RuntimeHooks {
		o.Bool("runtimeHooks", true)
	}
	if c.StartFd != 0 {
		o.Int("startFd", int64(c.StartFd))
	}
	if len(c.CgroupPaths) > 0 {
		o.StringMap("cgroupPaths", c.CgroupPaths)
	}
	if c.NewCgroupNS {
		o.Bool("newCgroupNS", true)
	}
	if c.Process != nil {
		if err := marshalMember(&o, "process", c.Process); err != nil {
			return nil, err
		}
	}
	if c.Seccomp != nil {
		if err := marshalMember(&o, "seccomp", c.Seccomp); err != nil {
			return nil, err
		}
	}
	if len(c.SeccompBPF) > 0 {
		o.Bytes("seccompBPF", c.SeccompBPF)
	}
	if c.PreserveFds != 0 {
		o.Int("preserveFds", int64(c.PreserveFds))
	}
	if c.ListenFds != 0 {
		o.Int("listenFds", int64(c.ListenFds))
	}
	return o.Done(), nil
}

// marshalMember adds v to o as encoding/json writes it.
func marshalMember(o *jsonenc.Object, name string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("init config: %s: %w", name, err)
	}
	o.Raw(name, raw)
	return nil
}

// decodeInitConfig undoes encode, with jsondec's fast path: a cold
// encoding/json would cost ~0.4 ms.
func decodeInitConfig(data []byte) (*initConfig, error) {
	var cfg initConfig
	if err := jsondec.Decode(data, &cfg); err != nil {
		return nil, fmt.Errorf("decode init config: %w", err)
	}
	return &cfg, nil
}

// Init is the Go half of `husk init`: nsenter has already put the process
// in its namespaces. It never returns.
func Init() {
	runtime.LockOSThread()
	fd, err := strconv.Atoi(os.Getenv("_HUSK_INITPIPE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "husk init: not started by husk")
		os.Exit(1)
	}
	unix.CloseOnExec(fd)
	c := conn{os.NewFile(uintptr(fd), "init-pipe")}
	err = runInit(c)
	// runInit returns only on failure; exec replaced us otherwise.
	if c.send(msgError, []byte(err.Error())) != nil {
		fmt.Fprintln(os.Stderr, "husk init:", err)
	}
	os.Exit(1)
}

func runInit(c conn) error {
	payload, err := c.expect(msgInit)
	if err != nil {
		return fmt.Errorf("read init config: %w", err)
	}
	cfg, err := decodeInitConfig(payload)
	if err != nil {
		return err
	}
	// Only now is husk our parent for sure (nsenter, which may have forked
	// us, has been reaped): die with it until we report ready or exec.
	if err := setParentDeathSignal(c, unix.SIGKILL); err != nil {
		return err
	}
	if cfg.Process != nil {
		seccomp.Precompile(cfg.Seccomp, cfg.SeccompBPF)
		p, err := prepareProcess(cfg.Process, cfg.Seccomp)
		if err != nil {
			return err
		}
		if cfg.Process.Terminal {
			if p.tty, err = execTerminal(c, cfg.Process.ConsoleSize); err != nil {
				return err
			}
		}
		if a := cfg.Process.ExecCPUAffinity; a != nil && a.Final != "" {
			if err := setAffinity(0, "process.execCPUAffinity.final", a.Final); err != nil {
				return err
			}
		}
		if err := setParentDeathSignal(c, 0); err != nil {
			return err
		}
		return p.exec(cfg.PreserveFds, c)
	}
	return containerInit(c, cfg)
}

// setParentDeathSignal sets (or with 0 clears) the signal this thread gets
// when the thread of husk that is its parent exits. It is per thread: the
// init runs on its locked main thread. Had husk already died, the socket
// shows it hung up, and we stop here.
func setParentDeathSignal(c conn, sig unix.Signal) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(sig), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_PDEATHSIG): %w", err)
	}
	if sig == 0 {
		return nil
	}
	fds := []unix.PollFd{{Fd: int32(c.f.Fd()), Events: unix.POLLRDHUP}}
	if n, err := unix.Poll(fds, 0); err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP) != 0 {
		return errors.New("husk exited before the container was created")
	}
	return nil
}

// containerInit sets up a new container, reports it created, waits for
// `start` and execs the user process.
func containerInit(c conn, cfg *initConfig) error {
	spec, err := ParseSpec("config.json", cfg.Config)
	if err != nil {
		return err
	}
	seccomp.Precompile(spec.Linux.Seccomp, cfg.SeccompBPF)
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if !cfg.NoNewKeyring {
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + cfg.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("join session keyring: %w", err)
		}
	}
	// Hooks run in the container's namespaces see the pid as the container does.
	cfg.State.Pid = os.Getpid()
	r := &rootfs{path: cfg.Rootfs, bundle: cfg.State.Bundle, cgroupPaths: cfg.CgroupPaths}
	for _, ns := range spec.Linux.Namespaces {
		r.userns = r.userns || ns.Type == specs.UserNamespace
	}
	if err := r.prepare(spec); err != nil {
		return err
	}
	if cfg.RuntimeHooks {
		if err := c.send(msgHooks, nil); err != nil {
			return err
		}
		if _, err := c.expect(msgHooksDone); err != nil {
			return err
		}
	}
	if err := runHooks("createContainer", spec.Hooks.CreateContainer, cfg.State); err != nil {
		return err
	}
	// Before pivot_root, sysctls go through the host's procfs: a fake /proc
	// in the image cannot swallow them.
	if err := setIdentity(spec); err != nil {
		return err
	}
	if err := r.protect(spec.Linux); err != nil {
		return err
	}
	tasks, err := openCgroupTasks(cfg.CgroupPaths, spec)
	if err != nil {
		return err
	}
	// The terminal comes from the container's devpts, once every mount is
	// made; the master goes to the parent now, the slave becomes stdio at exec.
	var tty *os.File
	if spec.Process.Terminal {
		if tty, err = r.terminal(c, spec.Process.ConsoleSize); err != nil {
			return err
		}
	}
	if err := r.pivot(cfg.NoPivot); err != nil {
		return err
	}
	r.handle.Close()
	if spec.Linux.Personality != nil {
		if err := setPersonality(spec.Linux.Personality); err != nil {
			return err
		}
	}
	if err := finishRootfs(spec); err != nil {
		return err
	}
	if cfg.ListenFds > 0 {
		// Socket activation, as runc passes it on: the fds start at 3.
		env := setEnv(spec.Process.Env, "LISTEN_FDS", strconv.Itoa(cfg.ListenFds))
		spec.Process.Env = setEnv(env, "LISTEN_PID", "1")
	}
	p, err := prepareProcess(spec.Process, spec.Linux.Seccomp)
	if err != nil {
		return err
	}
	p.tty = tty
	// From here the parent may exit (once it commits): keep living then.
	if err := setParentDeathSignal(c, 0); err != nil {
		return err
	}
	if err := c.send(msgReady, nil); err != nil {
		return err
	}
	// Without the commit the parent died before saving the state: nobody
	// could ever start or delete this container, so give up.
	if _, err := c.expect(msgCommit); err != nil {
		return fmt.Errorf("parent gave up before the container was saved: %w", err)
	}
	// Join the container's cgroup (this thread, which execs), and root
	// the new cgroup namespace there. It is per thread too.
	if err := cgroups.JoinTasks(tasks); err != nil {
		return err
	}
	if cfg.NewCgroupNS {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	c.f.Close()

	// Created: wait for `start` to connect. Errors from here on go to it.
	releaseIdleMemory()
	listener := os.NewFile(uintptr(cfg.StartFd), "start-listener")
	nfd, _, err := unix.Accept4(int(listener.Fd()), unix.SOCK_CLOEXEC)
	if err != nil {
		return fmt.Errorf("wait for start: %w", err)
	}
	listener.Close()
	start := conn{os.NewFile(uintptr(nfd), "start")}
	cfg.State.Status = specs.StateCreated
	if err := runHooks("startContainer", spec.Hooks.StartContainer, cfg.State); err != nil {
		return reportStart(start, err)
	}
	return reportStart(start, p.exec(cfg.PreserveFds, start))
}

func reportStart(c conn, err error) error {
	c.send(msgError, []byte(err.Error()))
	return err
}

// setIdentity applies hostname, domainname and sysctls.
func setIdentity(spec *specs.Spec) error {
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return fmt.Errorf("domainname: %w", err)
		}
	}
	for key, value := range spec.Linux.Sysctl {
		path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
		if err := os.WriteFile(path, []byte(value), 0); err != nil {
			return fmt.Errorf("linux.sysctl.%s: %w", key, err)
		}
	}
	return nil
}

// process is a container process ready to exec: its executable found and
// its environment complete.
type process struct {
	spec   *specs.Process
	path   string
	env    []string
	gids   []uint32
	label  *execLabel
	filter *seccomp.Filter
	tty    *os.File // the pty slave when process.terminal is set
}

// prepareProcess does everything that can fail in an interesting way
// (missing cwd or executable) before the container is reported created.
func prepareProcess(p *specs.Process, sc *specs.LinuxSeccomp) (*process, error) {
	label, err := openExecLabel(p)
	if err != nil {
		return nil, err
	}
	// Compiling takes milliseconds for a large profile: do it before the
	// container is reported created, not in `start`.
	filter, err := seccomp.Compile(sc)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	if err := unix.Chdir(p.Cwd); err != nil {
		return nil, fmt.Errorf("process.cwd %s: %w", p.Cwd, err)
	}
	// A cwd through an fd of ours (/proc/self/fd/N) could land outside the
	// container's root (CVE-2024-21626); getcwd then has no path for it.
	if wd, err := unix.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
		return nil, fmt.Errorf("process.cwd %s: resolves outside the container", p.Cwd)
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return nil, fmt.Errorf("process.args[0]: %w", err)
	}
	env := p.Env
	name, home, known := passwdEntry(p.User.UID)
	if !hasEnv(env, "HOME") {
		if !known {
			home = "/"
		}
		env = append(env[:len(env):len(env)], "HOME="+home)
	}
	gids := slices.Clone(p.User.AdditionalGids)
	if known {
		gids = append(gids, memberGroups(name)...)
	}
	return &process{spec: p, path: path, env: env, gids: gids, label: label, filter: filter}, nil
}

// setEnv returns env with key set to value, replacing an earlier value
// (getenv takes the first one).
func setEnv(env []string, key, value string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, key+"=") {
			out := append([]string{}, env...)
			out[i] = key + "=" + value
			return out
		}
	}
	return append(env[:len(env):len(env)], key+"="+value)
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, key+"=") {
			return true
		}
	}
	return false
}

// lookPath finds args[0] the way execvp would inside the container, using
// the PATH of the process's own environment.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, checkExecutable(file)
	}
	pathEnv := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	denied := ""
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		path := filepath.Join(dir, file)
		err := checkExecutable(path)
		if err == nil {
			return path, nil
		}
		if denied == "" && !errors.Is(err, os.ErrNotExist) {
			denied = path
		}
	}
	// Like execvp: a file that exists but cannot run is the better answer.
	if denied != "" {
		return "", fmt.Errorf("exec: %q: permission denied", denied)
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("exec: %q: %w", path, unwrapPathError(err))
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("exec: %q: permission denied", path)
	}
	return nil
}

// exec applies the process attributes, last of all the ones that limit
// what husk itself may still do, and replaces init with the user program.
// A seccomp notify fd goes to peer, the husk process waiting for the exec.
func (p *process) exec(preserveFds int, peer conn) error {
	s := p.spec
	// The process gets the timer slack husk was started with. Before the
	// seccomp filter, which may deny prctl, as it may what follows.
	if err := timerslack.ForExec(); err != nil {
		return err
	}
	if err := p.setupStdio(); err != nil {
		return err
	}
	// Only stdio and the preserved fds may reach the container process.
	// Before the filter: a profile need not allow close_range.
	if err := unix.CloseRange(uint(3+preserveFds), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close fds: %w", err)
	}
	// Without no_new_privs only CAP_SYS_ADMIN may load a filter, and a
	// non-root process loses it: load it first then, as runc does (the
	// profile must then allow the rest of husk's setup).
	early := !s.NoNewPrivileges
	if early {
		if err := p.loadSeccomp(peer); err != nil {
			return err
		}
	}
	for _, rl := range s.Rlimits {
		res, err := rlimitResource(rl.Type)
		if err != nil {
			return err
		}
		// syscall.Setrlimit, so that Go does not restore its own NOFILE at exec.
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}); err != nil {
			return fmt.Errorf("process.rlimits %s: %w", rl.Type, err)
		}
	}
	umask := 0o022
	if s.User.Umask != nil {
		umask = int(*s.User.Umask)
	}
	unix.Umask(umask)
	if err := applySchedulingAndIO(s); err != nil {
		return err
	}
	caps, err := limitBounding(s.Capabilities)
	if err != nil {
		return err
	}
	if err := setThreadUser(s.User, p.gids); err != nil {
		return err
	}
	if err := caps.apply(); err != nil {
		return err
	}
	if s.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("process.noNewPrivileges: %w", err)
		}
	}
	if err := p.label.apply(); err != nil {
		return err
	}
	if !early {
		if err := p.loadSeccomp(peer); err != nil {
			return err
		}
	}

	if err := unix.Exec(p.path, s.Args, p.env); err != nil {
		return fmt.Errorf("exec %s: %w", p.path, err)
	}
	return nil
}

// setThreadUser gives the thread that execs the process's groups, gid and
// uid. Raw system calls change only this thread, as the capabilities are
// set for it alone: the C library's setresuid would make every thread of
// the init change too (a signal to each), and exec ends them all anyway.
func setThreadUser(u specs.User, gids []uint32) error {
	var list unsafe.Pointer
	if len(gids) > 0 {
		list = unsafe.Pointer(&gids[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), uintptr(list), 0); e != 0 {
		return fmt.Errorf("process.user.additionalGids: %w", e)
	}
	gid, uid := uintptr(u.GID), uintptr(u.UID)
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, gid, gid, gid); e != 0 {
		return fmt.Errorf("process.user.gid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uid, uid, uid); e != 0 {
		return fmt.Errorf("process.user.uid %d: %w", u.UID, e)
	}
	return nil
}

// loadSeccomp loads the filter and hands a notify fd to peer.
func (p *process) loadSeccomp(peer conn) error {
	fd, err := p.filter.Load()
	if err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	if err := peer.sendFd(msgSeccompFd, nil, fd); err != nil {
		return fmt.Errorf("linux.seccomp: pass on the notify fd: %w", err)
	}
	return nil
}

// setupStdio makes the process a session leader (the container's init
// already is), gives it its terminal, and its stdio to its user.
func (p *process) setupStdio() error {
	if sid, _ := unix.Getsid(0); sid != os.Getpid() {
		if _, err := unix.Setsid(); err != nil {
			return fmt.Errorf("setsid: %w", err)
		}
	}
	if p.tty != nil {
		if err := attachTerminal(p.tty); err != nil {
			return err
		}
	}
	return chownStdio(int(p.spec.User.UID), p.tty != nil)
}
