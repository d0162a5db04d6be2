package activitypub

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// database is the store's connection pool with its dialect. Queries are
// written once, in the SQL both SQLite and PostgreSQL run, with "?"
// placeholders, which PostgreSQL wants as $1, $2...: database and dbTx
// rewrite them. Nothing else differs between the two, besides how event
// sequence numbers are assigned (Store.update) and how other processes
// hear of events (follow.go).
type database struct {
	*sql.DB
	numbered bool // placeholders are $1, $2... (PostgreSQL)
}

func (d *database) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.DB.ExecContext(ctx, d.rebind(query), args...)
}

func (d *database) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.DB.QueryContext(ctx, d.rebind(query), args...)
}

func (d *database) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.DB.QueryRowContext(ctx, d.rebind(query), args...)
}

// BeginTx begins a transaction that rewrites placeholders as d does.
func (d *database) BeginTx(ctx context.Context, opts *sql.TxOptions) (*dbTx, error) {
	t, err := d.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &dbTx{Tx: t, numbered: d.numbered}, nil
}

// dbTx is a transaction of a database.
type dbTx struct {
	*sql.Tx
	numbered bool
}

func (t *dbTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, rebind(t.numbered, query), args...)
}

func (t *dbTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, rebind(t.numbered, query), args...)
}

func (t *dbTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, rebind(t.numbered, query), args...)
}

func (d *database) rebind(query string) string { return rebind(d.numbered, query) }

// rebind numbers the "?" placeholders of query ($1, $2...) if numbered,
// leaving those inside quoted literals and identifiers alone.
func rebind(numbered bool, query string) string {
	if !numbered || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
