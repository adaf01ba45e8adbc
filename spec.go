package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"husk/libcontainer"
)

var specCommand = &cli.Command{
	Name:  "spec",
	Usage: "write a default config.json for a busybox-style bundle",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "bundle directory to write config.json in"},
		&cli.BoolFlag{Name: "rootless", Usage: "a config for a user namespace owned by the caller"},
	},
	Action: func(ctx *cli.Context) error {
		path := filepath.Join(ctx.String("bundle"), "config.json")
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("%s already exists: remove it first", path)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		spec := libcontainer.DefaultSpec()
		if ctx.Bool("rootless") {
			libcontainer.MakeRootless(spec, uint32(os.Geteuid()), uint32(os.Getegid()))
		}
		data, err := json.MarshalIndent(spec, "", "\t")
		if err != nil {
			return err
		}
		return os.WriteFile(path, append(data, '\n'), 0o666)
	},
}
