package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/cli"
	"github.com/subpub/subpub/internal/redact"
)

// clientFlags are the connection flags sub and pub share.
type clientFlags struct {
	http     string
	caFile   string
	insecure bool
	headers  headerFlag
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.http, "http", "", "HTTP version: 1.1, 2 or 3 (default: 2 or 1.1 as TLS negotiates; 1.1 in cleartext)")
	fs.StringVar(&f.caFile, "cacert", "", "trust the CA certificates in this PEM `file` (e.g. the origin's ca.pem)")
	fs.BoolVar(&f.insecure, "k", false, "skip TLS certificate verification (development only)")
	fs.BoolVar(&f.insecure, "insecure", false, "skip TLS certificate verification (development only)")
	fs.Var(&f.headers, "H", "add a request field, `'Name: value'` (repeatable)")
}

func (f *clientFlags) options() (client.Options, error) {
	switch f.http {
	case "", client.HTTP11, client.HTTP2, client.HTTP3:
	case "1", "h1", "http/1.1":
		f.http = client.HTTP11
	case "h2":
		f.http = client.HTTP2
	case "h3":
		f.http = client.HTTP3
	default:
		return client.Options{}, cli.Usagef("--http %q: want 1.1, 2 or 3", f.http)
	}
	return client.Options{HTTP: f.http, CAFile: f.caFile, Insecure: f.insecure, Header: http.Header(f.headers)}, nil
}

// urlArguments describes the positional arguments of a command that
// makes requests (sub, pub, conformance): a URL, then what else it takes.
type urlArguments struct {
	most    int    // how many arguments the command takes at most
	missing string // the usage error without any
	takes   string // what the command takes, said after one too many
}

// optionsFor is options for requests to the URL of the positional
// arguments, or the usage error of a flag or of the arguments; --http is
// read first, so that checkURL sees the version it names however it was
// spelt.
func (f *clientFlags) optionsFor(positional []string, want urlArguments) (client.Options, error) {
	switch {
	case len(positional) == 0:
		return client.Options{}, cli.Usagef("%s", want.missing)
	case len(positional) > want.most:
		return client.Options{}, cli.Usagef("unexpected argument %q: %s", positional[want.most], want.takes)
	}
	opts, err := f.options()
	if err != nil {
		return client.Options{}, err
	}
	if err := f.checkURL(positional[0]); err != nil {
		return client.Options{}, err
	}
	return opts, nil
}

// checkURL is the usage error of a URL argument the client cannot use.
func (f *clientFlags) checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return cli.Usagef("%q is not an http or https URL", redact.String(raw))
	case f.http == client.HTTP3 && u.Scheme != "https":
		return cli.Usagef("--http 3 needs an https URL, not %q", redact.String(raw))
	}
	return nil
}

// bearerToken is the token of --token, or the one in --token-file (file)
// when it is given, which keeps it off the command line.
func bearerToken(token, file string) (string, error) {
	if file == "" {
		return token, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", cli.Usagef("--token-file: %v", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// headerFlag collects -H 'Name: value'.
type headerFlag http.Header

func (h *headerFlag) String() string { return "" }

func (h *headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("%q is not 'Name: value'", v)
	}
	if *h == nil {
		*h = headerFlag{}
	}
	http.Header(*h).Add(name, strings.TrimSpace(value))
	return nil
}
