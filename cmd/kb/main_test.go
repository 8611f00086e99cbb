package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBuildAndServe(t *testing.T) {
	out := filepath.Join(t.TempDir(), "public")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"build", "--root", "../..", "--out", out, "--base-url", "http://127.0.0.1:1/"},
		&stdout, &stderr, func(string) string { return "" })
	if code != 0 {
		t.Fatalf("kb build exited %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "Built ") {
		t.Errorf("stdout: %q", stdout.String())
	}

	srv := httptest.NewServer(routes(out, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	tests := []struct {
		method, path string
		status       int
		contains     string
	}{
		{"GET", "/", 200, `<html lang="pl"`},
		{"GET", "/poradniki/", 200, "<h1>"},
		{"HEAD", "/szukaj/", 200, ""},
		{"GET", "/search-index.json", 200, `"items"`},
		{"GET", "/nie-ma-takiej-strony/", 404, "Nie znaleźliśmy tej strony"},
		{"GET", "/.kb-manifest.json", 404, ""},
		{"GET", "/../config.toml", 404, ""},
		{"POST", "/", 405, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status || !strings.Contains(string(body), tt.contains) {
			t.Errorf("%s %s: %d, body has %q: %v", tt.method, tt.path, res.StatusCode, tt.contains, strings.Contains(string(body), tt.contains))
		}
	}
}

func TestBuildReportsBadInput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"build", "--root", t.TempDir()}, &stdout, &stderr, os.Getenv)
	if code == 0 || !strings.Contains(stderr.String(), "config.toml") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	code = run(context.Background(), []string{"build", "--root", "../..", "--base-url", "not a url"}, &stdout, &stderr, os.Getenv)
	if code == 0 || !strings.Contains(stderr.String(), "--base-url") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestServeShutsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := newServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- serve(ctx, srv, ln, slog.New(slog.DiscardHandler)) }()
	res, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}
