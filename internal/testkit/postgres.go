package testkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresStartTimeout bounds how long a test's PostgreSQL server may take
// to accept connections.
const PostgresStartTimeout = 60 * time.Second

// Postgres starts a PostgreSQL server of the test's own and returns its
// connection URL (see StartPostgres).
func Postgres(t testing.TB) string {
	t.Helper()
	return StartPostgres(t).URL
}

// PostgresServer is a running PostgreSQL server of a test's own.
type PostgresServer struct {
	URL string
	// PID is the postmaster's process id: the server is it and its
	// children (a backend per connection, and the background workers), as
	// the benchmarks measure it.
	PID int
}

// StartPostgres starts a PostgreSQL server of the test's own (initdb in a
// temporary directory, listening on a loopback port only, fsync off) and
// returns where it is; the server stops and its directory is removed
// when the test ends. As root, the server runs as the unprivileged user
// nobody, since PostgreSQL refuses to run as root. It skips the test when
// PostgreSQL's binaries are absent (Debian: apt-get install postgresql),
// or fails it where they are required (SUBPUB_REQUIRE_INTEROP=1).
func StartPostgres(t testing.TB) PostgresServer {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		ToolMissing(t, "PostgreSQL is not installed (no initdb on PATH nor in /usr/lib/postgresql/*/bin; apt-get install postgresql)")
	}
	dir, err := os.MkdirTemp("", "subpub-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = nobody(t)
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	command := func(ctx context.Context, name string, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return cmd
	}
	data := filepath.Join(dir, "data")
	if out, err := command(t.Context(), "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	log, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	server := command(context.Background(), "postgres", "-D", data, "-k", dir, "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	server.Stdout, server.Stderr = log, log
	if err := server.Start(); err != nil {
		t.Fatalf("starting postgres: %v", err)
	}
	t.Cleanup(func() {
		server.Process.Signal(syscall.SIGINT) // fast shutdown
		server.Wait()
		log.Close()
	})
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(PostgresStartTimeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		conn, err := pgx.Connect(ctx, url)
		cancel()
		if err == nil {
			conn.Close(t.Context())
			return PostgresServer{URL: url, PID: server.Process.Pid}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("postgres did not accept connections within %v: %v\n%s", PostgresStartTimeout, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postgresBin is the directory of PostgreSQL's server binaries, the newest
// version's if several are installed, or "" if none is.
func postgresBin() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

func versionOf(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return v
}

// nobody is the credential of the unprivileged user the server runs as.
func nobody(t testing.TB) *syscall.Credential {
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("PostgreSQL will not run as root, and there is no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// freePort is a loopback TCP port nothing listens on now.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
