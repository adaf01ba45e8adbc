package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"husk/internal/timerslack"
	"husk/libcontainer"
)

var pauseCommand = &cli.Command{
	Name:      "pause",
	Usage:     "freeze every process of a running container",
	ArgsUsage: "<container-id>",
	Action: func(ctx *cli.Context) error {
		return withContainer(ctx, (*libcontainer.Container).Pause)
	},
}

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "thaw a paused container",
	ArgsUsage: "<container-id>",
	Action: func(ctx *cli.Context) error {
		return withContainer(ctx, (*libcontainer.Container).Resume)
	},
}

var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "list the processes of a container (ps(1) output, or --format json: their pids)",
	ArgsUsage: "<container-id> [ps options (default -ef)]",
	Flags:     []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"}},
	Action: func(ctx *cli.Context) error {
		var pids []int
		err := withContainer(ctx, func(c *libcontainer.Container) (err error) {
			pids, err = c.Pids()
			return err
		})
		if err != nil {
			return err
		}
		switch ctx.String("format") {
		case "json":
			if pids == nil {
				pids = []int{}
			}
			return printJSON(pids)
		case "table":
			args := ctx.Args().Tail()
			if len(args) == 0 {
				args = []string{"-ef"}
			}
			return psTable(os.Stdout, args, pids)
		}
		return fmt.Errorf("--format: want table or json, got %q", ctx.String("format"))
	},
}

// psTable runs ps(1) and keeps its header and the lines of pids, as runc does.
func psTable(w io.Writer, args []string, pids []int) error {
	var out bytes.Buffer
	cmd := exec.Command("ps", args...)
	cmd.Stdout = &out
	if err := timerslack.Run(cmd); err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(args, " "), err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	col := slices.Index(strings.Fields(lines[0]), "PID")
	if col < 0 {
		return fmt.Errorf("ps %s: no PID column in its output", strings.Join(args, " "))
	}
	fmt.Fprintln(w, lines[0])
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) <= col {
			continue
		}
		if pid, err := strconv.Atoi(f[col]); err == nil && slices.Contains(pids, pid) {
			fmt.Fprintln(w, line)
		}
	}
	return nil
}

var updateCommand = &cli.Command{
	Name:      "update",
	Usage:     "change the resource limits of a running container",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "linux.resources JSON to apply (- for stdin)"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit in bytes (k, m, g suffixes; -1 for none)"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory plus swap limit"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit"},
		&cli.StringFlag{Name: "cpu-share", Aliases: []string{"cpu-shares"}, Usage: "CPU shares (relative weight)"},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "CPU realtime period in microseconds (cgroup v1)"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "CPU realtime runtime in microseconds (cgroup v1)"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS quota in microseconds"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period in microseconds"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs the container may use (0-3,5)"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes the container may use"},
		&cli.StringFlag{Name: "pids-limit", Usage: "maximum number of processes"},
		&cli.StringFlag{Name: "blkio-weight", Usage: "block IO weight (10-1000)"},
	},
	Action: func(ctx *cli.Context) error {
		return withContainer(ctx, func(c *libcontainer.Container) error {
			r, err := c.Resources()
			if err != nil {
				return err
			}
			if err := readResources(ctx.String("resources"), r); err != nil {
				return err
			}
			if err := applyUpdateFlags(ctx, r); err != nil {
				return err
			}
			return c.Update(r)
		})
	},
}

// readResources merges a linux.resources JSON document into r: the
// fields it has replace the container's, the others stay.
func readResources(file string, r *specs.LinuxResources) error {
	if file == "" {
		return nil
	}
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return fmt.Errorf("--resources: %w", err)
	}
	if err := json.Unmarshal(data, r); err != nil {
		return fmt.Errorf("--resources %s: invalid JSON: %v", file, err)
	}
	return nil
}

