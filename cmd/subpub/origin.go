package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/origin"
	"github.com/subpub/subpub/origin/activitypub"
	"github.com/subpub/subpub/stream"
)

const originExamples = `  # an origin with two users, TLS on 8443 (TCP and UDP) and cleartext on 8080
  subpub origin --user alice:alice-token --user bob:bob-token --listen-plain localhost:8080

  # then, in another terminal
  subpub sub --cacert .data/origin/tls/ca.pem https://localhost:8443/users/alice/outbox
`

func runOrigin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runServerRole(ctx, "origin", originExamples, &originFlags{}, args, stdout, stderr)
}

// close ends the remote streams, closes the store, then gives up the data
// directory.
func (b *builtOrigin) close() {
	if b.remote != nil {
		b.remote.Close()
		b.remote.Client.Close()
	}
	b.store.Close()
	if b.lock != nil {
		b.lock.Release()
	}
}

// openStore opens --store, or the SQLite database in --data.
func (f *originFlags) openStore(ctx context.Context) (*activitypub.Store, error) {
	if f.store != "" {
		return activitypub.OpenPostgres(ctx, f.store)
	}
	return activitypub.OpenStore(filepath.Join(f.dataDir, "db"))
}

// originFlags configure an origin: the server flags and the application's.
type originFlags struct {
	serverFlags
	store          string
	baseURL        string
	users          userFlag
	inlineLimit    int
	pageSize       int
	eventRetention time.Duration
	revocation     time.Duration
	remoteStreams  int
	remotePrivate  bool
	remoteCA       string
}

func (f *originFlags) register(fs *flag.FlagSet) {
	f.serverFlags.register(fs, "localhost:8443", ".data/origin")
	fs.Func("store", "the shared store, a PostgreSQL `URL` (postgres://user:password@host/db): any number of origins on it serve the same actors and every event (default: SQLite in --data)", func(v string) error {
		if !activitypub.IsPostgresURL(v) {
			return fmt.Errorf("%q is not a postgres:// URL (leave --store out for SQLite in --data)", v)
		}
		f.store = v
		return nil
	})
	fs.StringVar(&f.baseURL, "base-url", "", "canonical `URL` of the origin, which ids are built from (default: https://<--listen>, or http://<--listen-plain>)")
	fs.Var(&f.users, "user", "ensure a local actor and its bearer token, `NAME:TOKEN` (repeatable)")
	fs.Var(usersFile{&f.users}, "users-file", "read --user entries from a `file`, one NAME:TOKEN a line (# comments), so that no token is on the command line")
	fs.IntVar(&f.inlineLimit, "inline-limit", activitypub.DefaultInlineLimit, "an event whose 105 (PUB) response would be larger than this many `bytes` goes by reference")
	fs.IntVar(&f.pageSize, "page-size", activitypub.DefaultPageSize, "items per collection page")
	fs.DurationVar(&f.eventRetention, "event-retention", 0, "prune events older than this (0: keep them all)")
	fs.IntVar(&f.remoteStreams, "max-remote-streams", activitypub.DefaultMaxRemoteStreams, "remote objects' event streams relayed at once to users at /proxy/events?id=URL, one subscription each for all (-1: relay none)")
	fs.BoolVar(&f.remotePrivate, "remote-allow-private", false, "let /proxy/events fetch and subscribe at loopback, private and link-local addresses (a private network; refused by default)")
	fs.StringVar(&f.remoteCA, "remote-cacert", "", "trust the CA certificates in this PEM `file` for remote objects and their streams, besides the system's")
	fs.DurationVar(&f.revocation, "revocation-check", activitypub.DefaultRevocationCheck, "while streams opened with tokens are open, look this often for revoked (subpub token revoke) or expired tokens and end their streams")
}

// builtOrigin is an origin ready to serve.
type builtOrigin struct {
	builtServer
	store  *activitypub.Store
	lock   *activitypub.DataLock
	remote *activitypub.RemoteStreams
}

