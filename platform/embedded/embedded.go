// Package embedded runs the suite's infrastructure inside the current process:
// a NATS server with JetStream and a FerretDB speaking the MongoDB wire
// protocol over SQLite files.
//
// It exists for the devstack binary (the whole suite in one process on a
// laptop) and for tests. A service binary must never import it: FerretDB alone
// adds ~28 MB and a long cold build, and production talks to real NATS and
// MongoDB clusters.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/nats-io/nats-server/v2/server"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// RandomPort asks StartNATS for a free port chosen by the operating system.
const RandomPort = server.RANDOM_PORT

// NATSOptions configures StartNATS.
type NATSOptions struct {
	// Host to listen on; empty means 127.0.0.1 (a dev server should not be
	// reachable from the network by default).
	Host string
	// Port to listen on; RandomPort (-1) picks a free one, 0 means the NATS
	// default 4222.
	Port int
	// StoreDir is where JetStream keeps its file store. Required: streams are
	// file-backed as in production, so the folder must exist and be writable.
	StoreDir string
}

// natsReadyTimeout bounds the wait for the server to accept clients; a
// healthy server on a loaded CI machine is ready in well under a second.
const natsReadyTimeout = 10 * time.Second

// StartNATS starts a nats-server with JetStream (file storage in
// opts.StoreDir) and returns once it accepts client connections. The server
// logs nothing. The caller stops it with Shutdown followed by
// WaitForShutdown; ClientURL gives the address to connect to.
func StartNATS(opts NATSOptions) (*server.Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("start nats: StoreDir is required")
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	srv, err := server.NewServer(&server.Options{
		Host:      host,
		Port:      opts.Port,
		JetStream: true,
		StoreDir:  opts.StoreDir,
		// NoLog keeps test output readable; NoSigs stops the library from
		// installing signal handlers that belong to the host process.
		NoLog:  true,
		NoSigs: true,
		// HTTPPort 0 keeps the monitoring endpoint off.
	})
	if err != nil {
		return nil, fmt.Errorf("start nats: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(natsReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("start nats: not ready after %s", natsReadyTimeout)
	}
	return srv, nil
}

// FerretOptions configures StartFerretDB.
type FerretOptions struct {
	// Dir is the existing folder that holds the SQLite files, one per database.
	Dir string
	// Addr is the TCP address to listen on; "127.0.0.1:0" picks a free port.
	Addr string
	// Logger receives FerretDB's own log lines at ERROR level and above
	// (it is chatty below that). Nil means slog.Default's handler.
	Logger *slog.Logger
}

// ferretMu serialises ferretdb.New, which writes a package-level global
// (the build "package" name) and would race when tests start several
// instances in parallel.
var ferretMu sync.Mutex

// ferretReadyTimeout bounds the wait for the first successful ping.
const ferretReadyTimeout = 30 * time.Second

// StartFerretDB runs an embedded FerretDB with the SQLite backend in
// opts.Dir and returns its MongoDB URI once it answers a ping. stop cancels
// the server and waits until it has closed its listener, its connections and
// its SQLite files; it is safe to call more than once. ctx bounds only the
// start-up; the server then runs until stop is called.
//
// Remember the limits of FerretDB 1.x (no transactions, no isolation of
// read-modify-write: reach it through one client with maxPoolSize=1).
func StartFerretDB(ctx context.Context, opts FerretOptions) (uri string, stop func(), err error) {
	if opts.Dir == "" {
		return "", nil, errors.New("start ferretdb: Dir is required")
	}
	if st, err := os.Stat(opts.Dir); err != nil || !st.IsDir() {
		return "", nil, fmt.Errorf("start ferretdb: data folder %q must exist", opts.Dir)
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	base := opts.Logger
	if base == nil {
		base = slog.Default()
	}
	logger := slog.New(minLevelHandler{min: slog.LevelError, next: base.Handler()})

	ferretMu.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + opts.Dir + "/",
		Logger:    logger,
	})
	ferretMu.Unlock()
	if err != nil {
		return "", nil, fmt.Errorf("start ferretdb: %w", err)
	}

	// The server outlives ctx (which only bounds the start-up), so it gets
	// its own context, cancelled by stop.
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(runCtx) // always nil; it returns when runCtx is cancelled
	}()
	// The _id indexes (idindex.go) are added beside the server and stopped
	// before it, so that no pass opens a file the server is closing.
	indexCtx, stopIndexer := context.WithCancel(context.Background())
	indexed := make(chan struct{})
	go func() {
		defer close(indexed)
		newIDIndexer(opts.Dir, logger).run(indexCtx, IDIndexInterval)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			stopIndexer()
			<-indexed
			cancel()
			<-done
		})
	}

	uri = f.MongoDBURI()
	if err := waitForPing(ctx, uri); err != nil {
		stop()
		return "", nil, fmt.Errorf("start ferretdb: %w", err)
	}
	return uri, stop, nil
}

// waitForPing connects a throw-away client and pings until the server answers:
// the listener accepts TCP before the handler is serving, so a TCP dial alone
// would report ready too early.
func waitForPing(ctx context.Context, uri string) error {
	ctx, cancel := context.WithTimeout(ctx, ferretReadyTimeout)
	defer cancel()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		_ = client.Disconnect(dctx)
	}()
	// The driver's server selection already retries until ctx expires.
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// minLevelHandler drops records below min before they reach next, so that a
// caller's logger (often at INFO or DEBUG) does not drown in FerretDB's
// per-connection lines.
type minLevelHandler struct {
	min  slog.Level
	next slog.Handler
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.next.Enabled(ctx, l)
}

func (h minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{min: h.min, next: h.next.WithAttrs(attrs)}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{min: h.min, next: h.next.WithGroup(name)}
}
