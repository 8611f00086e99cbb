package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"time"
)

// Polish labels of the figures, shared by the HTML report and the charts.
var monthsPL = [...]string{"sty", "lut", "mar", "kwi", "maj", "cze", "lip", "sie", "wrz", "paź", "lis", "gru"}

// MonthLabel is a month as readers write it: "lis 2026".
func MonthLabel(t time.Time) string { return monthsPL[t.Month()-1] + " " + strconv.Itoa(t.Year()) }

// WeekLabel is a week by its Monday: "2.11".
func WeekLabel(t time.Time) string { return fmt.Sprintf("%d.%02d", t.Day(), int(t.Month())) }

// Percent formats a rate in 0–1 as Polish percent: "83,3%".
func Percent(rate float64) string {
	if math.IsNaN(rate) || math.IsInf(rate, 0) {
		rate = 0
	}
	s := strconv.FormatFloat(math.Round(rate*1000)/10, 'f', 1, 64)
	for i := range s {
		if s[i] == '.' {
			s = s[:i] + "," + s[i+1:]
		}
	}
	return s + "%"
}

// Duration formats a time to confirm in Polish: "45 min", "3 godz. 5 min",
// "2 dni 4 godz.".
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Minute:
		return "poniżej minuty"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d godz. %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	days := int(d / (24 * time.Hour))
	word := "dni"
	if days == 1 {
		word = "dzień"
	}
	return fmt.Sprintf("%d %s %d godz.", days, word, int(d%(24*time.Hour)/time.Hour))
}

// MonthChart is the overview's line chart of confirmed subscribers.
func (o Overview) MonthChart() template.HTML {
	labels := make([]string, len(o.Months))
	values := make([]float64, len(o.Months))
	for i, m := range o.Months {
		labels[i], values[i] = MonthLabel(m.Month), float64(m.Confirmed)
	}
	desc := "Wykres liniowy: liczba potwierdzonych subskrybentów na koniec każdego miesiąca."
	if n := len(o.Months); n > 0 {
		desc += fmt.Sprintf(" Od %d (%s) do %d (%s). Liczby są też w tabeli obok.",
			o.Months[0].Confirmed, labels[0], o.Months[n-1].Confirmed, labels[n-1])
	}
	return LineChart("Potwierdzeni subskrybenci w ostatnich 12 miesiącach", desc, labels, values)
}

// WeekChart is the overview's bar chart of the weekly flow.
func (o Overview) WeekChart() template.HTML {
	labels := make([]string, len(o.Weeks))
	series := []Series{{Name: "Zapisy"}, {Name: "Potwierdzenia"}, {Name: "Wypisania"}, {Name: "Odbicia"}, {Name: "Skargi"}}
	for i, w := range o.Weeks {
		labels[i] = WeekLabel(w.Week)
		for j, v := range []int{w.Signups, w.Confirmations, w.Unsubscribes, w.Bounces, w.Complaints} {
			series[j].Values = append(series[j].Values, float64(v))
		}
	}
	return BarChart("Tydzień po tygodniu: zapisy, potwierdzenia, wypisania, odbicia i skargi",
		"Wykres słupkowy z ostatnich 12 tygodni (od poniedziałku); liczby są też w tabeli obok.", labels, series)
}

// htmlData is what the HTML report shows.
type htmlData struct {
	Title     string
	Overview  Overview
	Campaigns []CampaignRow
}

// WriteHTML writes the overview and the campaigns as one self-contained
// HTML page (inline CSS and SVG, nothing fetched), to send to the
// partners.
func WriteHTML(w io.Writer, o Overview, campaigns []CampaignRow) error {
	d := htmlData{Title: "Newsletter — raport z " + o.Now.Format("2006-01-02 15:04"), Overview: o, Campaigns: campaigns}
	if err := reportPage.Execute(w, d); err != nil {
		return fmt.Errorf("report: write HTML: %w", err)
	}
	return nil
}

var reportPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"month":    MonthLabel,
	"week":     WeekLabel,
	"percent":  Percent,
	"duration": Duration,
	"day":      func(t time.Time) string { return t.Format("2006-01-02") },
	"kind": func(k string) string {
		if k == "digest" {
			return "zestawienie"
		}
		return "poradnik"
	},
}).Parse(reportHTML))

