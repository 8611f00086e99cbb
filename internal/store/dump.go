package store

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The dump is JSON lines: a header, then every row of every table (parents
// before children, each table in key order), then the id sequences, then an
// end line with the row count, so a truncated file is refused. Values are
// what the columns hold (timestamps as microseconds), so a dump is the same
// whichever database wrote it.

const (
	dumpFormat  = "kb-store-dump"
	dumpVersion = 1
)

type colKind byte

const (
	colInt     colKind = 'i' // BIGINT/INTEGER NOT NULL
	colNullInt colKind = 'n' // nullable integer (timestamps)
	colText    colKind = 't'
	colBool    colKind = 'b'
)

type dumpColumn struct {
	name string
	kind colKind
}

type dumpTable struct {
	name    string
	cols    []dumpColumn
	orderBy string // with {{binary}} for text keys
	hasSeq  bool   // an identity id whose sequence must be carried over
}

// dumpTables is every table with data worth keeping, in an order that
// satisfies foreign keys on restore. Leases (locks) and schema_migrations
// are not data. A test checks this list against the live schema.
var dumpTables = []dumpTable{
	table("subscribers", "id", true, `id:i email:t email_key:t name:t status:t whitepaper_requested:b
		consent_at:n consent_version:t consent_source:t consent_ip:t created_at:i updated_at:i
		confirmed_at:n unsubscribed_at:n bounced_at:n complained_at:n last_confirmation_at:n last_whitepaper_at:n
		link_key:t pending_since:n confirm_user_agent:t frequency:t topics_off:t`),
	table("subscriber_events", "id", true, "id:i subscriber_id:i at:i type:t detail:t"),
	table("erased", "email_hash{{binary}}", false, "email_hash:t erased_at:i"),
	table("mail_queue", "id", true, `id:i kind:t subscriber_id:i to_email:t to_name:t status:t attempts:i
		next_attempt_at:i locked_until:n locked_by:t last_error:t message_id:t created_at:i sent_at:n failed_at:n whitepaper:b`),
	table("campaigns", "id", true, `id:i slug:t title:t subject:t state:t test_mode:b deliver_at:n batch_size:i
		created_at:i started_at:n finished_at:n error:t recipients_count:i batches_count:i sent_count:i
		resolved_count:i skipped_count:i failed_count:i kind:t topics:t`),
	table("campaign_stats", "campaign_id, hour, type{{binary}}", false, "campaign_id:i hour:i type:t n:i"),
	table("campaign_batches", "id", true, `id:i campaign_id:i seq:i state:t size:i attempts:i started_at:n sent_at:n
		message_id:t error:t variant:t`),
	table("campaign_recipients", "campaign_id, batch_seq, subscriber_id", false, `campaign_id:i batch_seq:i subscriber_id:i
		email:t name:t state:t sent_at:n variant:t`),
	table("digest_items", "subscriber_id, campaign_id", false, "subscriber_id:i campaign_id:i queued_at:i"),
	table("webhook_tokens", "token{{binary}}", false, "token:t seen_at:i"),
	table("confirmation_sends", "at, mailbox{{binary}}", false, "mailbox:t domain:t at:i"),
	table("mail_held", "id", true, "id:i at:i reason:t"),
	// Administrators and their log; sessions and failed-attempt counters
	// are short-lived and not data (see dump_test.go's notDumped).
	table("admins", "id", true, "id:i email:t password_hash:t totp_secret:t totp_last_step:i created_at:i updated_at:i"),
	table("admin_log", "id", true, "id:i at:i event:t email:t client:t detail:t"),
}

func table(name, orderBy string, hasSeq bool, spec string) dumpTable {
	t := dumpTable{name: name, orderBy: orderBy, hasSeq: hasSeq}
	for _, f := range strings.Fields(spec) {
		col, kind, _ := strings.Cut(f, ":")
		t.cols = append(t.cols, dumpColumn{col, colKind(kind[0])})
	}
	return t
}

func (t dumpTable) colNames() string {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// dumpLine is one line of the dump; exactly one group of fields is set.
type dumpLine struct {
	Format        string         `json:"format,omitempty"`
	Version       int            `json:"version,omitempty"`
	SchemaVersion int            `json:"schema_version,omitempty"`
	Table         string         `json:"table,omitempty"`
	Row           map[string]any `json:"row,omitempty"`
	Sequence      string         `json:"sequence,omitempty"`
	LastID        *int64         `json:"last_id,omitempty"`
	End           bool           `json:"end,omitempty"`
	Rows          int64          `json:"rows,omitempty"`
}

// Dump writes every row of every table to w as JSON lines, from one
// consistent snapshot.
func (s *Store) Dump(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err := s.readTx(ctx, func(t *txn) error {
		var version int
		if err := t.queryRow("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&version); err != nil {
			return err
		}
		if err := enc.Encode(dumpLine{Format: dumpFormat, Version: dumpVersion, SchemaVersion: version}); err != nil {
			return err
		}
		var total int64
		for _, tb := range dumpTables {
			n, err := dumpRows(t, enc, tb)
			if err != nil {
				return fmt.Errorf("%s: %w", tb.name, err)
			}
			total += n
		}
		for _, tb := range dumpTables {
			if !tb.hasSeq {
				continue
			}
			var last int64
			if err := t.queryRow(t.d.sequenceQuery(tb.name)).Scan(&last); err != nil {
				return fmt.Errorf("sequence of %s: %w", tb.name, err)
			}
			if err := enc.Encode(dumpLine{Sequence: tb.name, LastID: &last}); err != nil {
				return err
			}
		}
		return enc.Encode(dumpLine{End: true, Rows: total})
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("store: dump: %w", err)
	}
	return nil
}

func dumpRows(t *txn, enc *json.Encoder, tb dumpTable) (int64, error) {
	order := strings.ReplaceAll(tb.orderBy, "{{binary}}", t.d.binary)
	rows, err := t.query("SELECT " + tb.colNames() + " FROM " + tb.name + " ORDER BY " + order)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	dest := make([]any, len(tb.cols))
	for i, c := range tb.cols {
		switch c.kind {
		case colInt:
			dest[i] = new(int64)
		case colNullInt:
			dest[i] = new(sql.NullInt64)
		case colText:
			dest[i] = new(string)
		case colBool:
			dest[i] = new(bool)
		}
	}
	var n int64
	line := dumpLine{Table: tb.name, Row: make(map[string]any, len(tb.cols))}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return n, err
		}
		for i, c := range tb.cols {
			switch v := dest[i].(type) {
			case *int64:
				line.Row[c.name] = *v
			case *sql.NullInt64:
				if v.Valid {
					line.Row[c.name] = v.Int64
				} else {
					line.Row[c.name] = nil
				}
			case *string:
				line.Row[c.name] = *v
			case *bool:
				line.Row[c.name] = *v
			}
		}
		if err := enc.Encode(line); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// Restore loads a dump into this database, which must be empty (freshly
// opened), in one transaction: ids and sequences are kept, so links already
// emailed stay valid and new rows continue the numbering. The dump must
// come from the same schema version.
func (s *Store) Restore(ctx context.Context, r io.Reader) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	dec.UseNumber()
	var head dumpLine
	if err := dec.Decode(&head); err != nil {
		return fmt.Errorf("store: restore: read header: %w", err)
	}
	if head.Format != dumpFormat || head.Version != dumpVersion {
		return fmt.Errorf("store: restore: not a %s version %d file", dumpFormat, dumpVersion)
	}
	version, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if head.SchemaVersion != version {
		return fmt.Errorf("store: restore: dump has schema version %d, this database %d: use the kb version that wrote it",
			head.SchemaVersion, version)
	}
	byName := make(map[string]int, len(dumpTables))
	for i, tb := range dumpTables {
		byName[tb.name] = i
	}
	// Not s.tx: the dump reader cannot be rewound for a retry.
	run := s.tx
	if s.w == nil {
		run = s.pgTx
	}
	err = run(ctx, func(t *txn) error {
		for _, tb := range dumpTables {
			var one int
			err := t.queryRow("SELECT 1 FROM " + tb.name + " LIMIT 1").Scan(&one)
			if err == nil {
				return fmt.Errorf("%w: table %s has rows", ErrNotEmpty, tb.name)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		stmts := make([]*sql.Stmt, len(dumpTables))
		defer func() {
			for _, st := range stmts {
				if st != nil {
					st.Close()
				}
			}
		}()
		var (
			rows    int64
			current = 0
			seqs    = map[string]int64{}
			args    []any
		)
		for line := 2; ; line++ {
			var ln dumpLine
			if err := dec.Decode(&ln); err != nil {
				if errors.Is(err, io.EOF) {
					return errors.New("dump ends without its end line: truncated?")
				}
				return fmt.Errorf("line %d: %w", line, err)
			}
			switch {
			case ln.Table != "":
				i, ok := byName[ln.Table]
				if !ok {
					return fmt.Errorf("line %d: unknown table %q", line, ln.Table)
				}
				if i < current {
					return fmt.Errorf("line %d: table %s out of order", line, ln.Table)
				}
				current = i
				tb := dumpTables[i]
				if stmts[i] == nil {
					q := "INSERT INTO " + tb.name + " (" + tb.colNames() + ") VALUES (" +
						strings.TrimSuffix(strings.Repeat("?, ", len(tb.cols)), ", ") + ")"
					if stmts[i], err = t.tx.PrepareContext(t.ctx, t.d.rebind(q)); err != nil {
						return err
					}
				}
				if args, err = restoreArgs(tb, ln.Row, args[:0]); err != nil {
					return fmt.Errorf("line %d: %s: %w", line, tb.name, err)
				}
				if _, err := stmts[i].ExecContext(t.ctx, args...); err != nil {
					return fmt.Errorf("line %d: %s: %w", line, tb.name, err)
				}
				rows++
			case ln.Sequence != "":
				i, ok := byName[ln.Sequence]
				if !ok || !dumpTables[i].hasSeq || ln.LastID == nil || *ln.LastID < 0 {
					return fmt.Errorf("line %d: bad sequence line for %q", line, ln.Sequence)
				}
				seqs[ln.Sequence] = *ln.LastID
			case ln.End:
				if ln.Rows != rows {
					return fmt.Errorf("end line counts %d rows, the dump held %d", ln.Rows, rows)
				}
				if dec.More() {
					return fmt.Errorf("line %d: data after the end line", line+1)
				}
				for _, tb := range dumpTables {
					if !tb.hasSeq {
						continue
					}
					last, ok := seqs[tb.name]
					if !ok {
						return fmt.Errorf("dump lacks the sequence of %s", tb.name)
					}
					var maxID int64
					if err := t.queryRow("SELECT COALESCE(MAX(id), 0) FROM " + tb.name).Scan(&maxID); err != nil {
						return err
					}
					if err := t.d.setSequence(t, tb.name, max(last, maxID)); err != nil {
						return fmt.Errorf("set sequence of %s: %w", tb.name, err)
					}
				}
				return nil
			default:
				return fmt.Errorf("line %d: neither a row, a sequence nor the end", line)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	return nil
}

// restoreArgs converts a dumped row to insert arguments in column order,
// refusing missing, unknown or mistyped columns.
func restoreArgs(tb dumpTable, row map[string]any, args []any) ([]any, error) {
	if len(row) != len(tb.cols) {
		return nil, fmt.Errorf("row has %d columns, want %d (%s)", len(row), len(tb.cols), tb.colNames())
	}
	for _, c := range tb.cols {
		v, ok := row[c.name]
		if !ok {
			return nil, fmt.Errorf("column %s missing", c.name)
		}
		switch c.kind {
		case colInt, colNullInt:
			if v == nil && c.kind == colNullInt {
				args = append(args, nil)
				continue
			}
			num, ok := v.(json.Number)
			if !ok {
				return nil, fmt.Errorf("column %s: want an integer, got %T", c.name, v)
			}
			n, err := num.Int64()
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", c.name, err)
			}
			args = append(args, n)
		case colText:
			str, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("column %s: want a string, got %T", c.name, v)
			}
			args = append(args, str)
		case colBool:
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("column %s: want true or false, got %T", c.name, v)
			}
			args = append(args, b)
		}
	}
	return args, nil
}
