package load

import "unicode/utf8"

// eventTime reads the `t` member (the publish time, ms since the epoch) of
// an Event field value, a Structured Fields dictionary (RFC 9651), without
// allocating: the multiplexed lean readers call it once per PUB. It parses
// the whole dictionary, so that no member's value (a string holding "t=",
// say) is mistaken for another, and reports false when the value is not a
// dictionary, or has no `t`, or its `t` is not an integer. As RFC 9651
// asks, a later member of the same name replaces an earlier one.
func eventTime[T string | []byte](v T) (int64, bool) {
	p := sfParser[T]{s: v}
	p.skipSP()
	var t int64
	found := false
	for !p.eof() {
		isTime, ok := p.key()
		if !ok {
			return 0, false
		}
		var n int64
		var isInt bool
		if !p.eof() && p.s[p.i] == '=' {
			p.i++
			if n, isInt, ok = p.member(); !ok {
				return 0, false
			}
		} else if !p.params() { // a bare key is the boolean true
			return 0, false
		}
		if isTime {
			t, found = n, isInt
		}
		p.skipOWS()
		if p.eof() {
			break
		}
		if p.s[p.i] != ',' {
			return 0, false
		}
		p.i++
		p.skipOWS()
		if p.eof() {
			return 0, false // a trailing comma
		}
	}
	return t, found
}

// sfParser walks a Structured Field value, validating it as it goes.
type sfParser[T string | []byte] struct {
	s T
	i int
}

func (p *sfParser[T]) eof() bool { return p.i >= len(p.s) }

func (p *sfParser[T]) skipSP() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser[T]) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// key consumes a key, reporting whether it is "t".
func (p *sfParser[T]) key() (isTime, ok bool) {
	if p.eof() {
		return false, false
	}
	if c := p.s[p.i]; !(c >= 'a' && c <= 'z' || c == '*') {
		return false, false
	}
	start := p.i
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.i++
	}
	return p.i-start == 1 && p.s[start] == 't', true
}

// member consumes an item or an inner list, reporting the item's value
// when it is an integer.
func (p *sfParser[T]) member() (n int64, isInt, ok bool) {
	if !p.eof() && p.s[p.i] == '(' {
		return 0, false, p.innerList()
	}
	if n, isInt, ok = p.bareItem(); !ok {
		return 0, false, false
	}
	return n, isInt, p.params()
}

func (p *sfParser[T]) innerList() bool {
	p.i++ // '('
	for !p.eof() {
		p.skipSP()
		if p.eof() {
			return false
		}
		if p.s[p.i] == ')' {
			p.i++
			return p.params()
		}
		if _, _, ok := p.bareItem(); !ok || !p.params() {
			return false
		}
		if p.eof() || (p.s[p.i] != ' ' && p.s[p.i] != ')') {
			return false
		}
	}
	return false
}

func (p *sfParser[T]) params() bool {
	for !p.eof() && p.s[p.i] == ';' {
		p.i++
		p.skipSP()
		if _, ok := p.key(); !ok {
			return false
		}
		if !p.eof() && p.s[p.i] == '=' {
			p.i++
			if _, _, ok := p.bareItem(); !ok {
				return false
			}
		}
	}
	return true
}

// bareItem consumes one bare item, returning its value when it is an
// integer.
func (p *sfParser[T]) bareItem() (n int64, isInt, ok bool) {
	if p.eof() {
		return 0, false, false
	}
	switch c := p.s[p.i]; {
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '"':
		return 0, false, p.str()
	case c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		p.token()
		return 0, false, true
	case c == ':':
		return 0, false, p.bytes()
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			p.i += 2
			return 0, false, true
		}
		return 0, false, false
	case c == '@':
		p.i++
		_, isInt, ok := p.number()
		return 0, false, ok && isInt
	case c == '%':
		return 0, false, p.displayString()
	}
	return 0, false, false
}

