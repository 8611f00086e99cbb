// Command benchreport turns the raw output of scripts/bench.sh (go test
// -bench results and wrk runs) into BENCHMARKS.md: for every figure the
// median of the runs with their range.
package main

import (
	"bufio"
	"cmp"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	raw := flag.String("raw", "", "folder with the raw results")
	quick := flag.Bool("quick", false, "the slow sizes were skipped")
	flag.Parse()
	if err := run(os.Stdout, *raw, *quick); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

// samples are the values of one metric over the runs.
type samples []float64

func (s samples) stats() (median, lo, hi float64, n int) {
	if len(s) == 0 {
		return 0, 0, 0, 0
	}
	v := slices.Clone(s)
	slices.Sort(v)
	n = len(v)
	median = v[n/2]
	if n%2 == 0 {
		median = (v[n/2-1] + v[n/2]) / 2
	}
	return median, v[0], v[n-1], n
}

// fmtStat formats a metric as "median (min–max, n runs)".
func (s samples) fmt(prec int) string {
	m, lo, hi, n := s.stats()
	if n == 0 {
		return "—"
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', prec, 64) }
	if n == 1 {
		return f(m) + " (1 run)"
	}
	return fmt.Sprintf("%s (%s–%s, %d runs)", f(m), f(lo), f(hi), n)
}

func (s samples) median() float64 { m, _, _, _ := s.stats(); return m }

// benchResults maps benchmark name → unit → samples.
type benchResults map[string]map[string]samples

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

func parseGoBench(path string, into benchResults) error {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		fields := strings.Fields(m[2])
		if into[m[1]] == nil {
			into[m[1]] = map[string]samples{}
		}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			into[m[1]][fields[i+1]] = append(into[m[1]][fields[i+1]], v)
		}
	}
	return sc.Err()
}

// wrkRun is one wrk run against kb serve.
type wrkRun struct {
	rps, p50, p99 float64 // requests/s, milliseconds
	requests      float64
	errors        float64 // non-2xx responses and socket errors
	drain         float64 // seconds for the mail queue to empty after the load
	emails        float64
}

var (
	reRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reReqs     = regexp.MustCompile(`(\d+) requests in`)
	rePct      = regexp.MustCompile(`^\s+(50|99)%\s+([\d.]+)(us|ms|s)`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reDrain    = regexp.MustCompile(`drain_seconds: ([\d.]+)`)
	reEmails   = regexp.MustCompile(`emails: (\d+)`)
	unitFactor = map[string]float64{"us": 0.001, "ms": 1, "s": 1000}
)

func parseWrk(path string) (wrkRun, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return wrkRun{}, err
	}
	var r wrkRun
	num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	for _, line := range strings.Split(string(b), "\n") {
		if m := rePct.FindStringSubmatch(line); m != nil {
			v := num(m[2]) * unitFactor[m[3]]
			if m[1] == "50" {
				r.p50 = v
			} else {
				r.p99 = v
			}
		}
		if m := reRPS.FindStringSubmatch(line); m != nil {
			r.rps = num(m[1])
		}
		if m := reReqs.FindStringSubmatch(line); m != nil {
			r.requests = num(m[1])
		}
		if m := reNon2xx.FindStringSubmatch(line); m != nil {
			r.errors += num(m[1])
		}
		if m := reSocket.FindStringSubmatch(line); m != nil {
			r.errors += num(m[1]) + num(m[2]) + num(m[3]) + num(m[4])
		}
		if m := reDrain.FindStringSubmatch(line); m != nil {
			r.drain = num(m[1])
		}
		if m := reEmails.FindStringSubmatch(line); m != nil {
			r.emails = num(m[1])
		}
	}
	if r.rps == 0 {
		return r, fmt.Errorf("%s: no wrk result", path)
	}
	return r, nil
}

func machine() string {
	var b strings.Builder
	cpu := "unknown CPU"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`model name\s*:\s*(.+)`).FindSubmatch(info); m != nil {
			cpu = string(m[1])
		}
	}
	mem := ""
	if info, err := os.ReadFile("/proc/meminfo"); err == nil {
		if m := regexp.MustCompile(`MemTotal:\s*(\d+) kB`).FindSubmatch(info); m != nil {
			kb, _ := strconv.ParseFloat(string(m[1]), 64)
			mem = fmt.Sprintf(", %.0f GiB RAM", kb/(1<<20))
		}
	}
	fmt.Fprintf(&b, "- Machine: %d cores (%s)%s, %s/%s\n", runtime.NumCPU(), cpu, mem, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "- Go: %s\n", runtime.Version())
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		fmt.Fprintf(&b, "- Commit: %s\n", strings.TrimSpace(string(out)))
	}
	fmt.Fprintf(&b, "- Date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	return b.String()
}

