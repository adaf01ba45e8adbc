package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"husk/libcontainer"
)

var createFlags = []cli.Flag{
	&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "path to the bundle directory"},
	&cli.StringFlag{Name: "pid-file", Usage: "write the container's pid to this file"},
	&cli.StringFlag{Name: "console-socket", Usage: "unix socket to receive the terminal's master fd (process.terminal with create or run -d)"},
	&cli.BoolFlag{Name: "no-pivot", Usage: "use MS_MOVE and chroot instead of pivot_root"},
	&cli.BoolFlag{Name: "no-new-keyring", Usage: "keep the caller's session keyring"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass N extra fds (3..3+N-1) to the container"},
}

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container, ready to start",
	ArgsUsage: "<container-id>",
	Flags:     createFlags,
	Action: func(ctx *cli.Context) error {
		c, tio, err := create(ctx, true)
		if err != nil {
			return err
		}
		tio.close()
		c.Close()
		return nil
	},
}

// create makes the container of `create` and `run`; detach is false for
// a `run` that waits. The terminal, if any, is set up as the flags say;
// the caller closes it.
func create(ctx *cli.Context, detach bool) (*libcontainer.Container, *terminalIO, error) {
	id, err := containerID(ctx)
	if err != nil {
		return nil, nil, err
	}
	if ctx.Int("preserve-fds") < 0 {
		return nil, nil, fmt.Errorf("--preserve-fds: must not be negative")
	}
	bundle, err := libcontainer.LoadBundle(ctx.String("bundle"))
	if err != nil {
		return nil, nil, err
	}
	tio, err := setupTerminal(bundle.Spec.Process.Terminal, detach, ctx.String("console-socket"))
	if err != nil {
		return nil, nil, err
	}
	c, err := libcontainer.Create(libcontainer.CreateOpts{
		Root: ctx.String("root"), ID: id, Bundle: bundle,
		PidFile: ctx.String("pid-file"), NoPivot: ctx.Bool("no-pivot"),
		NoNewKeyring: ctx.Bool("no-new-keyring"), PreserveFds: ctx.Int("preserve-fds"),
		ListenFds: listenFds(), Stdio: stdio(), Console: tio.console(),
	})
	if err != nil {
		tio.close()
		return nil, nil, err
	}
	return c, tio, nil
}

// listenFds is how many socket-activation fds husk was given (LISTEN_FDS,
// for this very process by LISTEN_PID); like runc, husk passes them on to
// the container from fd 3, before the --preserve-fds ones.
func listenFds() int {
	if pid, err := strconv.Atoi(os.Getenv("LISTEN_PID")); err != nil || pid != os.Getpid() {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

var startCommand = &cli.Command{
	Name:      "start",
	Usage:     "start the user process of a created container",
	ArgsUsage: "<container-id>",
	Action: func(ctx *cli.Context) error {
		return withContainer(ctx, (*libcontainer.Container).Start)
	},
}

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start a container, and wait for it unless detached",
	ArgsUsage: "<container-id>",
	Flags:     append([]cli.Flag{&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the container"}}, createFlags...),
	Action: func(ctx *cli.Context) error {
		var fwd *libcontainer.Forwarder
		if !ctx.Bool("detach") {
			// Never stopped: husk exits once the process has (see Wait).
			fwd = libcontainer.NewForwarder()
		}
		c, tio, err := create(ctx, ctx.Bool("detach"))
		if err != nil {
			return err
		}
		// After the delete below: the output is drained once the
		// container is gone, and husk's terminal restored on every path.
		defer tio.close()
		defer c.Close()
		if err := c.Start(); err != nil {
			c.Delete(true)
			return err
		}
		if fwd == nil {
			return nil
		}
		pid := c.Pid()
		// Let `kill`, `state` and `exec` reach the container while it runs.
		c.Close()
		code := fwd.Wait(pid)
		if c, err := libcontainer.Open(ctx.String("root"), c.ID); err == nil {
			if err := c.Delete(true); err != nil {
				logWarn("delete %s: %v", c.ID, err)
			}
		}
		return exitCode(code)
	},
}

// exitCode makes husk exit with the container process's code.
func exitCode(code int) error {
	if code == 0 {
		return nil
	}
	return cli.Exit("", code)
}

var killCommand = &cli.Command{
	Name:      "kill",
	Usage:     "send a signal (default TERM) to the container's init",
	ArgsUsage: "<container-id> [signal]",
	Flags:     []cli.Flag{&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process of the container"}},
	Action: func(ctx *cli.Context) error {
		name := ctx.Args().Get(1)
		if name == "" {
			name = "TERM"
		}
		sig, err := parseSignal(name)
		if err != nil {
			return err
		}
		return withContainer(ctx, func(c *libcontainer.Container) error { return c.Signal(sig, ctx.Bool("all")) })
	},
}

// parseSignal accepts a number, or a name with or without SIG, any case.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete a stopped (or, with --force, any) container",
	ArgsUsage: "<container-id>",
	Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill the container first if it runs"}},
	Action: func(ctx *cli.Context) error {
		id, err := containerID(ctx)
		if err != nil {
			return err
		}
		c, err := libcontainer.Open(ctx.String("root"), id)
		if err != nil {
			// A create that died early leaves a directory without state:
			// it is stopped, and removed like any stopped container.
			removed, rerr := libcontainer.RemoveAbandoned(ctx.String("root"), id, ctx.Bool("force"))
			if rerr != nil {
				return rerr
			}
			if removed || ctx.Bool("force") {
				return nil
			}
			return err
		}
		defer c.Close()
		return c.Delete(ctx.Bool("force"))
	},
}

// withContainer opens and locks the container named by the first argument.
func withContainer(ctx *cli.Context, fn func(*libcontainer.Container) error) error {
	id, err := containerID(ctx)
	if err != nil {
		return err
	}
	c, err := libcontainer.Open(ctx.String("root"), id)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}
