package kbproc

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MustRun runs a kb command to completion and returns its stdout; it fails
// the test if the command fails.
func MustRun(t testing.TB, o Options, args ...string) string {
	t.Helper()
	out, errOut, err := Run(t, o, args...)
	if err != nil {
		t.Fatalf("kb %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// Proc is a kb process running alongside others (Run waits for each in
// turn): two kb send at once, or one to kill mid-send.
type Proc struct {
	Cmd *exec.Cmd
	// Stdout and Stderr collect its output, readable while it runs.
	Stdout, Stderr Log

	done chan struct{} // closed when it has exited; err is then set
	err  error
}

// StartProc starts `kb ARGS…` with o's site, data folder and environment.
// A process still running when the test ends is killed.
func StartProc(t testing.TB, o Options, args ...string) *Proc {
	t.Helper()
	o.defaults(t)
	p := &Proc{done: make(chan struct{})}
	p.Cmd = exec.Command(Binary(t), append([]string{"--root", o.Root}, args...)...)
	p.Cmd.Env = o.environ()
	p.Cmd.Stdout, p.Cmd.Stderr = &p.Stdout, &p.Stderr
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.Cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process exited (nil: exit 0); call it after Done.
func (p *Proc) Err() error { <-p.done; return p.err }

// Kill sends SIGKILL — no clean-up, no deferred release, as a crash or
// the OOM killer would — and waits for the process to be gone.
func (p *Proc) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Wait waits for the process to exit, killing it (and failing the test)
// if it is still running after d.
func (p *Proc) Wait(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.Kill()
		t.Fatalf("kb %s still running after %s; killed.\nstderr:\n%s", p.args(), d, p.Stderr.String())
	}
}

func (p *Proc) args() string { return strings.Join(p.Cmd.Args[3:], " ") }

// Describe is the process's state and output, for failure messages.
func (p *Proc) Describe() string {
	state := "still running"
	select {
	case <-p.done:
		state = fmt.Sprint("exited: ", p.err)
		if p.err == nil {
			state = "exited: 0"
		}
	default:
	}
	return fmt.Sprintf("kb %s (pid %d), %s\nstdout:\n%s\nstderr:\n%s", p.args(), p.Pid(), state, p.Stdout.String(), p.Stderr.String())
}

// Log collects a process's output, safe to read while it runs, and tells
// when a text appears.
type Log struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	watches []logWatch
}

type logWatch struct {
	substr string
	seen   chan struct{}
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.fire()
	return len(p), nil
}

func (l *Log) fire() {
	kept := l.watches[:0]
	for _, w := range l.watches {
		if bytes.Contains(l.buf.Bytes(), []byte(w.substr)) {
			close(w.seen)
		} else {
			kept = append(kept, w)
		}
	}
	l.watches = kept
}

// Seen is closed once the log contains substr.
func (l *Log) Seen(substr string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := logWatch{substr, make(chan struct{})}
	l.watches = append(l.watches, w)
	l.fire()
	return w.seen
}

func (l *Log) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

func (l *Log) Bytes() []byte { return []byte(l.String()) }
