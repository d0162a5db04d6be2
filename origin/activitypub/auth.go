package activitypub

import (
	"errors"
	"net/http"
	"strings"

	"github.com/subpub/subpub/wire"
)

// accessTokenParam carries a bearer token in the query of a request that
// cannot set Authorization: an EventSource (RFC 6750 §2.3).
const accessTokenParam = "access_token"

// realm is the protection space named in WWW-Authenticate.
const realm = "subpub"

// errUnauthorized is a 401 asking for a bearer token (RFC 6750 §3); with
// invalidToken, the one given was not accepted.
func errUnauthorized(detail string, invalidToken bool) *wire.StatusError {
	challenge := `Bearer realm="` + realm + `"`
	if invalidToken {
		challenge += `, error="invalid_token"`
	}
	return &wire.StatusError{
		Status: http.StatusUnauthorized,
		Detail: detail,
		Header: http.Header{"Www-Authenticate": {challenge}},
	}
}

// bearerToken returns the token r carries, in Authorization or in the
// access_token query parameter, and whether it carries credentials at all.
func bearerToken(r *http.Request) (token string, given bool, err error) {
	header := r.Header.Get("Authorization")
	query, inQuery := r.URL.Query()[accessTokenParam]
	switch {
	case header != "" && inQuery:
		return "", true, wire.Errorf(http.StatusBadRequest, "credentials given twice, in Authorization and in %s: use one", accessTokenParam)
	case header != "":
		scheme, token, _ := strings.Cut(header, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", true, nil
		}
		return strings.TrimSpace(token), true, nil
	case inQuery:
		return query[0], true, nil
	}
	return "", false, nil
}

// authenticate returns the name of the local actor r is made by, or "" for
// an anonymous request. Credentials that are given must be valid, even for
// a public resource: a client learns at once that its token is wrong.
func (s *Server) authenticate(r *http.Request) (string, error) {
	c, err := s.credential(r)
	return c.actor, err
}

// credential is authenticate with what a subscription needs to be ended
// when its token no longer is valid: the zero credential for an anonymous
// request.
func (s *Server) credential(r *http.Request) (credential, error) {
	token, given, err := bearerToken(r)
	if err != nil || !given {
		return credential{}, err
	}
	if token == "" {
		return credential{}, errUnauthorized("Authorization must be a bearer token", true)
	}
	c, err := s.Store.credentialFor(r.Context(), hashToken(token))
	if errors.Is(err, errNotFound) {
		return credential{}, errUnauthorized("the bearer token is not valid", true)
	}
	return c, err
}