const reportHTML = `<!DOCTYPE html>
<html lang="pl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fff;margin:0;line-height:1.5}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
h2{font-size:1.2rem;margin:2rem 0 .5rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:.75rem;margin:0;padding:0}
.cards div{border:1px solid #ccc;border-radius:.4rem;padding:.75rem}
.cards dt{font-size:.9rem;color:#444}
.cards dd{margin:0;font-size:1.5rem;font-weight:600}
figure{margin:1rem 0}
figcaption{font-weight:600;margin-bottom:.5rem}
svg{display:block;max-width:100%;height:auto}
.table{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:.95rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left;white-space:normal}
thead th{border-bottom:2px solid #888}
footer{color:#555;font-size:.85rem;margin-top:2rem}
@media print{.table{overflow:visible}figure{break-inside:avoid}}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{with .Overview}}
<dl class="cards">
<div><dt>Potwierdzeni subskrybenci</dt><dd>{{.Confirmed}}</dd></div>
<div><dt>Odsetek potwierdzeń (90 dni)</dt><dd>{{percent .ConfirmationRate}}</dd></div>
<div><dt>Mediana czasu do potwierdzenia</dt><dd>{{duration .MedianToConfirm}}</dd></div>
</dl>

<h2>Wzrost</h2>
<figure>
<figcaption>Potwierdzeni subskrybenci na koniec miesiąca</figcaption>
{{.MonthChart}}
</figure>
<div class="table"><table>
<caption>Potwierdzeni subskrybenci na koniec miesiąca</caption>
<thead><tr><th scope="col">Miesiąc</th><th scope="col">Potwierdzeni</th></tr></thead>
<tbody>{{range .Months}}<tr><th scope="row">{{month .Month}}</th><td>{{.Confirmed}}</td></tr>{{end}}</tbody>
</table></div>

<h2>Tydzień po tygodniu</h2>
<figure>
<figcaption>Zapisy, potwierdzenia, wypisania, odbicia i skargi</figcaption>
{{.WeekChart}}
</figure>
<div class="table"><table>
<caption>Ostatnie 12 tygodni (od poniedziałku)</caption>
<thead><tr><th scope="col">Tydzień od</th><th scope="col">Zapisy</th><th scope="col">Potwierdzenia</th><th scope="col">Wypisania</th><th scope="col">Odbicia</th><th scope="col">Skargi</th></tr></thead>
<tbody>{{range .Weeks}}<tr><th scope="row">{{day .Week}}</th><td>{{.Signups}}</td><td>{{.Confirmations}}</td><td>{{.Unsubscribes}}</td><td>{{.Bounces}}</td><td>{{.Complaints}}</td></tr>{{end}}</tbody>
</table></div>
{{end}}

<h2>Kampanie</h2>
{{if .Campaigns}}
<div class="table"><table>
<caption>Ostatnie kampanie, od najnowszej</caption>
<thead><tr><th scope="col">Poradnik</th><th scope="col">Data</th><th scope="col">Odbiorcy</th><th scope="col">Przyjęte</th><th scope="col">Doręczone</th><th scope="col">Trwałe błędy</th><th scope="col">Przejściowe błędy</th><th scope="col">Skargi</th><th scope="col">Wypisania</th></tr></thead>
<tbody>{{range .Campaigns}}<tr><th scope="row">{{.Title}} <small>({{kind .Kind}})</small></th><td>{{day .Date}}</td><td>{{.Recipients}}</td><td>{{.Accepted}}</td><td>{{.Delivered}}</td><td>{{.PermanentFailures}}</td><td>{{.TemporaryFailures}}</td><td>{{.Complaints}}</td><td>{{.Unsubscribes}}</td></tr>{{end}}</tbody>
</table></div>
{{else}}<p>Nie wysłano jeszcze żadnej kampanii.</p>{{end}}
<footer>Stan na {{.Overview.Now.Format "2006-01-02 15:04 MST"}}. Przyjęte: wiadomości przyjęte przez Mailgun; doręczone, błędy, skargi i wypisania: to, co zgłosił Mailgun i linki wypisu z danej kampanii.</footer>
</main>
</body>
</html>
`
