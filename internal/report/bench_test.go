package report

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/pgtest"
	"github.com/kbpress/kb/internal/store"
)

// Size of the benchmark's database: what the issue names.
const (
	benchSubscribers = 100_000
	benchCampaigns   = 100
	benchPerCampaign = 10_000 // 1,000,000 ledger rows
)

// benchNow is the benchmark's "now": a year of history ends here.
var benchNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// BenchmarkOverview computes the dashboard's overview (and the campaign
// table, Campaigns(100)) over 100,000 subscribers with a year of events
// and 100 campaigns with 1,000,000 ledger rows; it reports the median of
// each, in milliseconds (server time, the target is under 200 ms).
//
//	go test -run '^$' -bench Overview -benchtime 50x ./internal/report
func BenchmarkOverview(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchOverviewOn(b, "sqlite:"+filepath.Join(b.TempDir(), "kb.db"))
	})
	b.Run("postgres", func(b *testing.B) { benchOverviewOn(b, pgtest.DSN(b)) })
}

func benchOverviewOn(b *testing.B, dsn string) {
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	seedFigures(b, dsn)
	loc, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		b.Fatal(err)
	}
	r := New(st, loc)
	// A first call outside the measurement (cold caches are not the
	// common case of a dashboard), checked for plausible figures.
	o, err := r.Overview(ctx, benchNow)
	if err != nil {
		b.Fatal(err)
	}
	if o.Confirmed < benchSubscribers/2 || o.LastCampaign == nil || o.LastCampaign.Recipients != benchPerCampaign || o.Weeks[10].Signups == 0 {
		b.Fatalf("implausible overview: confirmed %d, last %+v, weeks %+v", o.Confirmed, o.LastCampaign, o.Weeks)
	}
	var overview, campaigns []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := r.Overview(ctx, benchNow); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		rows, err := r.Campaigns(ctx, 100)
		if err != nil || len(rows) != benchCampaigns {
			b.Fatalf("%d campaigns, %v", len(rows), err)
		}
		overview, campaigns = append(overview, mid.Sub(start)), append(campaigns, time.Since(mid))
	}
	b.ReportMetric(medianMS(overview), "overview-median-ms")
	b.ReportMetric(medianMS(campaigns), "campaigns-median-ms")
}

func medianMS(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	m := d[len(d)/2]
	if len(d)%2 == 0 {
		m = (d[len(d)/2-1] + d[len(d)/2]) / 2
	}
	return float64(m) / float64(time.Millisecond)
}

