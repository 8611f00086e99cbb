package newsletter

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/mailguntest"
)

func TestLogProgress(t *testing.T) {
	var buf strings.Builder
	now := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	p := &logProgress{log: slog.New(slog.NewTextHandler(&buf, nil)), now: func() time.Time { return now }}
	p.Start("vat-2027", 1000)
	for range 100 {
		p.Add(10)
	}
	p.Done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// start, one line per tenth, end
	if len(lines) != 12 {
		t.Fatalf("%d lines, want 12:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[1], "done=100 ") || !strings.Contains(lines[1], "percent=10") ||
		!strings.Contains(lines[10], "done=1000 ") || !strings.Contains(lines[11], "campaign ended") {
		t.Errorf("unexpected lines:\n%s", buf.String())
	}

	// A slow campaign still logs every 30 seconds.
	buf.Reset()
	p.Start("wolna", 1_000_000)
	for range 3 {
		now = now.Add(31 * time.Second)
		p.Add(1)
	}
	if n := strings.Count(buf.String(), "msg=progress"); n != 3 {
		t.Errorf("%d progress lines for a slow campaign, want 3:\n%s", n, buf.String())
	}
}

func TestBarProgress(t *testing.T) {
	var buf strings.Builder
	p := NewProgress(&buf, true)
	p.Start("kasa-fiskalna", 50)
	p.Add(20)
	p.Add(30)
	p.Done()
	out := buf.String()
	if !strings.Contains(out, "kasa-fiskalna") || !strings.Contains(out, "50/50") {
		t.Errorf("bar output %q lacks the campaign or the count", out)
	}
	if _, ok := NewProgress(&buf, false).(*logProgress); !ok {
		t.Error("NewProgress without a terminal is not the log progress")
	}
}

// recordingProgress checks the order of calls and sums the counts.
type recordingProgress struct {
	t       *testing.T
	started []string
	totals  []int
	added   []int
	open    bool
}

func (r *recordingProgress) Start(c string, total int) {
	if r.open {
		r.t.Error("Start before Done")
	}
	r.open = true
	r.started, r.totals, r.added = append(r.started, c), append(r.totals, total), append(r.added, 0)
}

func (r *recordingProgress) Add(n int) {
	if !r.open || n <= 0 {
		r.t.Errorf("Add(%d) open=%v", n, r.open)
	}
	r.added[len(r.added)-1] += n
}

func (r *recordingProgress) Done() {
	if !r.open {
		r.t.Error("Done without Start")
	}
	r.open = false
}

func TestRunReportsProgress(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 120)
	g := f.guide("postep", 1)
	f.srv.Script(mailguntest.Status(503, ""))
	p := &recordingProgress{t: t}
	s := f.sender(nil, f.mailgun(0), func(o *Options) { o.BatchSize = 50; o.MaxAttempts = 1; o.Concurrency = 1; o.Progress = p })
	if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err == nil {
		t.Fatal("first run succeeded despite the 503")
	}
	if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
		t.Fatal(err)
	}
	// The first run got 70 of 120 through; the resumed one reports those
	// at once and then the rest.
	if len(p.started) != 2 || p.totals[0] != 120 || p.totals[1] != 120 || p.added[0] != 70 || p.added[1] != 120 || p.open {
		t.Errorf("progress: started %v totals %v added %v open %v", p.started, p.totals, p.added, p.open)
	}
}
