package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Timeouts of the HTTP server: slow clients cannot hold connections. The
// write timeout applies to each chunk of a download (slowLinkWriter), so a
// large file on a slow link is not cut.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10

	// ShutdownTimeout is how long Serve lets requests in flight finish.
	ShutdownTimeout = 30 * time.Second
)

// Server returns an http.Server for h on addr, with timeouts against slow
// clients; its own errors (TLS handshakes, bad requests) go to h's logger.
func (h *Handler) Server(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      h.writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
}

// Serve runs srv on ln until ctx ends (e.g. on SIGTERM), then shuts down
// gracefully: it stops accepting connections and waits up to
// ShutdownTimeout for requests in flight, then closes what is left. It
// returns nil after a clean shutdown.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	return serve(ctx, srv, ln, ShutdownTimeout)
}

func serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web: serve: %w", err)
	case <-ctx.Done():
	}
	// The parent context is done; the shutdown gets a fresh deadline.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	if shutdownErr != nil {
		// Out of time: cut the remaining connections.
		shutdownErr = errors.Join(fmt.Errorf("web: graceful shutdown: %w", shutdownErr), srv.Close())
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return errors.Join(shutdownErr, fmt.Errorf("web: serve: %w", err))
	}
	return shutdownErr
}