// build opens the store, provisions users and assembles the server.
func (f *originFlags) build(ctx context.Context, stdout io.Writer, logger *slog.Logger) (_ *builtOrigin, err error) {
	// Before anything is written to the data directory: a second origin on
	// its SQLite database is refused, not split from the first. Origins
	// on one PostgreSQL store share everything, --data included.
	var lock *activitypub.DataLock
	if f.store == "" {
		if lock, err = activitypub.LockDataDir(f.dataDir); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				lock.Release()
			}
		}()
	}
	tlsConf, caFile, err := f.tlsConfig(stdout)
	if err != nil {
		return nil, err
	}
	store, err := f.openStore(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range f.users {
		if err := store.EnsureUser(ctx, u.name, u.token); err != nil {
			store.Close()
			return nil, fmt.Errorf("--user %s: %w", u.name, err)
		}
	}
	reg := newRegistry()
	metrics := metricSet{reg, "subpub_origin"}
	streamer := f.streamer(logger, newStreamMetrics(metrics))
	registerBudgetMetrics(metrics, streamer.Budget)
	app := &activitypub.Server{
		Store:           store,
		Hub:             &origin.Hub{Log: store},
		Streamer:        streamer,
		Logger:          logger,
		Metrics:         newActivityPubMetrics(metrics),
		InlineLimit:     f.inlineLimit,
		PageSize:        f.pageSize,
		EventRetention:  f.eventRetention,
		RevocationCheck: f.revocation,
	}
	if f.remoteStreams >= 0 {
		c, err := client.New(client.Options{CAFile: f.remoteCA, KeepAliveTimeout: 3 * stream.DefaultKeepAlive, Logger: logger})
		if err != nil {
			store.Close()
			return nil, err
		}
		app.Remote = &activitypub.RemoteStreams{Client: c, MaxStreams: f.remoteStreams, AllowPrivate: f.remotePrivate, Logger: logger}
	}
	srv, err := f.bind("origin", app, tlsConf, streamer, logger)
	if err != nil {
		if app.Remote != nil {
			app.Remote.Client.Close()
		}
		store.Close()
		return nil, err
	}
	// Ids are built from the base URL, so it is known before the first
	// request: given, or derived from where the server listens.
	app.BaseURL = f.baseURL
	if app.BaseURL == "" {
		app.BaseURL = f.defaultBaseURL(srv.TLSAddr(), srv.PlainListenAddr())
	}
	where := "data in " + f.dataDir
	if f.store != "" {
		where += ", store " + redactURL(f.store)
	}
	fmt.Fprintf(stdout, "origin: ids under %s; %s\n", app.BaseURL, where)
	return &builtOrigin{builtServer: builtServer{srv: srv, streamer: streamer, reg: reg, caFile: caFile}, store: store, lock: lock, remote: app.Remote}, nil
}

// redactURL is u without its password, for what is printed.
func redactURL(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(a PostgreSQL URL)"
}

// defaultBaseURL names the origin by where it listens, TLS if it can: the
// host as given (so that it matches the certificate; localhost if none), the
// port as bound.
func (f *originFlags) defaultBaseURL(tlsAddr, plainAddr net.Addr) string {
	if tlsAddr != nil {
		return "https://" + boundAddr(f.listen, tlsAddr)
	}
	return "http://" + boundAddr(f.listenPlain, plainAddr)
}

// userFlag collects --user NAME:TOKEN.
type userFlag []struct{ name, token string }

func (u *userFlag) String() string { return "" }

func (u *userFlag) Set(v string) error {
	name, token, ok := strings.Cut(v, ":")
	if !ok || name == "" || token == "" {
		return fmt.Errorf("%q is not NAME:TOKEN", v)
	}
	*u = append(*u, struct{ name, token string }{name, token})
	return nil
}

// usersFile is --users-file: the --user entries in a file.
type usersFile struct{ users *userFlag }

func (u usersFile) String() string { return "" }

func (u usersFile) Set(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := u.users.Set(line); err != nil {
			return fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
	}
	return nil
}
