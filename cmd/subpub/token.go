package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/subpub/subpub/internal/cli"
	"github.com/subpub/subpub/origin/activitypub"
)

const tokenExamples = `  # a token for alice that expires in a day; the secret is printed once, on stdout
  TOKEN=$(subpub token add --data .data/origin --user alice --name laptop --expires 24h)

  # the tokens (never their secrets), then revoke one: the origin ends its streams within seconds
  subpub token list --data .data/origin
  subpub token revoke --data .data/origin tok_k3j5x2m9q4ab

  # revoke every token of a user
  subpub token revoke --data .data/origin --user alice

  # on the shared store of a cluster
  subpub token add --store postgres://localhost/subpub --user alice
`

// tokenDataUsage and tokenStoreUsage are the usage of the token commands'
// --data and --store: the origin's.
const (
	tokenDataUsage  = "the origin's data `directory` (its --data), for its SQLite database; the origin may be running"
	tokenStoreUsage = "the origins' shared store, a PostgreSQL `URL` (their --store), instead of --data; they may be running"
)

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintf(stderr, "usage: subpub token add|revoke|list [flags]\n\n")
		fmt.Fprintf(stderr, "  add     make a bearer token for a user and print its secret (once)\n")
		fmt.Fprintf(stderr, "  revoke  revoke tokens by id, or all of a user's\n")
		fmt.Fprintf(stderr, "  list    list tokens (never their secrets)\n\n")
		fmt.Fprintf(stderr, "examples:\n%s", tokenExamples)
	}
	if len(args) == 0 {
		usage()
		return cli.ErrUsage
	}
	switch args[0] {
	case "add":
		return runTokenAdd(ctx, args[1:], stdout, stderr)
	case "revoke":
		return runTokenRevoke(ctx, args[1:], stdout, stderr)
	case "list":
		return runTokenList(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		usage()
		return flag.ErrHelp
	}
	fmt.Fprintf(stderr, "subpub token: unknown subcommand %q\n\n", args[0])
	usage()
	return cli.ErrUsage
}

// tokenCommand is what the token subcommands share: a flag set with --data
// and the flags define adds, parsed; a usage error unless the arguments
// left over satisfy the check define returns; then run, with the origin's
// store open (created only if create).
func tokenCommand(ctx context.Context, name, synopsis string, args []string, stdout, stderr io.Writer, create bool,
	define func(fs *flag.FlagSet) (valid func(positional []string) bool),
	run func(store *activitypub.Store, positional []string) error) error {
	fs := cli.NewFlagSet(name, synopsis, tokenExamples, stdout, stderr)
	dataDir := fs.String("data", ".data/origin", tokenDataUsage)
	storeURL := fs.String("store", "", tokenStoreUsage)
	valid := define(fs)
	positional, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if !valid(positional) {
		fs.Usage()
		return cli.ErrUsage
	}
	if *storeURL != "" && !activitypub.IsPostgresURL(*storeURL) {
		return cli.Usagef("--store %q is not a postgres:// URL (leave it out for the SQLite database in --data)", redactURL(*storeURL))
	}
	store, err := openTokenStore(ctx, *dataDir, *storeURL, create)
	if err != nil {
		return err
	}
	defer store.Close()
	return run(store, positional)
}

func runTokenAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var user, name *string
	var expires *time.Duration
	return tokenCommand(ctx, "subpub token add", "--user NAME [--name LABEL] [--expires DURATION] [--data DIR | --store URL]", args, stdout, stderr, true,
		func(fs *flag.FlagSet) func([]string) bool {
			user = fs.String("user", "", "the `user` the token authenticates (created if it does not exist)")
			name = fs.String("name", "", "a `label` for the token, shown by list")
			expires = fs.Duration("expires", 0, "the token stops being accepted this long from now (0: never)")
			return func(positional []string) bool { return len(positional) == 0 && *user != "" && *expires >= 0 }
		},
		func(store *activitypub.Store, _ []string) error {
			tok, secret, err := store.AddToken(ctx, *user, *name, *expires)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "subpub token: added %s for %s (expires: %s); its secret, on stdout, is not shown again\n",
				tok.ID, tok.User, expiry(tok))
			fmt.Fprintln(stdout, secret)
			return nil
		})
}

func runTokenRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var user *string
	return tokenCommand(ctx, "subpub token revoke", "[--data DIR | --store URL] ID... | --user NAME", args, stdout, stderr, false,
		func(fs *flag.FlagSet) func([]string) bool {
			user = fs.String("user", "", "revoke every token of this `user`")
			return func(ids []string) bool { return (len(ids) == 0) != (*user == "") }
		},
		func(store *activitypub.Store, ids []string) error {
			var revoked []activitypub.Token
			if *user != "" {
				var err error
				if revoked, err = store.RevokeUserTokens(ctx, *user); err != nil {
					return err
				}
			}
			var errs []error
			for _, id := range ids {
				tok, err := store.RevokeToken(ctx, id)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				revoked = append(revoked, tok)
			}
			for _, tok := range revoked {
				fmt.Fprintf(stdout, "revoked %s (%s)\n", tok.ID, describe(tok))
			}
			return errors.Join(errs...)
		})
}

func runTokenList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var user *string
	return tokenCommand(ctx, "subpub token list", "[--data DIR | --store URL] [--user NAME]", args, stdout, stderr, false,
		func(fs *flag.FlagSet) func([]string) bool {
			user = fs.String("user", "", "list only this `user`'s tokens")
			return func(positional []string) bool { return len(positional) == 0 }
		},
		func(store *activitypub.Store, _ []string) error {
			tokens, err := store.Tokens(ctx, *user)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tNAME\tCREATED\tEXPIRES")
			for _, tok := range tokens {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", tok.ID, tok.User, tok.Name, tok.Created.UTC().Format(time.RFC3339), expiry(tok))
			}
			return tw.Flush()
		})
}

// openTokenStore opens the origins' PostgreSQL store, or else the origin's
// database in its data directory, as the origin does; only add may create
// the latter (to provision before the first run).
func openTokenStore(ctx context.Context, dataDir, storeURL string, create bool) (*activitypub.Store, error) {
	if storeURL != "" {
		return activitypub.OpenPostgres(ctx, storeURL)
	}
	dir := filepath.Join(dataDir, "db")
	if !create {
		if _, err := os.Stat(filepath.Join(dir, activitypub.DatabaseFile)); err != nil {
			return nil, fmt.Errorf("no origin database in %s (is it the origin's --data?): %w", dataDir, err)
		}
	}
	return activitypub.OpenStore(dir)
}

func expiry(tok activitypub.Token) string {
	switch {
	case tok.Expires.IsZero():
		return "never"
	case tok.Expired(time.Now()):
		return tok.Expires.UTC().Format(time.RFC3339) + " (expired)"
	}
	return tok.Expires.UTC().Format(time.RFC3339)
}

func describe(tok activitypub.Token) string {
	if tok.Name == "" {
		return tok.User
	}
	return tok.User + ", " + tok.Name
}
