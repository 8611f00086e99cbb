package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbpress/kb/internal/site"
)

func (a *app) serveCommand() *cobra.Command {
	var out, addr, baseURL string
	var watch bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Build the site and serve it over HTTP",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if baseURL == "" {
				baseURL = "http://" + addr + "/"
			}
			opts, err := a.siteOptions(out, baseURL)
			if err != nil {
				return err
			}
			opts.Environment = "development"
			if _, err := site.Build(ctx, opts); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := newServer(routes(opts.PublishDir, a.log), a.log)
			if watch {
				go func() {
					err := site.Watch(ctx, opts, func(res *site.Result, err error) {
						if err == nil {
							a.log.Info("site rebuilt", "pages", res.Pages, "duration", res.Duration.Round(time.Millisecond))
						}
					})
					if err != nil {
						a.log.Error("watch", "err", err)
					}
				}()
			}
			a.log.Info("serving", "url", baseURL, "addr", ln.Addr().String(), "dir", opts.PublishDir)
			return serve(ctx, srv, ln, a.log)
		},
	}
	cmd.Flags().StringVar(&out, "out", "public", "publish directory")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	cmd.Flags().StringVar(&baseURL, "base-url", "", "base URL of the served site (default http://ADDR/)")
	cmd.Flags().BoolVar(&watch, "watch", false, "rebuild when the site's sources change")
	return cmd
}

// routes is the whole HTTP handler tree; the API handlers join it here.
func routes(publishDir string, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", staticSite(publishDir))
	return logRequests(mux, log)
}

// staticSite serves the built site, with its 404 page for missing files
// and without the build's dot-files (the manifest).
func staticSite(dir string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := path.Clean("/" + r.URL.Path)
		if hasDotSegment(name) || !exists(dir, name) {
			notFound(w, dir)
			return
		}
		files.ServeHTTP(w, r)
	})
}

func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

func exists(dir, name string) bool {
	full := filepath.Join(dir, filepath.FromSlash(name))
	info, err := os.Stat(full)
	if err != nil {
		return false
	}
	if info.IsDir() {
		_, err = os.Stat(filepath.Join(full, "index.html"))
		return err == nil
	}
	return true
}

func notFound(w http.ResponseWriter, dir string) {
	page, err := os.ReadFile(filepath.Join(dir, "404.html"))
	if err != nil {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(page)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func logRequests(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.Debug("http", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration", time.Since(start).Round(time.Microsecond))
	})
}

func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serve runs srv on ln until ctx is done, then shuts down gracefully.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func resolve(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}