// number consumes an integer or a decimal (RFC 9651 §4.2.4).
func (p *sfParser[T]) number() (n int64, isInt, ok bool) {
	neg := false
	if !p.eof() && p.s[p.i] == '-' {
		neg = true
		p.i++
	}
	if p.eof() || p.s[p.i] < '0' || p.s[p.i] > '9' {
		return 0, false, false
	}
	digits, dot := 0, -1 // characters of the number, where the '.' is
	for !p.eof() {
		c := p.s[p.i]
		switch {
		case c >= '0' && c <= '9':
			if dot < 0 {
				n = n*10 + int64(c-'0')
			}
		case c == '.' && dot < 0:
			if digits > 12 {
				return 0, false, false
			}
			dot = digits
		default:
			goto end
		}
		p.i++
		digits++
		if dot < 0 && digits > 15 || dot >= 0 && digits > 16 {
			return 0, false, false
		}
	}
end:
	if dot >= 0 {
		frac := digits - dot - 1
		return 0, false, frac >= 1 && frac <= 3
	}
	if neg {
		n = -n
	}
	return n, true, true
}

func (p *sfParser[T]) str() bool {
	p.i++ // '"'
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.eof() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return false
			}
			p.i++
		case c == '"':
			return true
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return false
}

func (p *sfParser[T]) token() {
	p.i++
	for !p.eof() && isTChar(p.s[p.i]) {
		p.i++
	}
}

// isTChar reports whether c may follow a token's first character: a tchar
// (RFC 9110), ':' or '/'.
func isTChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~', ':', '/':
		return true
	}
	return false
}

// bytes consumes a byte sequence, checking its base64 as Go's standard
// decoder does (padded, no stray characters, canonical final bits are not
// required).
func (p *sfParser[T]) bytes() bool {
	p.i++ // ':'
	start := p.i
	for !p.eof() && p.s[p.i] != ':' {
		c := p.s[p.i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
		p.i++
	}
	if p.eof() {
		return false
	}
	end := p.i
	p.i++ // ':'
	return validBase64(p.s[start:end])
}

// validBase64 reports whether b is padded standard base64, as
// base64.StdEncoding accepts it.
func validBase64[T string | []byte](b T) bool {
	if len(b)%4 != 0 {
		return false
	}
	pad := 0
	for pad < len(b) && pad < 2 && b[len(b)-1-pad] == '=' {
		pad++
	}
	for i := 0; i < len(b)-pad; i++ {
		if b[i] == '=' {
			return false
		}
	}
	return true
}

// displayString consumes a display string: percent-encoded UTF-8.
func (p *sfParser[T]) displayString() bool {
	if p.i+1 >= len(p.s) || p.s[p.i+1] != '"' {
		return false
	}
	p.i += 2
	var u utf8Check
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '%':
			if p.i+1 >= len(p.s) {
				return false
			}
			hi, ok1 := lowerHex(p.s[p.i])
			lo, ok2 := lowerHex(p.s[p.i+1])
			if !ok1 || !ok2 {
				return false
			}
			p.i += 2
			if !u.add(hi<<4 | lo) {
				return false
			}
		case c == '"':
			return u.done()
		case c < 0x20 || c > 0x7e:
			return false
		default:
			if !u.add(c) {
				return false
			}
		}
	}
	return false
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// utf8Check validates UTF-8 a byte at a time.
type utf8Check struct {
	buf [utf8.UTFMax]byte
	n   int
}

func (u *utf8Check) add(c byte) bool {
	u.buf[u.n] = c
	u.n++
	if !utf8.FullRune(u.buf[:u.n]) {
		return true
	}
	r, size := utf8.DecodeRune(u.buf[:u.n])
	if r == utf8.RuneError && size <= 1 || size != u.n {
		return false
	}
	u.n = 0
	return true
}

func (u *utf8Check) done() bool { return u.n == 0 }
