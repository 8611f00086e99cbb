// Package pgtest gives tests a fresh PostgreSQL database of their own on
// the server named by KB_TEST_POSTGRES (.ci/run starts a throwaway one).
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the pgx driver
)

// EnvVar names the server tests may CREATE DATABASE on.
const EnvVar = "KB_TEST_POSTGRES"

var (
	adminOnce sync.Once
	admin     *sql.DB
	adminErr  error
)

// DSN creates a database with a random name and drops it when the test
// ends. Without KB_TEST_POSTGRES the test is skipped, unless CI is set:
// in CI the PostgreSQL variants must run.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(EnvVar + " is not set, but CI is: the PostgreSQL variant must run in CI " +
				"(set it to a server where the tests may CREATE DATABASE)")
		}
		t.Skip(EnvVar + " is not set: skipping the PostgreSQL variant " +
			"(e.g. export " + EnvVar + "='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable')")
	}
	adminOnce.Do(func() {
		admin, adminErr = sql.Open("pgx", base)
		if adminErr == nil {
			admin.SetMaxOpenConns(2)
		}
	})
	if adminErr != nil {
		t.Fatalf("%s: %v", EnvVar, adminErr)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "kbtest_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	u.Path = "/" + name
	return u.String()
}
