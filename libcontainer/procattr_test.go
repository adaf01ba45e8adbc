package libcontainer

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestSchedAttr(t *testing.T) {
	policies := map[specs.LinuxSchedulerPolicy]uint32{
		specs.SchedOther: unix.SCHED_NORMAL, specs.SchedFIFO: unix.SCHED_FIFO, specs.SchedRR: unix.SCHED_RR,
		specs.SchedBatch: unix.SCHED_BATCH, specs.SchedIdle: unix.SCHED_IDLE, specs.SchedDeadline: unix.SCHED_DEADLINE,
	}
	for policy, want := range policies {
		attr, err := schedAttr(&specs.Scheduler{Policy: policy})
		if err != nil || attr.Policy != want {
			t.Errorf("%s: %+v, %v; want policy %d", policy, attr, err, want)
		}
	}
	attr, err := schedAttr(&specs.Scheduler{
		Policy: specs.SchedDeadline, Nice: -3, Priority: 0, Runtime: 10, Deadline: 20, Period: 30,
		Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork, specs.SchedFlagReclaim, specs.SchedFlagDLOverrun,
			specs.SchedFlagKeepPolicy, specs.SchedFlagKeepParams, specs.SchedFlagUtilClampMin, specs.SchedFlagUtilClampMax},
	})
	if err != nil {
		t.Fatal(err)
	}
	if attr.Size != unix.SizeofSchedAttr || attr.Nice != -3 || attr.Runtime != 10 || attr.Deadline != 20 || attr.Period != 30 {
		t.Errorf("attr %+v", attr)
	}
	if attr.Flags != unix.SCHED_FLAG_ALL {
		t.Errorf("all flags give %#x, want %#x", attr.Flags, unix.SCHED_FLAG_ALL)
	}
	if _, err := schedAttr(&specs.Scheduler{Policy: "SCHED_FAST"}); err == nil || !strings.Contains(err.Error(), "process.scheduler.policy") {
		t.Errorf("unknown policy: %v", err)
	}
	if _, err := schedAttr(&specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagReclaim, "SCHED_FLAG_X"}}); err == nil ||
		!strings.Contains(err.Error(), "process.scheduler.flags[1]") {
		t.Errorf("unknown flag: %v", err)
	}
}