func run(w io.Writer, raw string, quick bool) error {
	if raw == "" {
		return fmt.Errorf("-raw is required")
	}
	res := benchResults{}
	for _, name := range []string{"site", "whitepaper", "send", "alone", "naive", "digest", "report", "search"} {
		if err := parseGoBench(filepath.Join(raw, name+".txt"), res); err != nil {
			return err
		}
	}
	// The same send benchmarks with the fake Mailgun answering after
	// 100 ms: same names, so a map of their own.
	slow := benchResults{}
	if err := parseGoBench(filepath.Join(raw, "send-100ms.txt"), slow); err != nil {
		return err
	}
	get := func(bench, unit string) samples { return res[bench][unit] }

	fmt.Fprintf(w, "# Benchmarks\n\nWritten by `make bench` (scripts/bench.sh, then tools/benchreport). ")
	fmt.Fprintf(w, "Every figure is the median of several runs, with the range of the runs in brackets.\n\n")
	fmt.Fprint(w, machine())
	fmt.Fprintf(w, "- Command: `make bench`%s\n\n", map[bool]string{true: " with BENCH_QUICK=1 (slow sizes skipped)"}[quick])
	fmt.Fprintln(w, "Everything runs on this one machine at once: the program measured, the load generator or fake Mailgun, and the database.")

	// Site build.
	fmt.Fprintf(w, "\n## Site build: `kb build` against Hugo's own builds\n\n")
	fmt.Fprintf(w, "`go test -run '^$' -bench 'BenchmarkBuild/guides=2000$' -benchtime 4x ./internal/site` (10,000 guides: `-benchtime 2x`, 2 runs): a generated site of n guides (about 600 words each, three tags from a pool of 20; `internal/benchsite`) built three ways, each in a process of its own and over its previous output, in rotating order within one run: by `site.Build` (what `kb build` runs), by Hugo's own command (`commands.Execute`) with the same layouts, and by Hugo with a minimal theme (a page template printing the title and content, a paginated list template: *bare*). A run's figure is the mean of its iterations. CPU is the build process's user and system time (GC included), steadier than wall time when other work shares the machine.\n\n")
	fmt.Fprintln(w, "| guides | kb build (s) | Hugo, same layouts (s) | bare Hugo (s) | kb ÷ bare | kb CPU (s) | bare CPU (s) | kb ÷ bare, CPU |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, n := range []string{"2000", "10000"} {
		name := "BenchmarkBuild/guides=" + n
		if res[name] == nil {
			fmt.Fprintf(w, "| %s | not run | | | | | | |\n", n)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", n, get(name, "site-s/op").fmt(2), get(name, "hugo-s/op").fmt(2),
			get(name, "bare-s/op").fmt(2), get(name, "x-bare").fmt(2), get(name, "site-cpu-s/op").fmt(2), get(name, "bare-cpu-s/op").fmt(2),
			get(name, "x-bare-cpu").fmt(2))
	}
	if small, big := get("BenchmarkBuild/guides=2000", "site-s/op").median(), get("BenchmarkBuild/guides=10000", "site-s/op").median(); small > 0 && big > 0 {
		fmt.Fprintf(w, "\n10,000 guides take %.1f× the time of 2,000 (5× the content).\n", big/small)
	}
	fmt.Fprintln(w, "\nTargets: kb build within 2× of bare Hugo at 2,000 guides; 10,000 guides within 6× of 2,000.")

	// Search.
	fmt.Fprintf(w, "\n## Search page\n\n")
	fmt.Fprintf(w, "`go test -run '^$' -bench BenchmarkSearchPage -benchtime 5x ./internal/e2e/browser`: a generated site of 2,000 guides served by the real `kb serve`, headless Chromium with the CPU slowed 4× (Lighthouse's phone), a cold cache each iteration. *Transferred* is every response of `/szukaj/?q=faktura` as sent (compressed, headers included); *index* the part under `/search/`; *first result* the time from typing a new query to its first result on screen.\n\n")
	fmt.Fprintln(w, "| transferred (KiB) | index (KiB) | first result (ms) |")
	fmt.Fprintln(w, "| --- | --- | --- |")
	if name := "BenchmarkSearchPage"; res[name] == nil {
		fmt.Fprintln(w, "| not run | | |")
	} else {
		fmt.Fprintf(w, "| %s | %s | %s |\n", get(name, "transferred-KiB").fmt(1), get(name, "index-KiB").fmt(1), get(name, "first-result-ms").fmt(0))
	}
	fmt.Fprintln(w, "\nTargets: at most 300 KiB in all; the first result within 100 ms.")

	// Send.
	fmt.Fprintf(w, "\n## Newsletter send\n\n")
	fmt.Fprintf(w, "`go test -run '^$' -bench 'Send100k|Send1M' -benchtime 1x ./internal/newsletter [-args -newsletter.1m]`: one guide to n confirmed subscribers through the real mailgun-go client to a Mailgun-compatible server in another process that answers each call after 20 ms; 4 calls in flight, 1,000 recipients a call. The floor is calls × 20 ms ÷ 4. *Total* includes fixing the campaign's recipients in the ledger (one INSERT … SELECT, the *ledger* column); *send phase* is the rest. Memory: the Go heap's peak while sending and the process's peak RSS (VmHWM, includes SQLite's page cache).\n\n")
	fmt.Fprintln(w, "| subscribers | database | calls | total (s) | ledger (s) | send phase (s) | floor (s) | total ÷ floor | send phase ÷ floor | peak heap (MiB) | peak RSS (MiB) |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, size := range []string{"100k", "1M"} {
		for _, db := range []string{"sqlite", "postgres"} {
			name := "BenchmarkSend" + size + "/" + db
			if res[name] == nil {
				fmt.Fprintf(w, "| %s | %s | not run | | | | | | | | |\n", size, db)
				continue
			}
			floor := get(name, "floor-s/op").median()
			phase := get(name, "send-phase-s/op")
			ratio := samples{}
			for _, v := range phase {
				ratio = append(ratio, v/floor)
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %s | %.2f | %s | %s | %s | %s |\n", size, db,
				get(name, "calls/op").median(), get(name, "wall-s/op").fmt(2), get(name, "create-campaign-s/op").fmt(2),
				phase.fmt(2), floor, get(name, "x-floor").fmt(2), ratio.fmt(2), get(name, "peak-heap-MiB").fmt(1), get(name, "VmHWM-MiB").fmt(0))
		}
	}
	// The latency floor assumes free CPU; on a small machine the sender and
	// the fake Mailgun share the cores, which bounds the wall time too.
	fmt.Fprintf(w, "\nCPU used per run (user + system), by the sender (ledger included) and by the fake Mailgun, and the wall time that CPU alone needs on %d cores:\n\n", runtime.NumCPU())
	fmt.Fprintln(w, "| subscribers | database | sender CPU (s) | sender CPU per 1,000 (ms) | calls in flight | fake Mailgun CPU (s) | CPU ÷ cores (s) | total ÷ that |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, size := range []string{"100k", "1M"} {
		for _, db := range []string{"sqlite", "postgres"} {
			name := "BenchmarkSend" + size + "/" + db
			if res[name] == nil || res[name]["sender-cpu-s/op"] == nil {
				continue
			}
			sender, fake := get(name, "sender-cpu-s/op"), get(name, "mailgun-cpu-s/op")
			cpuFloor := (sender.median() + fake.median()) / float64(runtime.NumCPU())
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n", size, db, sender.fmt(2),
				get(name, "sender-cpu-ms/1k").fmt(1), get(name, "in-flight").fmt(1), fake.fmt(2),
				cpuFloor, get(name, "wall-s/op").median()/cpuFloor)
		}
	}
	if naive := res["BenchmarkNaiveSend"]; naive != nil {
		fmt.Fprintf(w, "\nA naive sender — one call per recipient, same server, same 4 calls in flight — measured on 2,000 recipients: %s ms a recipient. ", naive["ms/recipient"].fmt(2))
		fmt.Fprintln(w, "Scaled to the sizes above:")
		fmt.Fprintln(w, "\n| subscribers | naive (s) | kb send, SQLite (s) | ratio |")
		fmt.Fprintln(w, "| --- | --- | --- | --- |")
		for _, size := range []struct{ name, unit string }{{"100k", "naive-100k-s"}, {"1M", "naive-1M-s"}} {
			ours := get("BenchmarkSend"+size.name+"/sqlite", "wall-s/op").median()
			if ours == 0 {
				continue
			}
			n := naive[size.unit].median()
			fmt.Fprintf(w, "| %s | %.0f | %.2f | %.0f× |\n", size.name, n, ours, n/ours)
		}
	}
	writeSendAgainstClient(w, res, slow)
	fmt.Fprintln(w, "\nTargets: within 2× of the floor; memory flat from 100,000 to 1,000,000 subscribers.")

	// Digest.
	fmt.Fprintf(w, "\n## Digest against a single guide\n\n")
	fmt.Fprintf(w, "`go test -run '^$' -bench Digest100k -benchtime 1x ./internal/newsletter`: in one run on one database, a guide to 100,000 readers of each guide, then — after all of them chose the digest, each with one of the 7 possible choices of the 3 topics — 5 guides on different topics queued for them (*queue*: the 5 guides' campaigns, which call nobody) and the digest to all 100,000 (`kb send --digest`). Same fake Mailgun (another process, 20 ms a call), 4 calls in flight. *Ledger* is fixing the digest's recipients with their guides; *variants* are the distinct guide lists, each rendered once and sent in batches of its own.\n\n")
	fmt.Fprintln(w, "| database | guide (s) | guide calls | guide peak heap (MiB) | queue 5 guides (s) | digest (s) | digest ledger (s) | digest calls | variants | digest peak heap (MiB) | digest ÷ guide |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, db := range []string{"sqlite", "postgres"} {
		name := "BenchmarkDigest100k/" + db
		if res[name] == nil {
			fmt.Fprintf(w, "| %s | not run | | | | | | | | | |\n", db)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %s | %s | %.0f | %.0f | %s | %s |\n", db,
			get(name, "guide-s/op").fmt(2), get(name, "guide-calls/op").median(), get(name, "guide-peak-heap-MiB").fmt(1),
			get(name, "queue-5-guides-s/op").fmt(2), get(name, "digest-s/op").fmt(2), get(name, "digest-ledger-s/op").fmt(2),
			get(name, "digest-calls/op").median(), get(name, "variants").median(), get(name, "digest-peak-heap-MiB").fmt(1),
			get(name, "digest÷guide").fmt(2))
	}
	fmt.Fprintln(w, "\nTarget: memory flat (the digest's peak heap no higher than the guide's); calls within a few of the guide's (one more per variant at most).")

	// Report.
	fmt.Fprintf(w, "\n## Dashboard figures\n\n")
	fmt.Fprintf(w, "`go test -run '^$' -bench BenchmarkOverview -benchtime 50x ./internal/report`: the overview of the firm's dashboard and `kb report` (`report.Overview`: confirmed subscribers now and at 12 month ends, 12 weeks of signups, confirmations, unsubscribes, bounces and complaints, the 90-day confirmation rate and median, the last campaign) and its campaign table (`Campaigns(100)`), over 100,000 subscribers with a year of events (about 400,000), 100 campaigns with 1,000,000 ledger rows and 48 hours of webhook counts each. Server time, warm caches; a run's figure is the median of its 50 calls.\n\n")
	fmt.Fprintln(w, "| database | overview (ms) | campaigns (ms) |")
	fmt.Fprintln(w, "| --- | --- | --- |")
	for _, db := range []string{"sqlite", "postgres"} {
		name := "BenchmarkOverview/" + db
		if res[name] == nil {
			fmt.Fprintf(w, "| %s | not run | |\n", db)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", db, get(name, "overview-median-ms").fmt(1), get(name, "campaigns-median-ms").fmt(1))
	}
	fmt.Fprintln(w, "\nTarget: the overview under 200 ms (median).")

	// Signup.
	fmt.Fprintf(w, "\n## Signup\n\n")
	fmt.Fprintf(w, "`kb serve` in its own process (KB_SIGNUP_RATE=off, the outbox transport, its mail worker running), a fresh database each run; `wrk -t2 -cN -d10s --latency -s scripts/signup.lua` in another process posts JSON signups with unique addresses. Errors are non-2xx answers plus socket errors. *Drain* is how long after the load the mail queue took to send every confirmation email. Each run starts on a quiet disk: the previous run's emails written back and no files deleted until the end.\n\n")
	fmt.Fprintln(w, "| database | clients | requests/s | p50 (ms) | p99 (ms) | errors | drain (s) |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, db := range []string{"sqlite", "postgres"} {
		for _, c := range []string{"32", "256"} {
			files, _ := filepath.Glob(filepath.Join(raw, fmt.Sprintf("signup-%s-c%s-*.txt", db, c)))
			var rps, p50, p99, errs, drain samples
			for _, f := range files {
				r, err := parseWrk(f)
				if err != nil {
					return err
				}
				rps, p50, p99 = append(rps, r.rps), append(p50, r.p50), append(p99, r.p99)
				errs, drain = append(errs, r.errors), append(drain, r.drain)
			}
			if len(rps) == 0 {
				fmt.Fprintf(w, "| %s | %s | not run | | | | |\n", db, c)
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", db, c, rps.fmt(0), p50.fmt(1), p99.fmt(1), errs.fmt(0), drain.fmt(1))
		}
	}
	fmt.Fprintln(w, "\nTarget: over 5,000 signups a second with p99 under 25 ms, zero errors. wrk keeps every client waiting on an answer, so the mean latency is clients ÷ throughput: at 256 clients a p99 under 25 ms needs more than 10,000 answers a second.")

	// Whitepaper.
	fmt.Fprintf(w, "\n## Whitepaper render\n\n`go test -run '^$' -bench Render -benchtime 10x ./internal/whitepaper`\n\n")
	fmt.Fprintln(w, "| document | time (ms) | pages/s | memory (MB/op) |")
	fmt.Fprintln(w, "| --- | --- | --- | --- |")
	names := make([]string, 0)
	for name := range res {
		if strings.HasPrefix(name, "BenchmarkRender") || strings.HasPrefix(name, "BenchmarkBuildCached") {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(a, b) })
	for _, name := range names {
		ms := samples{}
		for _, v := range res[name]["ns/op"] {
			ms = append(ms, v/1e6)
		}
		mb := samples{}
		for _, v := range res[name]["B/op"] {
			mb = append(mb, v/1e6)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", strings.TrimPrefix(name, "Benchmark"), ms.fmt(1), res[name]["pages/s"].fmt(0), mb.fmt(1))
	}
	return nil
}

// writeSendAgainstClient compares kb's send with mailgun-go alone
// (BenchmarkMailgunAlone: the same batches built in advance), at the
// benchmark's 20 ms a call and at 100 ms, to show what kb itself adds and
// how much of it a slower answer hides.
func writeSendAgainstClient(w io.Writer, fast, slow benchResults) {
	alone := "BenchmarkMailgunAlone"
	if fast[alone] == nil && slow[alone] == nil {
		return
	}
	fmt.Fprintf(w, "\nWhat kb adds to the client: `BenchmarkMailgunAlone` (`-bench MailgunAlone`) hands the same 100 batches of 1,000, built before the clock starts (no database, no signing, no rendering), to mail.Mailgun four at a time against the same fake Mailgun: no sender built on mailgun-go can be faster against this server on this machine. ")
	fmt.Fprintf(w, "The 100 ms rows are the same benchmarks with `-args -newsletter.latency 100ms` (%d runs).\n\n", max(len(slow[alone]["wall-s/op"]), 1))
	fmt.Fprintln(w, "| a call takes | floor (s) | mailgun-go alone (s) | alone ÷ floor | client + fake Mailgun CPU (s) | kb, SQLite (s) | ÷ floor | kb, PostgreSQL (s) | ÷ floor | kb SQLite ÷ alone |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, row := range []struct {
		latency string
		res     benchResults
	}{{"20 ms", fast}, {"100 ms", slow}} {
		a := row.res[alone]
		if a == nil {
			continue
		}
		cpu := samples{}
		for i, v := range a["client-cpu-s/op"] {
			if i < len(a["mailgun-cpu-s/op"]) {
				cpu = append(cpu, v+a["mailgun-cpu-s/op"][i])
			}
		}
		kb := func(db string) (wall, ratio string) {
			r := row.res["BenchmarkSend100k/"+db]
			if r == nil {
				return "not run", ""
			}
			return r["wall-s/op"].fmt(2), r["x-floor"].fmt(2)
		}
		sw, sr := kb("sqlite")
		pw, pr := kb("postgres")
		over := ""
		if r := row.res["BenchmarkSend100k/sqlite"]; r != nil && a["wall-s/op"].median() > 0 {
			over = fmt.Sprintf("%.2f", r["wall-s/op"].median()/a["wall-s/op"].median())
		}
		fmt.Fprintf(w, "| %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %s |\n", row.latency, a["floor-s/op"].median(),
			a["wall-s/op"].fmt(2), a["x-floor"].fmt(2), cpu.fmt(2), sw, sr, pw, pr, over)
	}
}
