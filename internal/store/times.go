package store

import (
	"fmt"
	"time"
)

// Timestamps are stored as BIGINT microseconds since the Unix epoch, UTC, on
// both databases. SQLite has no time type, and PostgreSQL's timestamptz
// resolution is also the microsecond, so this is the finest precision both
// keep; an integer round-trips exactly and identically through either
// driver (no time-zone or text-format conversions), compares and indexes the
// same way on both, and dumps as a plain number. NULL means "never" and maps
// to the zero time.Time.

// dbTime converts t for a query argument.
func dbTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// norm is how every time enters the store: UTC, microsecond precision, no
// monotonic reading. Values the store returns therefore equal what it stored.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func fromMicros(us int64) time.Time {
	return time.UnixMicro(us).UTC()
}

// timeDst scans a nullable BIGINT microsecond column into *t.
type timeDst struct{ t *time.Time }

func scanTime(t *time.Time) timeDst { return timeDst{t} }

func (d timeDst) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case int64:
		*d.t = fromMicros(v)
	case int32:
		*d.t = fromMicros(int64(v))
	default:
		return fmt.Errorf("store: timestamp column holds %T, want an integer", src)
	}
	return nil
}