// seedFigures fills the database with SQL (portable to both backends):
// a year of subscribers, their events, the campaigns, their ledgers and
// their hourly webhook counts.
func seedFigures(b *testing.B, dsn string) {
	b.Helper()
	driver, src := "pgx", dsn
	if strings.HasPrefix(dsn, "sqlite:") {
		driver, src = "sqlite", strings.TrimPrefix(dsn, "sqlite:")+"?_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, src)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const hour = int64(time.Hour / time.Microsecond)
	now := benchNow.UnixMicro()
	year := 365 * 24 * hour
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	seq := func(n int) string {
		return "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < " + strconv.Itoa(n) + ") "
	}
	clamp := func(expr string) string {
		return "CASE WHEN " + expr + " > " + i64(now) + " THEN " + i64(now) + " ELSE " + expr + " END"
	}
	// Subscriber i signs up at an even pace over the year; by i % 100: 80%
	// confirmed, 8% pending, 6% unsubscribed, 4% bounced, 2% complained,
	// every one who left confirmed first (within 3 days), leaving within
	// 90 days of that.
	created := i64(now-year) + " + CAST(i AS BIGINT) * " + i64(year/benchSubscribers)
	confirmed := "(" + created + " + (i % 72) * " + i64(hour) + ")"
	left := clamp(confirmed + " + (i % 90) * " + i64(24*hour))
	status := "CASE WHEN i % 100 < 80 THEN 'confirmed' WHEN i % 100 < 88 THEN 'pending' WHEN i % 100 < 94 THEN 'unsubscribed' " +
		"WHEN i % 100 < 98 THEN 'bounced' ELSE 'complained' END"
	stmts := []string{
		seq(benchSubscribers) + `INSERT INTO subscribers (email, email_key, name, status, whitepaper_requested, consent_at,
			consent_version, consent_source, consent_ip, created_at, updated_at, confirmed_at, unsubscribed_at, bounced_at,
			complained_at, pending_since, link_key)
		SELECT 'user' || i || '@example.com', 'user' || i || '@example.com', '', s, i % 10 = 0, c, '1',
			'/poradniki/p' || (i % 20) || '/', '192.0.2.1', c, c,
			CASE WHEN s = 'pending' THEN NULL ELSE ` + clamp("conf") + ` END,
			CASE WHEN s = 'unsubscribed' THEN l END, CASE WHEN s = 'bounced' THEN l END, CASE WHEN s = 'complained' THEN l END,
			c, 'key' || i
		FROM (SELECT i, ` + status + ` AS s, ` + created + ` AS c, ` + confirmed + ` AS conf, ` + left + ` AS l FROM seq) x`,
		`INSERT INTO subscriber_events (subscriber_id, at, type, detail)
			SELECT id, created_at, 'signup', '{}' FROM subscribers`,
		`INSERT INTO subscriber_events (subscriber_id, at, type, detail)
			SELECT id, created_at, 'confirmation_queued', '' FROM subscribers`,
		`INSERT INTO subscriber_events (subscriber_id, at, type, detail)
			SELECT id, confirmed_at, 'confirmed', 'Mozilla/5.0' FROM subscribers WHERE confirmed_at IS NOT NULL`,
		`INSERT INTO subscriber_events (subscriber_id, at, type, detail)
			SELECT id, confirmed_at, 'welcome_queued', '' FROM subscribers WHERE confirmed_at IS NOT NULL`,
		`INSERT INTO subscriber_events (subscriber_id, at, type, detail)
			SELECT id, confirmed_at, 'whitepaper_queued', 'welcome' FROM subscribers
			WHERE confirmed_at IS NOT NULL AND whitepaper_requested`,
		`INSERT INTO subscriber_events (subscriber_id, at, type, detail)
			SELECT id, COALESCE(unsubscribed_at, bounced_at, complained_at), status, 'bench' FROM subscribers
			WHERE status IN ('unsubscribed', 'bounced', 'complained')`,
		// One campaign every 3.65 days, each to 10,000 readers in batches
		// of 1,000, all accepted.
		seq(benchCampaigns) + `INSERT INTO campaigns (slug, title, subject, state, batch_size, created_at, started_at, finished_at,
			recipients_count, batches_count, sent_count, kind)
		SELECT 'bench-' || i, 'Poradnik ' || i, 'Temat', 'sent', 1000, t, t, t + ` + i64(hour) + `, ` +
			strconv.Itoa(benchPerCampaign) + `, ` + strconv.Itoa(benchPerCampaign/1000) + `, ` + strconv.Itoa(benchPerCampaign) + `, 'guide'
		FROM (SELECT i, ` + i64(now-year) + ` + CAST(i AS BIGINT) * ` + i64(year/benchCampaigns) + ` AS t FROM seq) x`,
		seq(benchPerCampaign) + `INSERT INTO campaign_recipients (campaign_id, batch_seq, subscriber_id, email, name, state, sent_at)
		SELECT c.id, (i - 1) / 1000, ((c.id - 1) * 1000 + i - 1) % ` + strconv.Itoa(benchSubscribers) + ` + 1,
			'user' || (((c.id - 1) * 1000 + i - 1) % ` + strconv.Itoa(benchSubscribers) + ` + 1) || '@example.com', '', 'sent', c.started_at
		FROM campaigns c CROSS JOIN seq`,
		// 48 hours of webhook counts for each campaign.
		seq(48) + `INSERT INTO campaign_stats (campaign_id, hour, type, n)
		SELECT c.id, c.started_at / ` + i64(hour) + ` * ` + i64(hour) + ` + (i - 1) * ` + i64(hour) + `, t.type, t.n
		FROM campaigns c CROSS JOIN seq CROSS JOIN (SELECT 'delivered' AS type, 190 AS n UNION ALL SELECT 'failed_permanent', 2
			UNION ALL SELECT 'failed_temporary', 3 UNION ALL SELECT 'complained', 1 UNION ALL SELECT 'unsubscribed', 4) t`,
	}
	if driver == "pgx" {
		// What autovacuum does after a bulk load in production.
		stmts = append(stmts, "ANALYZE")
	}
	start := time.Now()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			b.Fatalf("seed: %v\n%s", err, q)
		}
	}
	var events, recipients int
	db.QueryRow("SELECT COUNT(*) FROM subscriber_events").Scan(&events)
	db.QueryRow("SELECT COUNT(*) FROM campaign_recipients").Scan(&recipients)
	b.Logf("seeded %d subscribers, %d events, %d campaigns, %d ledger rows in %s", benchSubscribers, events, benchCampaigns,
		recipients, time.Since(start).Round(time.Millisecond))
}
