package browser

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
)

// monitor records, from a tab's protocol events, what a reader would call
// a broken page: console errors, uncaught exceptions, requests that fail or
// answer 400 or more, and requests to any host but the kb server.
type monitor struct {
	mu       sync.Mutex
	requests map[network.RequestID]string
	hosts    map[string]bool
	console  []string
	failed   []failedRequest
}

type failedRequest struct {
	URL    string
	Status int64  // 0 when the request failed without a response
	Error  string // the network error, when it failed
	Kind   network.ResourceType
}

func (f failedRequest) String() string {
	if f.Status != 0 {
		return fmt.Sprintf("%s %s answered %d", f.Kind, f.URL, f.Status)
	}
	return fmt.Sprintf("%s %s failed: %s", f.Kind, f.URL, f.Error)
}

func newMonitor() *monitor {
	return &monitor{requests: map[network.RequestID]string{}, hosts: map[string]bool{}}
}

// listen runs in the tab's event loop (chromedp.WithListener): it only
// records.
func (m *monitor) listen(ev any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		m.requests[ev.RequestID] = ev.Request.URL
		if u, err := url.Parse(ev.Request.URL); err == nil {
			switch u.Scheme {
			case "data", "blob", "about":
			default:
				m.hosts[u.Scheme+"://"+u.Host] = true
			}
		}
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			m.failed = append(m.failed, failedRequest{URL: ev.Response.URL, Status: ev.Response.Status, Kind: ev.Type})
		}
	case *network.EventLoadingFailed:
		m.failed = append(m.failed, failedRequest{URL: m.requests[ev.RequestID], Error: ev.ErrorText, Kind: ev.Type})
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			m.console = append(m.console, "console."+string(ev.Type)+": "+remoteText(ev.Args))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		m.console = append(m.console, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *log.EventEntryAdded:
		// Network errors are reported (and judged) as failed requests.
		if ev.Entry.Level == log.EntryLevelError && ev.Entry.Source != log.EntrySourceNetwork {
			m.console = append(m.console, fmt.Sprintf("%s error: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

func remoteText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a.Description != "":
			parts = append(parts, a.Description)
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// reset forgets what was recorded, e.g. after a step that fails requests
// on purpose.
func (m *monitor) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.console, m.failed = nil, nil
	m.hosts = map[string]bool{}
}

// check fails the test for console errors, failed requests that expected
// does not accept, and requests to other hosts than origin (e.g.
// http://127.0.0.1:4711).
func (m *monitor) check(t *testing.T, origin string, expected func(failedRequest) bool) {
	t.Helper()
	for _, p := range m.problems(origin, expected) {
		t.Error(p)
	}
}

// problems describes what check fails for.
func (m *monitor) problems(origin string, expected func(failedRequest) bool) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var problems []string
	for _, c := range m.console {
		problems = append(problems, "browser console: "+c)
	}
	for _, f := range m.failed {
		if expected == nil || !expected(f) {
			problems = append(problems, "request: "+f.String())
		}
	}
	for h := range m.hosts {
		if h != origin {
			problems = append(problems, fmt.Sprintf("request to another host than the kb server (%s): %s", origin, h))
		}
	}
	sort.Strings(problems)
	return problems
}

// requestCount tells how many requests the tab sent, so a test can tell
// that its check saw traffic at all.
func (m *monitor) requestCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.requests)
}

// answered accepts a response with status want to a URL that contains
// part: a page or an API answer that is 404, 410 or 422 on purpose.
func answered(part string, want int64) func(failedRequest) bool {
	return func(f failedRequest) bool {
		return f.Status == want && strings.Contains(f.URL, part)
	}
}

// anyOf accepts what one of accept accepts.
func anyOf(accept ...func(failedRequest) bool) func(failedRequest) bool {
	return func(f failedRequest) bool {
		for _, a := range accept {
			if a(f) {
				return true
			}
		}
		return false
	}
}

func statusOf(res *network.Response) any {
	if res == nil {
		return "no response"
	}
	return res.Status
}
