// Command husk is a low-level OCI container runtime with runc's command line.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"husk/libcontainer"
	_ "husk/nsenter" // the namespace work of `husk init`, before the Go runtime
)

var version = "0.1.0"

func main() {
	// `husk init` is the container's init stage: keep it off the CLI path.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
	stop := startCPUProfile()
	code := runCLI(os.Args)
	stop()
	os.Exit(code)
}

// runCLI runs the command line and returns husk's exit code.
func runCLI(args []string) int {
	if err := newApp().Run(args); err != nil {
		var exit cli.ExitCoder
		if errors.As(err, &exit) {
			if msg := err.Error(); msg != "" {
				logError(msg)
			}
			return exit.ExitCode()
		}
		logError(err.Error())
		return 1
	}
	return 0
}

func newApp() *cli.App {
	return &cli.App{
		Name:                   "husk",
		Usage:                  "run OCI containers (runc-compatible command line)",
		Version:                version,
		HideHelpCommand:        true,
		UseShortOptionHandling: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/run/husk", Usage: "directory for container state"},
			&cli.StringFlag{Name: "log", Usage: "also write log messages to this file"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log file format: text or json"},
			&cli.BoolFlag{Name: "debug", Usage: "log debug messages"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "use the systemd cgroup driver (not supported yet)"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "rootless mode: true, false or auto (only false/auto supported)"},
			&cli.StringFlag{Name: "criu", Usage: "accepted for compatibility; checkpointing is not supported"},
		},
		Before: setupGlobal,
		Commands: []*cli.Command{
			specCommand, createCommand, startCommand, runCommand, execCommand,
			killCommand, deleteCommand, stateCommand, listCommand, psCommand,
			pauseCommand, resumeCommand, updateCommand, eventsCommand, featuresCommand, initCommand,
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main reports errors
	}
}

func setupGlobal(ctx *cli.Context) error {
	if err := openLog(ctx.String("log"), ctx.String("log-format"), ctx.Bool("debug")); err != nil {
		return err
	}
	if ctx.Bool("systemd-cgroup") {
		return fmt.Errorf("--systemd-cgroup: the systemd cgroup driver is not supported yet")
	}
	switch ctx.String("rootless") {
	case "auto", "false":
	case "true":
		return fmt.Errorf("--rootless=true: rootless containers are not supported yet")
	default:
		return fmt.Errorf("--rootless: want true, false or auto, got %q", ctx.String("rootless"))
	}
	libcontainer.Warnf = logWarn
	return nil
}

// initCommand only exists for the help text: main dispatches `init` first.
var initCommand = &cli.Command{
	Name:   "init",
	Usage:  "internal: the container's init stage (do not call)",
	Hidden: true,
	Action: func(*cli.Context) error { return fmt.Errorf("init must be started by husk") },
}

// containerID returns the first argument, a container ID, or an error in
// runc's words.
func containerID(ctx *cli.Context) (string, error) {
	id := ctx.Args().First()
	if id == "" {
		return "", fmt.Errorf("%s: container ID is required", ctx.Command.Name)
	}
	return id, libcontainer.ValidateID(id)
}

func stdio() [3]*os.File { return [3]*os.File{os.Stdin, os.Stdout, os.Stderr} }
