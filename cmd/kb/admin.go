package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kbpress/kb/internal/admin"
	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/report"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/web"
)

func (a *app) adminCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage the administrators of the dashboard (/admin/)",
		Long: `The dashboard at /admin/ is off (404) until an administrator exists.
Each administrator logs in with a password and, from the first login on,
a one-time code from an authenticator app (TOTP).`,
	}
	cmd.AddCommand(a.adminAdd(), a.adminList(), a.adminRemove(), a.adminResetTOTP(), a.adminLog())
	return cmd
}

func (a *app) adminAdd() *cobra.Command {
	return &cobra.Command{
		Use:   "add EMAIL",
		Short: "Create an administrator",
		Long: fmt.Sprintf(`Add creates an administrator. The password is read from the terminal
(twice, without echo), or as one line from stdin when stdin is not a
terminal; at least %d characters. It is stored as an argon2id hash.
The one-time code is set up at the first login.`, admin.MinPasswordLength),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, err := a.readPassword()
			if err != nil {
				return err
			}
			hash, err := admin.HashPassword(password)
			if err != nil {
				return err
			}
			return a.withStore(cmd.Context(), func(st *store.Store) error {
				ad, err := st.AddAdmin(cmd.Context(), args[0], hash, time.Now())
				if err != nil {
					return err
				}
				a.logAdmin(cmd.Context(), st, "admin_added", ad.Email)
				fmt.Fprintf(a.stdout, "administrator %s added; the one-time code is set up at the first login\n", ad.Email)
				return nil
			})
		},
	}
}

// readPassword reads the password from the terminal without echo, or one
// line from stdin when it is not a terminal (scripts, tests).
func (a *app) readPassword() (string, error) {
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(a.stderr, "Password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(a.stderr, "Password again: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(p1) != string(p2) {
			return "", errors.New("the passwords differ")
		}
		return string(p1), nil
	}
	line, err := bufio.NewReader(io.LimitReader(a.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (a *app) adminList() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the administrators",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st *store.Store) error {
				list, err := st.Admins(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "EMAIL\tTOTP\tCREATED")
				for _, ad := range list {
					totp := "not yet (at first login)"
					if ad.TOTPSecret != "" {
						totp = "enrolled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", ad.Email, totp, formatTime(ad.CreatedAt))
				}
				return tw.Flush()
			})
		},
	}
}

func (a *app) adminRemove() *cobra.Command {
	return &cobra.Command{
		Use:   "remove EMAIL",
		Short: "Remove an administrator and end their sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(st *store.Store) error {
				if err := st.RemoveAdmin(cmd.Context(), args[0]); err != nil {
					return err
				}
				a.logAdmin(cmd.Context(), st, "admin_removed", args[0])
				fmt.Fprintf(a.stdout, "administrator %s removed\n", args[0])
				return nil
			})
		},
	}
}

func (a *app) adminResetTOTP() *cobra.Command {
	return &cobra.Command{
		Use:   "reset-totp EMAIL",
		Short: "Forget an administrator's one-time code app (set up again at the next login)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(st *store.Store) error {
				if err := st.ResetAdminTOTP(cmd.Context(), args[0], time.Now()); err != nil {
					return err
				}
				a.logAdmin(cmd.Context(), st, "totp_reset", args[0])
				fmt.Fprintf(a.stdout, "one-time codes of %s reset; sessions ended\n", args[0])
				return nil
			})
		},
	}
}

func (a *app) adminLog() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Show the dashboard's log (logins, failures, exports), newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st *store.Store) error {
				list, err := st.AdminLog(cmd.Context(), limit)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "AT\tEVENT\tEMAIL\tCLIENT\tDETAIL")
				for _, e := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", formatTime(e.At), e.Event, e.Email, e.Client, e.Detail)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "entries to show")
	return cmd
}

// logAdmin records an operator's change in the dashboard's log.
func (a *app) logAdmin(ctx context.Context, st *store.Store, event, email string) {
	if err := st.AddAdminLog(ctx, store.AdminLogEntry{At: time.Now(), Event: event, Email: strings.ToLower(strings.TrimSpace(email)), Client: "cli"}); err != nil {
		a.log.Warn("admin log", "err", err)
	}
}

// adminHandler is the dashboard kb serve mounts at /admin/ (404 until an
// administrator exists).
func (a *app) adminHandler(cfg *config.Config, st *store.Store) (http.Handler, error) {
	loc, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		return nil, fmt.Errorf("time zone: %w", err)
	}
	trusted := cfg.Env.TrustedProxies
	return admin.New(admin.Options{
		Store:    st,
		Reports:  report.New(st, loc),
		BaseURL:  cfg.BaseURL,
		Issuer:   cfg.Params.Firm.Name,
		ClientIP: func(r *http.Request) netip.Addr { return web.ClientIP(r, trusted) },
		Location: loc,
		Logger:   a.log,
	})
}
