package search

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Zaległości", "zaleglosci"},
		{"ŁÓDŹ", "lodz"},
		{"Żółć gęślą jaźń", "zolc gesla jazn"},
		{"KSeF", "ksef"},
		{"naïve café", "naive cafe"},
		{"e\u0301", "e"}, // already decomposed
		{"Straße", "straße"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestFoldMatchesJS runs search.js's fold in Node on the same strings:
// the index and the reader's query must fold alike.
func TestFoldMatchesJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	in := []string{"Zaległości wobec ZUS", "ŁÓDŹ Ćma Śruba Źdźbło Żaba Ńa", "Ǆemal İstanbul Ångström", "naïve café ﬁ ½", "ŒUVRE Ærø", "ÀÉÎÕÜ ąęóśćńźżł"}
	raw, _ := json.Marshal(in)
	// The fold function is taken from search.js itself.
	script := `const src = require('fs').readFileSync(process.argv[1], 'utf8');
		const fn = src.match(/function fold\(s\) \{[\s\S]*?\n  \}/);
		if (!fn) { console.error('no function fold in search.js'); process.exit(3); }
		var fold = eval('(' + fn[0] + ')');
		console.log(JSON.stringify(JSON.parse(process.argv[2]).map(fold)));`
	out, err := exec.Command(node, "-e", script, filepath.Join("..", "..", "assets", "js", "search.js"), string(raw)).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var want []string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for i, s := range in {
		if got := Fold(s); got != want[i] {
			t.Errorf("Fold(%q) = %q, JS fold = %q", s, got, want[i])
		}
	}
}

func TestWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"e-faktura, KSeF!", []string{"e", "faktura", "ksef"}},
		{"  art. 89a ust.1 ", []string{"art", "89a", "ust", "1"}},
		{"„cudzysłów”—myślnik", []string{"cudzyslow", "myslnik"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := Words(Fold(tt.in)); !slices.Equal(got, tt.want) {
			t.Errorf("Words(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

var testDocs = []Document{
	{URL: "/a/", Title: "Rozmowa o zaległej fakturze", Description: "Jak rozmawiać z klientem.", Tags: []string{"należności"}, Date: "2026-10-01", Reading: 4, Text: "Klient nie płaci faktury. Zaległości rosną."},
	{URL: "/b/", Title: "KSeF w biurze", Description: "Faktury ustrukturyzowane.", Tags: []string{"KSeF", "VAT"}, Date: "2026-12-02", Reading: 6, Text: "Od 2026 faktura trafia do KSeF."},
	{URL: "/c/", Title: "Ulga na złe długi", Description: "Korekta VAT.", Tags: []string{"VAT"}, Date: "2026-12-02", Reading: 5, Text: "Zaległości klienta a ulga na złe długi & fakturze."},
	{URL: "/d/", Title: "Emocje pod kontrolą", Description: "Spokojna rozmowa.", Tags: []string{"emocje"}, Date: "2026-08-20", Reading: 3, Text: "Oddech, pauza, pytanie."},
}

// reader answers queries from written files as search.js does: every word
// of the query a prefix of some word of the document, scored 10 per title
// and 3 per description/tag match, then newest first.
type reader struct {
	dir string
	m   manifest
}

func openReader(t *testing.T, dir string) *reader {
	t.Helper()
	r := &reader{dir: dir}
	readJSON(t, filepath.Join(dir, ManifestName), &r.m)
	return r
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func decode(enc []int) map[int]int {
	out := map[int]int{}
	prev := -1
	for _, v := range enc {
		prev += v >> 2
		out[prev] = v & 3
	}
	return out
}

// word returns the documents holding a word starting with q, with flags.
func (r *reader) word(t *testing.T, q string) map[int]int {
	runes := []rune(q)
	for i := 1; i <= len(runes); i++ {
		p := string(runes[:i])
		if f, ok := r.m.Leaf[p]; ok {
			var leaf map[string][]int
			readJSON(t, filepath.Join(r.dir, f), &leaf)
			out := map[int]int{}
			for w, enc := range leaf {
				if strings.HasPrefix(w, q) {
					for d, fl := range decode(enc) {
						out[d] |= fl
					}
				}
			}
			return out
		}
		f, ok := r.m.Node[p]
		if !ok {
			return nil
		}
		if i == len(runes) {
			var enc []int
			readJSON(t, filepath.Join(r.dir, f), &enc)
			return decode(enc)
		}
	}
	return nil
}

func (r *reader) search(t *testing.T, query string) []string {
	var hits map[int]int // doc → score
	for i, w := range Words(Fold(query)) {
		found := r.word(t, w)
		next := map[int]int{}
		for d, fl := range found {
			if s, ok := hits[d]; ok || i == 0 {
				next[d] = s + 10*(fl&inTitle) + 3*(fl&inMeta>>1)
			}
		}
		hits = next
	}
	ids := make([]int, 0, len(hits))
	for d := range hits {
		ids = append(ids, d)
	}
	slices.SortFunc(ids, func(a, b int) int {
		if hits[a] != hits[b] {
			return hits[b] - hits[a]
		}
		return a - b
	})
	out := make([]string, len(ids))
	for i, id := range ids {
		var rows [][]any
		readJSON(t, filepath.Join(r.dir, r.m.Meta[id/r.m.Chunk]), &rows)
		out[i] = fmt.Sprintf("%s %d", rows[id%r.m.Chunk][0], hits[id])
	}
	return out
}

func TestLookup(t *testing.T) {
	queries := []struct {
		q    string
		want []string
	}{
		{"faktur", []string{"/a/ 10", "/b/ 3", "/c/ 0"}},      // fakturze, Faktury, faktura
		{"fakturze", []string{"/a/ 10", "/c/ 0"}},             // title; text
		{"zaleglosci", []string{"/c/ 0", "/a/ 0"}},            // text only: newest first
		{"Zaległ", []string{"/a/ 10", "/c/ 0"}},               // diacritics in the query
		{"ulga na zle dlugi", []string{"/c/ 40"}},             // every word must match
		{"ksef", []string{"/b/ 13"}},                          // title and tag
		{"k", []string{"/b/ 13", "/d/ 10", "/c/ 3", "/a/ 3"}}, // one letter: KSeF, kontrolą, Korekta, klientem
		{"rozmowa klient", []string{"/a/ 13"}},
		{"kryptowaluty", nil},
		{"fakturzex", nil},
		{"zzz", nil},
	}
	for _, max := range []int{0, 40, 1} { // default, some splits, a split at every letter
		t.Run(fmt.Sprintf("max=%d", max), func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Write(dir, testDocs, Options{MaxFragment: max, Chunk: 3}); err != nil {
				t.Fatal(err)
			}
			r := openReader(t, dir)
			if max == 1 && len(r.m.Node) == 0 {
				t.Fatal("no prefix was split")
			}
			for _, q := range queries {
				if got := r.search(t, q.q); !slices.Equal(got, q.want) {
					t.Errorf("search(%q) = %q, want %q", q.q, got, q.want)
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	read := func(dir string) map[string]string {
		out := map[string]string{}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			raw, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			out[e.Name()] = string(raw)
		}
		return out
	}
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if _, err := Write(dir, testDocs, Options{MaxFragment: 40}); err != nil {
			t.Fatal(err)
		}
	}
	if fa, fb := read(a), read(b); !mapsEqual(fa, fb) {
		t.Fatalf("two writes of the same documents differ:\n%v\n%v", fa, fb)
	}

	// A changed document: its fragments get new names, the stale ones go,
	// the untouched ones keep their modification time.
	before := read(a)
	stat := func(name string) int64 {
		fi, err := os.Stat(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime().UnixNano()
	}
	mtimes := map[string]int64{}
	for name := range before {
		mtimes[name] = stat(name)
	}
	changed := slices.Clone(testDocs)
	changed[3].Text = "Oddech, xylofon, pytanie."
	files, err := Write(a, changed, Options{MaxFragment: 40})
	if err != nil {
		t.Fatal(err)
	}
	after := read(a)
	if len(files) != len(after) {
		t.Errorf("Write returned %d files, the dir holds %d", len(files), len(after))
	}
	kept, gone := 0, 0
	for name := range before {
		if _, ok := after[name]; !ok {
			gone++
			continue
		}
		kept++
		if name != ManifestName && stat(name) != mtimes[name] {
			t.Errorf("%s unchanged but rewritten", name)
		}
	}
	if gone == 0 || kept < 3 {
		t.Errorf("after a change %d files kept, %d gone", kept, gone)
	}
	if got := openReader(t, a).search(t, "xylo"); !slices.Equal(got, []string{"/d/ 0"}) {
		t.Errorf("changed document not found: %v", got)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestFromHugoIndex(t *testing.T) {
	site := t.TempDir()
	src := `{"version":1,"items":[{"title":"Rozmowa o zaległej fakturze","url":"/poradniki/a/","description":"Opis","tags":["należności"],"date":"2026-10-01","reading":4,"content":"Tekst\n\n  z   fakturą &amp; klientem"}]}`
	if err := os.WriteFile(filepath.Join(site, HugoIndex), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := FromHugoIndex(site, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(site, HugoIndex)); !os.IsNotExist(err) {
		t.Errorf("%s still in the site: %v", HugoIndex, err)
	}
	if !slices.Contains(files, Dir+"/"+ManifestName) {
		t.Errorf("files %v lack the manifest", files)
	}
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(site, filepath.FromSlash(f))); err != nil {
			t.Errorf("returned %s: %v", f, err)
		}
	}
	if got := openReader(t, filepath.Join(site, Dir)).search(t, "fakturą klient"); !slices.Equal(got, []string{"/poradniki/a/ 0"}) {
		t.Errorf("search = %v", got)
	}
	if got := openReader(t, filepath.Join(site, Dir)).search(t, "amp"); len(got) != 0 {
		t.Errorf("an HTML entity is indexed as a word: %v", got)
	}
	if _, err := FromHugoIndex(t.TempDir(), Options{}); err == nil {
		t.Error("no error for a site without the Hugo index")
	}
}

// TestHead: the head file holds the rows of the newest documents, the
// same as their chunks, so search.js may take a card from either.
func TestHead(t *testing.T) {
	for _, head := range []int{1, 2, 100} {
		t.Run(fmt.Sprint(head), func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Write(dir, testDocs, Options{Chunk: 3, Head: head}); err != nil {
				t.Fatal(err)
			}
			r := openReader(t, dir)
			if want := min(head, len(testDocs)); r.m.HeadN != want || r.m.Head == "" {
				t.Fatalf("head %q of %d documents, want %d", r.m.Head, r.m.HeadN, want)
			}
			var rows [][]any
			readJSON(t, filepath.Join(dir, r.m.Head), &rows)
			if len(rows) != r.m.HeadN {
				t.Fatalf("head file has %d rows, manifest says %d", len(rows), r.m.HeadN)
			}
			for id, got := range rows {
				var chunk [][]any
				readJSON(t, filepath.Join(dir, r.m.Meta[id/r.m.Chunk]), &chunk)
				if fmt.Sprint(got) != fmt.Sprint(chunk[id%r.m.Chunk]) {
					t.Errorf("head row %d = %v, its chunk has %v", id, got, chunk[id%r.m.Chunk])
				}
			}
		})
	}
}
