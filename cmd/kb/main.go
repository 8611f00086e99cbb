// Command kb builds the knowledge-base site, serves it with the signup
// handler and sends new guides to subscribers. It only wires the internal
// packages together.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// app holds what every command shares.
type app struct {
	root   string
	debug  bool
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	log    *slog.Logger
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdout: stdout, stderr: stderr, getenv: getenv}
	cmd := a.rootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "kb:", err)
		return 1
	}
	return 0
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "kb",
		Short:         "Knowledge base: build the site, serve it, send new guides",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			level := slog.LevelInfo
			if a.debug {
				level = slog.LevelDebug
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
		},
	}
	root.PersistentFlags().StringVar(&a.root, "root", ".", "site directory (where config.toml lives)")
	root.PersistentFlags().BoolVar(&a.debug, "debug", false, "log debug messages")
	root.AddCommand(a.buildCommand(), a.serveCommand())
	return root
}
