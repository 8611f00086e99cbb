package browser

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// The tests compare what the reader sees with the texts the product
// defines, read from their sources, so a reworded message needs no edit
// here.

// webMessage is the value of the string constant name in
// internal/web/messages.go (e.g. msgEmailNoDot).
func webMessage(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(kbproc.RepoRoot(), "internal", "web", "messages.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if id.Name != name || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s in %s is not a string literal", name, path)
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		}
	}
	t.Fatalf("no constant %s in %s", name, path)
	return ""
}

// siteText is the "other" form of an i18n/pl.toml entry.
func siteText(t *testing.T, key string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(kbproc.RepoRoot(), "i18n", "pl.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var entries map[string]map[string]string
	if err := toml.Unmarshal(raw, &entries); err != nil {
		t.Fatalf("i18n/pl.toml: %v", err)
	}
	s, ok := entries[key]["other"]
	if !ok {
		t.Fatalf("i18n/pl.toml has no %s", key)
	}
	return s
}

// subscriber is what `kb subscribers show EMAIL` prints about a person.
type subscriber struct {
	ID                  int64  `json:"id"`
	Status              string `json:"status"`
	WhitepaperRequested bool   `json:"whitepaper_requested"`
}

// showSubscriber runs `kb subscribers show EMAIL` against the server's data.
func showSubscriber(t *testing.T, o kbproc.Options, address string) subscriber {
	t.Helper()
	out, errOut, err := kbproc.Run(t, o, "subscribers", "show", address)
	if err != nil {
		t.Fatalf("kb subscribers show %s: %v\n%s%s", address, err, out, errOut)
	}
	var person struct {
		Subscriber *subscriber `json:"subscriber"`
	}
	if err := json.Unmarshal([]byte(out), &person); err != nil {
		t.Fatalf("kb subscribers show %s: %v\n%s", address, err, out)
	}
	if person.Subscriber == nil {
		t.Fatalf("kb subscribers show %s: no subscriber\n%s", address, out)
	}
	return *person.Subscriber
}
