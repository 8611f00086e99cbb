// Package cluster holds end-to-end tests of kb run as several processes on
// one database: two `kb serve` sharing a PostgreSQL database and its mail
// queue, two `kb send` started together on PostgreSQL and on SQLite, a
// `kb serve` that cannot reach its database, and a move from SQLite to
// PostgreSQL through the dump commands. Every test runs the real kb binary
// (internal/e2e/kbproc); the PostgreSQL ones need KB_TEST_POSTGRES.
package cluster
