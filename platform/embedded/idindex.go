package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses
)

// FerretDB 1.24 on SQLite stores each document as JSON in one column of a
// table per collection. It pushes a lone {_id: X} filter down to SQL as
//
//	WHERE _ferretdb_sjson->'$._id' = ?
//
// (the same for updates and deletes, which it does by _id), but the unique
// index it creates for _id is on the expression _ferretdb_sjson->"_id".
// SQLite matches an expression index only on the same expression, so every
// one of those statements scans the table and parses every row's JSON
// (SQLite's plan says SCAN; docs/performance.md). The indexer below adds,
// to every collection's table, a plain index on the exact expression of the
// pushed-down query, which turns those statements into index searches.
//
// The index is SQLite's alone: FerretDB's metadata does not list it (so
// listIndexes and dropIndexes do not see it), SQLite maintains it on every
// write, and it goes with its table when the collection is dropped.
// Uniqueness stays FerretDB's own _id index's job.

// idExpr is the expression FerretDB's query pushdown compares
// (metadata.IDColumn in FerretDB 1.24's SQLite backend).
const idExpr = `_ferretdb_sjson->'$._id'`

// idIndexSuffix names the added index: "<table>" + idIndexSuffix.
const idIndexSuffix = "_nocontact_id_expr"

// IDIndexInterval is how often StartFerretDB's indexer looks for new
// collections (tables) that lack the _id index: a collection created now is
// indexed within this interval; a pass over unchanged files costs two stat
// calls each.
const IDIndexInterval = time.Second

// idIndexer remembers, per database file, the size and modification time of
// the file and its write-ahead log at its last pass, so that an idle server
// costs no SQLite work.
type idIndexer struct {
	dir  string
	log  *slog.Logger
	seen map[string]string
}

func newIDIndexer(dir string, log *slog.Logger) *idIndexer {
	return &idIndexer{dir: dir, log: log, seen: map[string]string{}}
}

// run indexes until ctx is done.
func (x *idIndexer) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := x.pass(ctx); err != nil && ctx.Err() == nil {
			x.log.Error("embedded ferretdb: _id index pass failed; reads by _id scan until the next pass succeeds", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pass creates the missing _id indexes in every database file of the folder
// that changed since the last pass and returns how many it created.
func (x *idIndexer) pass(ctx context.Context) (int, error) {
	files, err := filepath.Glob(filepath.Join(x.dir, "*.sqlite"))
	if err != nil {
		return 0, err
	}
	created := 0
	var errs []error
	live := make(map[string]bool, len(files))
	for _, f := range files {
		live[f] = true
		stamp, err := fileStamp(f)
		if err != nil {
			continue // dropped meanwhile
		}
		if x.seen[f] == stamp {
			continue
		}
		n, err := indexFile(ctx, f)
		created += n
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(f), err))
			continue
		}
		// Stamped after the work, which itself wrote to the file when it
		// created an index: the next pass looks once more and finds nothing.
		if stamp, err = fileStamp(f); err == nil {
			x.seen[f] = stamp
		}
	}
	for f := range x.seen {
		if !live[f] {
			delete(x.seen, f)
		}
	}
	return created, errors.Join(errs...)
}

// fileStamp is the size and modification time of a database file and of its
// write-ahead log (where FerretDB's writes, a new table included, land first).
func fileStamp(f string) (string, error) {
	st, err := os.Stat(f)
	if err != nil {
		return "", err
	}
	stamp := fmt.Sprintf("%d/%d", st.Size(), st.ModTime().UnixNano())
	if wal, err := os.Stat(f + "-wal"); err == nil {
		stamp += fmt.Sprintf("+%d/%d", wal.Size(), wal.ModTime().UnixNano())
	}
	return stamp, nil
}

// IndexIDs adds the _id expression index to every collection of every
// database in dir that lacks it, and returns how many it created.
// StartFerretDB runs it every IDIndexInterval; tests call it to have the
// indexes now.
func IndexIDs(ctx context.Context, dir string) (int, error) {
	return newIDIndexer(dir, slog.Default()).pass(ctx)
}

// indexFile indexes the collections of one database file. The file is opened
// read-write but never created (mode=rw): a database dropped meanwhile stays
// dropped. SQLite's busy timeout makes the index creation wait for FerretDB's
// own writers instead of failing.
func indexFile(ctx context.Context, f string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+f+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	rows, err := db.QueryContext(ctx, `SELECT t.name FROM sqlite_master t
		WHERE t.type = 'table' AND substr(t.name, 1, 10) != '_ferretdb_' AND substr(t.name, 1, 7) != 'sqlite_'
		AND NOT EXISTS (SELECT 1 FROM sqlite_master i WHERE i.type = 'index' AND i.tbl_name = t.name AND i.name = t.name || ?)`, idIndexSuffix)
	if err != nil {
		return 0, err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return 0, err
		}
		tables = append(tables, name)
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}

	created := 0
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`, quoteIdent(t+idIndexSuffix), quoteIdent(t), idExpr)
		if _, err := db.ExecContext(ctx, q); err != nil {
			if strings.Contains(err.Error(), "no such table") {
				continue // the collection was dropped meanwhile
			}
			return created, fmt.Errorf("index %s: %w", t, err)
		}
		created++
	}
	return created, nil
}

// quoteIdent quotes an SQLite identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
