package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"husk/internal/jsondec"
	"husk/libcontainer"
)

var execCommand = &cli.Command{
	Name:      "exec",
	Usage:     "run a process in a running container",
	ArgsUsage: "<container-id> <command> [args...]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "process.json to run (instead of a command)"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "add KEY=VALUE to the environment"},
		&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "uid[:gid] to run as"},
		&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the process"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the process's pid to this file"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N extra fds (3..3+N-1) to the process"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs for the process"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability (e.g. CAP_NET_ADMIN) to the process"},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "exec into a paused container (the process stays frozen until resume)"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a terminal"},
		&cli.StringFlag{Name: "console-socket", Usage: "unix socket to receive the terminal's master fd (with --tty and --detach)"},
	},
	Action: func(ctx *cli.Context) error {
		err := runExec(ctx)
		// As runc: exec itself failing exits 255, apart from any code of the process.
		var exit cli.ExitCoder
		if err != nil && !errors.As(err, &exit) {
			return cli.Exit(err.Error(), 255)
		}
		return err
	},
}

func runExec(ctx *cli.Context) error {
	var fwd *libcontainer.Forwarder
	if !ctx.Bool("detach") {
		// Never stopped: husk exits once the process has (see Wait).
		fwd = libcontainer.NewForwarder()
	}
	// The lock is held only while the process starts, not while it runs.
	var pid int
	var tio *terminalIO
	defer func() { tio.close() }()
	err := withContainer(ctx, func(c *libcontainer.Container) error {
		spec, err := c.Spec()
		if err != nil {
			return err
		}
		proc, err := execProcess(ctx, spec.Process)
		if err != nil {
			return err
		}
		if tio, err = setupTerminal(proc.Terminal, ctx.Bool("detach"), ctx.String("console-socket")); err != nil {
			return err
		}
		file := ctx.String("process")
		if file == "" {
			file = "exec"
		}
		pid, err = c.Exec(libcontainer.ExecOpts{
			Process: proc, ProcessFile: file, IgnorePaused: ctx.Bool("ignore-paused"), PidFile: ctx.String("pid-file"),
			PreserveFds: ctx.Int("preserve-fds"), Stdio: stdio(), Console: tio.console(),
		})
		return err
	})
	if err != nil || ctx.Bool("detach") {
		return err
	}
	code := fwd.Wait(pid)
	tio.close() // drain the output before exiting
	return exitCode(code)
}

// execProcess builds the process to exec: from --process, or from the
// container's own process with the command and flags applied.
func execProcess(ctx *cli.Context, base *specs.Process) (*specs.Process, error) {
	var p specs.Process
	if file := ctx.String("process"); file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		if err := jsondec.Decode(data, &p); err != nil {
			return nil, fmt.Errorf("--process %s: invalid JSON: %v", file, err)
		}
		if p.Cwd == "" {
			p.Cwd = "/"
		}
		p.Terminal = p.Terminal || ctx.Bool("tty")
	} else {
		p = *base
		p.Args = ctx.Args().Tail()
		// As in runc: a terminal only when asked for.
		p.Terminal = ctx.Bool("tty")
	}
	if len(p.Args) == 0 || p.Args[0] == "" {
		return nil, fmt.Errorf("exec: a command is required")
	}
	p.Env = mergeEnv(p.Env, ctx.StringSlice("env"))
	if cwd := ctx.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if u := ctx.String("user"); u != "" {
		uid, gid, err := parseUser(u)
		if err != nil {
			return nil, err
		}
		p.User.UID, p.User.GID = uid, gid
	}
	for _, g := range ctx.Int64Slice("additional-gids") {
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	if ctx.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	addCaps(&p, ctx.StringSlice("cap"))
	return &p, nil
}

// addCaps gives the process extra capabilities as runc's `exec --cap`
// does; when the process has inheritable capabilities the new one becomes
// inheritable and ambient too, so a non-root process really gets it.
func addCaps(p *specs.Process, caps []string) {
	if len(caps) == 0 {
		return
	}
	c := &specs.LinuxCapabilities{}
	if p.Capabilities != nil {
		copied := *p.Capabilities
		c = &copied
	}
	for _, name := range caps {
		c.Bounding = append(slices.Clip(c.Bounding), name)
		c.Effective = append(slices.Clip(c.Effective), name)
		c.Permitted = append(slices.Clip(c.Permitted), name)
		if c.Inheritable != nil {
			c.Inheritable = append(slices.Clip(c.Inheritable), name)
			c.Ambient = append(slices.Clip(c.Ambient), name)
		}
	}
	p.Capabilities = c
}

// mergeEnv returns base with each KEY=VALUE of extra set, replacing the
// same key from base.
func mergeEnv(base, extra []string) []string {
	env := append([]string{}, base...)
	for _, kv := range extra {
		key, _, _ := strings.Cut(kv, "=")
		i := slices.IndexFunc(env, func(e string) bool { return strings.HasPrefix(e, key+"=") })
		if i >= 0 {
			env[i] = kv
		} else {
			env = append(env, kv)
		}
	}
	return env
}

// parseUser reads --user uid[:gid]; the gid defaults to 0 as in runc.
func parseUser(s string) (uint32, uint32, error) {
	us, gs, _ := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: uid must be a number", s)
	}
	var gid uint64
	if strings.HasSuffix(s, ":") {
		return 0, 0, fmt.Errorf("--user %q: gid after ':' must not be empty", s)
	}
	if gs != "" {
		if gid, err = strconv.ParseUint(gs, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("--user %q: gid must be a number", s)
		}
	}
	return uint32(uid), uint32(gid), nil
}