func applyUpdateFlags(ctx *cli.Context, r *specs.LinuxResources) error {
	if r.Memory == nil {
		r.Memory = &specs.LinuxMemory{}
	}
	if r.CPU == nil {
		r.CPU = &specs.LinuxCPU{}
	}
	sizes := []struct {
		flag string
		dst  **int64
	}{{"memory", &r.Memory.Limit}, {"memory-swap", &r.Memory.Swap}, {"memory-reservation", &r.Memory.Reservation}}
	for _, s := range sizes {
		if v := ctx.String(s.flag); v != "" {
			n, err := parseBytes(v)
			if err != nil {
				return fmt.Errorf("--%s: %w", s.flag, err)
			}
			*s.dst = &n
		}
	}
	if v := ctx.String("cpu-share"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("--cpu-share: %q is not a number", v)
		}
		r.CPU.Shares = &n
	}
	if v := ctx.String("cpu-rt-period"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("--cpu-rt-period: %q is not a number", v)
		}
		r.CPU.RealtimePeriod = &n
	}
	if v := ctx.String("cpu-rt-runtime"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("--cpu-rt-runtime: %q is not a number", v)
		}
		r.CPU.RealtimeRuntime = &n
	}
	if v := ctx.String("cpu-quota"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("--cpu-quota: %q is not a number", v)
		}
		r.CPU.Quota = &n
	}
	if v := ctx.String("cpu-period"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("--cpu-period: %q is not a number", v)
		}
		r.CPU.Period = &n
	}
	if v := ctx.String("cpuset-cpus"); v != "" {
		r.CPU.Cpus = v
	}
	if v := ctx.String("cpuset-mems"); v != "" {
		r.CPU.Mems = v
	}
	if v := ctx.String("pids-limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("--pids-limit: %q is not a number", v)
		}
		r.Pids = &specs.LinuxPids{Limit: &n}
	}
	if v := ctx.String("blkio-weight"); v != "" {
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return fmt.Errorf("--blkio-weight: %q is not a number", v)
		}
		w := uint16(n)
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		r.BlockIO.Weight = &w
	}
	return nil
}

// parseBytes reads a size such as 512, 64k, 100m or 1g (binary units); -1 means no limit.
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	mult := int64(1)
	lower := strings.ToLower(strings.TrimSuffix(strings.ToLower(s), "b"))
	switch {
	case strings.HasSuffix(lower, "k"):
		mult, lower = 1<<10, strings.TrimSuffix(lower, "k")
	case strings.HasSuffix(lower, "m"):
		mult, lower = 1<<20, strings.TrimSuffix(lower, "m")
	case strings.HasSuffix(lower, "g"):
		mult, lower = 1<<30, strings.TrimSuffix(lower, "g")
	}
	n, err := strconv.ParseInt(lower, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large (at most %d bytes)", s, int64(math.MaxInt64))
	}
	return n * mult, nil
}

var eventsCommand = &cli.Command{
	Name:      "events",
	Usage:     "print a container's stats and OOM events as JSON lines",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "how often to print stats"},
		&cli.BoolFlag{Name: "stats", Usage: "print the stats once and exit"},
	},
	Action: func(ctx *cli.Context) error {
		id, err := containerID(ctx)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(os.Stdout)
		if ctx.Bool("stats") {
			return withContainer(ctx, func(c *libcontainer.Container) error { return printStats(w, c) })
		}
		if ctx.Duration("interval") <= 0 {
			return fmt.Errorf("--interval: must be positive")
		}
		return streamEvents(w, ctx.String("root"), id, ctx.Duration("interval"))
	},
}

type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

func writeEvent(w *bufio.Writer, e event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	w.Write(append(data, '\n'))
	return w.Flush()
}

func printStats(w *bufio.Writer, c *libcontainer.Container) error {
	st, err := c.Stats()
	if err != nil {
		return err
	}
	return writeEvent(w, event{Type: "stats", ID: c.ID, Data: st})
}

// streamEvents prints stats every interval and an "oom" event for each
// OOM kill, until the container stops.
func streamEvents(w *bufio.Writer, root, id string, interval time.Duration) error {
	var ooms uint64
	first := true
	for ; ; time.Sleep(interval) {
		c, err := libcontainer.Open(root, id)
		if err != nil {
			return err
		}
		if c.Status() == specs.StateStopped {
			c.Close()
			return nil
		}
		n, err := c.OOMKills()
		if err == nil && !first {
			for ; ooms < n; ooms++ {
				writeEvent(w, event{Type: "oom", ID: id})
			}
		}
		ooms, first = n, false
		err = printStats(w, c)
		c.Close()
		if err != nil {
			return err
		}
	}
}
