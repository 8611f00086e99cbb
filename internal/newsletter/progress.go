package newsletter

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress is told how far each campaign has got. The Sender calls it from
// one goroutine at a time: Start, any number of Add, then Done.
type Progress interface {
	// Start begins a campaign of total recipients.
	Start(campaign string, total int)
	// Add counts n more recipients done (sent, reconciled, skipped or failed).
	Add(n int)
	// Done ends the campaign, finished or not.
	Done()
}

// NewProgress returns a progress bar on w for a terminal, or plain log
// lines every tenth of a campaign (and at most every 30 seconds otherwise)
// for cron and log files.
func NewProgress(w io.Writer, isTTY bool) Progress {
	if isTTY {
		return &barProgress{w: w}
	}
	return &logProgress{log: slog.New(slog.NewTextHandler(w, nil)), now: time.Now}
}

type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (p *barProgress) Start(campaign string, total int) {
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(campaign),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("recipients"),
		progressbar.OptionShowIts(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetRenderBlankState(true),
	)
}

func (p *barProgress) Add(n int) {
	if p.bar != nil {
		p.bar.Add(n)
	}
}

func (p *barProgress) Done() {
	if p.bar == nil {
		return
	}
	if p.bar.IsFinished() {
		// The bar renders its final state when it reaches the total.
		fmt.Fprintln(p.w)
	} else {
		// An unfinished campaign keeps its last state on screen.
		p.bar.Exit()
		fmt.Fprintln(p.w)
	}
	p.bar = nil
}

// logEvery is the longest a long campaign goes without a progress line.
const logEvery = 30 * time.Second

type logProgress struct {
	log      *slog.Logger
	now      func() time.Time
	campaign string
	total    int
	done     int
	nextStep int // next tenth to report
	lastAt   time.Time
}

func (p *logProgress) Start(campaign string, total int) {
	p.campaign, p.total, p.done, p.nextStep, p.lastAt = campaign, total, 0, 1, p.now()
	p.log.Info("sending campaign", "campaign", campaign, "recipients", total)
}

func (p *logProgress) Add(n int) {
	p.done += n
	step := 10
	if p.total > 0 {
		step = p.done * 10 / p.total
	}
	if step < p.nextStep && p.now().Sub(p.lastAt) < logEvery {
		return
	}
	p.nextStep = step + 1
	p.lastAt = p.now()
	p.log.Info("progress", "campaign", p.campaign, "done", p.done, "recipients", p.total, "percent", percent(p.done, p.total))
}

func (p *logProgress) Done() {
	p.log.Info("campaign ended", "campaign", p.campaign, "done", p.done, "recipients", p.total, "percent", percent(p.done, p.total))
}

func percent(done, total int) int {
	if total <= 0 {
		return 100
	}
	return done * 100 / total
}
