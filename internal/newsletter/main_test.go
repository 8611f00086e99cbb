package newsletter

import (
	"os"
	"testing"
)

// TestMain lets the test binary double as a child process: a `kb send`
// to kill mid-send, or a fake Mailgun for benchmarks.
func TestMain(m *testing.M) {
	switch os.Getenv(envChild) {
	case "send":
		os.Exit(runChild())
	case "mailgun":
		os.Exit(runFakeMailgun())
	}
	os.Exit(m.Run())
}
