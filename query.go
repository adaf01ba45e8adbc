package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"husk/libcontainer"
)

var stateCommand = &cli.Command{
	Name:      "state",
	Usage:     "print a container's state as JSON",
	ArgsUsage: "<container-id>",
	Action: func(ctx *cli.Context) error {
		id, err := containerID(ctx)
		if err != nil {
			return err
		}
		st, err := libcontainer.ReadState(ctx.String("root"), id)
		if err != nil {
			return err
		}
		return printJSON(st)
	},
}

var listCommand = &cli.Command{
	Name:  "list",
	Usage: "list containers",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only IDs"},
	},
	Action: func(ctx *cli.Context) error {
		states, err := libcontainer.List(ctx.String("root"))
		if err != nil {
			return err
		}
		if ctx.Bool("quiet") {
			for _, st := range states {
				fmt.Println(st.ID)
			}
			return nil
		}
		switch ctx.String("format") {
		case "json":
			if states == nil {
				states = []libcontainer.State{}
			}
			return printJSON(states)
		case "table":
			w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, st := range states {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", st.ID, st.Pid, st.Status, st.Bundle, st.Created.Format(time.RFC3339Nano), st.Owner)
			}
			return w.Flush()
		}
		return fmt.Errorf("--format: want table or json, got %q", ctx.String("format"))
	},
}

func printJSON(v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(data, '\n'))
	return err
}

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print what this husk implements, as runtime-spec features JSON",
	Action: func(*cli.Context) error {
		return printJSON(libcontainer.Features())
	},
}