func TestIoprioValue(t *testing.T) {
	tests := []struct {
		p    specs.LinuxIOPriority
		want int
	}{
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 0}, 1 << 13},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 4}, 2<<13 | 4},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE, Priority: 7}, 3<<13 | 7},
	}
	for _, tt := range tests {
		if got, err := ioprioValue(&tt.p); err != nil || got != tt.want {
			t.Errorf("%+v: %#x, %v; want %#x", tt.p, got, err, tt.want)
		}
	}
	for _, p := range []specs.LinuxIOPriority{
		{Class: "IOPRIO_CLASS_NONE"}, {Class: ""}, {Class: specs.IOPRIO_CLASS_BE, Priority: 8}, {Class: specs.IOPRIO_CLASS_BE, Priority: -1},
	} {
		if _, err := ioprioValue(&p); err == nil || !strings.HasPrefix(err.Error(), "process.ioPriority.") {
			t.Errorf("%+v: %v, want an error naming the field", p, err)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		list string
		want []int
	}{
		{"0", []int{0}},
		{"0-3", []int{0, 1, 2, 3}},
		{"0-1,6", []int{0, 1, 6}},
		{"5,2-3", []int{2, 3, 5}},
		{" 1 , 3 ", []int{1, 3}},
		{"7-7", []int{7}},
		{"1023", []int{1023}},
	}
	for _, tt := range tests {
		set, err := parseCPUList("f", tt.list)
		if err != nil {
			t.Errorf("%q: %v", tt.list, err)
			continue
		}
		var got []int
		for cpu := 0; cpu < maxCPUs; cpu++ {
			if set.IsSet(cpu) {
				got = append(got, cpu)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: CPUs %v, want %v", tt.list, got, tt.want)
		}
	}
	for _, list := range []string{"", "a", "-1", "1-", "-", "3-1", "0,,1", "1024", "0-1024", "0-3-5", "1:2", "0x1"} {
		if _, err := parseCPUList("process.execCPUAffinity.final", list); err == nil || !strings.HasPrefix(err.Error(), "process.execCPUAffinity.final: ") {
			t.Errorf("%q: %v, want an error naming the field", list, err)
		}
	}
}

func TestLoadBundleProcessAttributes(t *testing.T) {
	tests := []struct {
		name string
		set  func(map[string]any)
		want string // "" for valid
	}{
		{"scheduler", func(c map[string]any) {
			obj(c, "process")["scheduler"] = map[string]any{"policy": "SCHED_BATCH", "nice": 5}
		}, ""},
		{"bad policy", func(c map[string]any) { obj(c, "process")["scheduler"] = map[string]any{"policy": "SCHED_NOPE"} }, "process.scheduler.policy: "},
		{"bad flag", func(c map[string]any) {
			obj(c, "process")["scheduler"] = map[string]any{"policy": "SCHED_OTHER", "flags": []any{"SCHED_FLAG_NOPE"}}
		}, "process.scheduler.flags[0]: "},
		{"io priority", func(c map[string]any) {
			obj(c, "process")["ioPriority"] = map[string]any{"class": "IOPRIO_CLASS_IDLE", "priority": 7}
		}, ""},
		{"bad io class", func(c map[string]any) { obj(c, "process")["ioPriority"] = map[string]any{"class": "IOPRIO_CLASS_NOPE"} }, "process.ioPriority.class: "},
		{"bad io priority", func(c map[string]any) {
			obj(c, "process")["ioPriority"] = map[string]any{"class": "IOPRIO_CLASS_BE", "priority": 9}
		}, "process.ioPriority.priority: "},
		{"affinity", func(c map[string]any) {
			obj(c, "process")["execCPUAffinity"] = map[string]any{"initial": "0-1", "final": "0"}
		}, ""},
		{"bad initial affinity", func(c map[string]any) { obj(c, "process")["execCPUAffinity"] = map[string]any{"initial": "x"} }, "process.execCPUAffinity.initial: "},
		{"bad final affinity", func(c map[string]any) { obj(c, "process")["execCPUAffinity"] = map[string]any{"final": "2-1"} }, "process.execCPUAffinity.final: "},
		{"personality", func(c map[string]any) { obj(c, "linux")["personality"] = map[string]any{"domain": "LINUX32"} }, ""},
		{"bad personality", func(c map[string]any) { obj(c, "linux")["personality"] = map[string]any{"domain": "WINDOWS"} }, `linux.personality.domain: unknown domain "WINDOWS"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			tt.set(cfg)
			dir, file := makeBundle(t, marshal(t, cfg))
			_, err := LoadBundle(dir)
			if tt.want == "" {
				if err != nil {
					t.Errorf("want no error, got %v", err)
				}
				return
			}
			checkConfigError(t, err, file, tt.want)
		})
	}
}

// statField returns field n (1-based, as in proc(5)) of a /proc/<pid>/stat line.
func statField(t *testing.T, stat string, n int) string {
	t.Helper()
	i := strings.LastIndexByte(stat, ')')
	fields := strings.Fields(stat[i+2:])
	if len(fields) < n-2 {
		t.Fatalf("short stat line %q", stat)
	}
	return fields[n-3]
}

func TestExecSchedulerAndAffinity(t *testing.T) {
	// Use the CPUs this test may run on, which need not start at 0.
	var mine unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mine); err != nil {
		t.Fatal(err)
	}
	var cpus []string
	for cpu := 0; cpu < maxCPUs && len(cpus) < 2; cpu++ {
		if mine.IsSet(cpu) {
			cpus = append(cpus, strconv.Itoa(cpu))
		}
	}
	affinity := &specs.CPUAffinity{Final: cpus[0]}
	if len(cpus) > 1 {
		affinity.Initial = cpus[1]
	}
	out, code := execInOwnNamespaces(t, &specs.Process{
		Args: []string{"sh", "-c", "cat /proc/self/stat; grep Cpus_allowed_list /proc/self/status"},
		Cwd:  "/", Env: []string{"PATH=/usr/bin:/bin"},
		Scheduler:       &specs.Scheduler{Policy: specs.SchedBatch, Nice: 7},
		ExecCPUAffinity: affinity,
	})
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, out)
	}
	lines := strings.Split(out, "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q", out)
	}
	if nice := statField(t, lines[0], 19); nice != "7" {
		t.Errorf("nice %s, want 7", nice)
	}
	if policy := statField(t, lines[0], 41); policy != strconv.Itoa(unix.SCHED_BATCH) {
		t.Errorf("policy %s, want SCHED_BATCH (%d)", policy, unix.SCHED_BATCH)
	}
	if got := strings.Join(strings.Fields(lines[1]), " "); got != "Cpus_allowed_list: "+cpus[0] {
		t.Errorf("%q, want the final affinity %s", got, cpus[0])
	}
}

func TestExecIOPriority(t *testing.T) {
	if _, err := os.Stat("/usr/bin/ionice"); err != nil {
		t.Skip("no ionice")
	}
	out, code := execInOwnNamespaces(t, &specs.Process{
		Args: []string{"sh", "-c", "ionice -p $$"}, Cwd: "/", Env: []string{"PATH=/usr/bin:/bin"},
		IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6},
	})
	if code != 0 || out != "best-effort: prio 6" {
		t.Errorf("ionice says %q (exit %d), want best-effort: prio 6", out, code)
	}
}
