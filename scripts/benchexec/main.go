// Command benchexec runs one command and reports how long it ran, from
// just before its fork to its reaping, in microseconds. scripts/bench.sh
// times every runtime command through it, so that neither a shell's fork
// nor a timeout(1) process in between is counted: they would add the
// same milliseconds to every runtime and squeeze the ratios towards 1.
//
//	benchexec -o FILE -t DURATION CMD [ARGS...]
//
// The command inherits stdin, stdout and stderr. benchexec exits with the
// command's status (128+N when a signal N ended it), or 124 after killing
// it at the time limit, as timeout(1) does; the time is written only when
// the command succeeds.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

func main() {
	out := flag.String("o", "", "file to write the elapsed microseconds to")
	limit := flag.Duration("t", 60*time.Second, "kill the command after this long")
	flag.Parse()
	if flag.NArg() == 0 || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: benchexec -o FILE [-t DURATION] CMD [ARGS...]")
		os.Exit(2)
	}
	os.Exit(run(*out, *limit, flag.Args()))
}

func run(out string, limit time.Duration, args []string) int {
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchexec:", err)
		return 127
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// As timeout(1): the command in a process group of its own, and the
	// whole group killed at the limit, not the command alone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	t0 := time.Now()
	err = cmd.Run()
	elapsed := time.Since(t0)
	if ctx.Err() != nil {
		fmt.Fprintf(os.Stderr, "benchexec: %s: killed after %v\n", args[0], limit)
		return 124
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "benchexec:", err)
		return 126
	}
	if err := os.WriteFile(out, []byte(strconv.FormatInt(elapsed.Microseconds(), 10)+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchexec:", err)
		return 1
	}
	return 0
}
