package occwire

import (
	"fmt"
	"strconv"
	"strings"
)

// Talk's own rules for the entries occ's add commands take, as the Talk app
// (21.x and 23.x, lib/Command/{Signaling,Turn,Stun}/Add.php) applies them.
// nctalk applies them to the desired entries before any changing call, so a
// run either converges or refuses up front; the recorded cases are in
// occtest/recorded/*/{transcript,parse_url}.json and the contract table in
// occtest.

// Talk's messages for refused entries.
const (
	talkMsgSTUNIncorrect  = "Incorrect value. Must be stunserver:port."
	talkMsgSchemes        = "Not allowed schemes, must be turn or turns or turn,turns."
	talkMsgProtocols      = "Not allowed protocols, must be udp or tcp or udp,tcp."
	talkMsgServerEmpty    = "Server cannot be empty."
	talkMsgSecretEmpty    = "Secret cannot be empty."
	talkMsgSTUNExists     = "Server already exists."
	talkMsgTURNExists     = "Server already exists with the same configuration."
	talkMsgNothingDeleted = "There is nothing to delete."
	talkMsgDefaultSTUN    = "You deleted all STUN servers. A default STUN server was added."
)

// talkRuleError is an entry the installed Talk refuses.
type talkRuleError struct {
	// Entry is the refused value.
	Entry string
	// Command is the occ command that refuses it.
	Command string
	// Message is what Talk prints.
	Message string
	// Why says which part of Talk's check fails.
	Why string
}

func (e *talkRuleError) Error() string {
	return fmt.Sprintf("%q is refused by Talk's %s (%q): %s", e.Entry, e.Command, e.Message, e.Why)
}

// talkSTUNStored is what `talk:stun:add entry` stores: Talk takes
// parse_url(entry)'s host and port, refuses the entry when either is empty
// (PHP's empty(): "", "0", 0), and stores "host:port". So
// "host:03478" is stored as "host:3478" and "[2001:db8::1]:3478" is refused.
func talkSTUNStored(entry string) (string, error) {
	host, port, ok := phpParseURLHostPort(entry)
	if !ok || host == "" || host == "0" || port == 0 {
		why := "PHP's parse_url finds no host and port in it"
		switch {
		case ok && host != "" && host != "0":
			why = "its port is missing or 0"
		case ok && port != 0:
			why = "its host is empty"
		case strings.HasPrefix(entry, "["):
			why = "PHP's parse_url reads no host from a bracketed IPv6 address without a scheme; use a host name"
		}
		return "", &talkRuleError{Entry: entry, Command: "talk:stun:add", Message: talkMsgSTUNIncorrect, Why: why}
	}
	return host + ":" + strconv.Itoa(port), nil
}

// talkTURNStored is the server `talk:turn:add schemes server protocols`
// stores: schemes and protocols must be one of Talk's spellings, the
// server must not be blank (PHP's trim), and a leading https:// or then
// http:// (any case) is cut off.
func talkTURNStored(schemes, server, protocols string) (string, error) {
	switch {
	case schemes != "turn" && schemes != "turns" && schemes != "turn,turns":
		return "", &talkRuleError{Entry: schemes, Command: "talk:turn:add", Message: talkMsgSchemes, Why: "schemes must be spelled exactly so"}
	case protocols != "tcp" && protocols != "udp" && protocols != "udp,tcp":
		return "", &talkRuleError{Entry: protocols, Command: "talk:turn:add", Message: talkMsgProtocols, Why: "protocols must be spelled exactly so"}
	case phpTrim(server) == "":
		return "", &talkRuleError{Entry: server, Command: "talk:turn:add", Message: talkMsgServerEmpty, Why: "the server is blank"}
	}
	if len(server) >= 8 && strings.EqualFold(server[:8], "https://") {
		server = server[8:]
	}
	if len(server) >= 7 && strings.EqualFold(server[:7], "http://") {
		server = server[7:]
	}
	return server, nil
}

// talkSignalingCheck applies `talk:signaling:add`'s check: neither the
// server nor the secret may be blank (PHP's trim). The server is stored as
// given.
func talkSignalingCheck(server, secret string) error {
	if phpTrim(server) == "" {
		return &talkRuleError{Entry: server, Command: "talk:signaling:add", Message: talkMsgServerEmpty, Why: "the server is blank"}
	}
	if phpTrim(secret) == "" {
		return &talkRuleError{Entry: "(secret)", Command: "talk:signaling:add", Message: talkMsgSecretEmpty, Why: "the secret is blank"}
	}
	return nil
}

// phpTrim is PHP's trim() with its default characters.
func phpTrim(s string) string { return strings.Trim(s, " \t\n\r\x00\x0b") }

// phpParseURLHostPort is PHP 8's parse_url(s, PHP_URL_HOST) and
// parse_url(s, PHP_URL_PORT) (ext/standard/url.c, php_url_parse_ex2): ok is
// false where parse_url returns false; host is "" and port 0 where it
// returns null. Control characters in the host become "_".
func phpParseURLHostPort(s string) (host string, port int, ok bool) {
	isScheme := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-'
	}
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	relative := func(i int) bool { return i+1 < len(s) && s[i] == '/' && s[i+1] == '/' }
	start := 0 // s[start:] is what is left to parse
	hasPort := false

	// parsePort reads the digits after the colon at e ("host:port"); it
	// returns whether to go on to the host, and whether parse_url failed.
	parsePort := func(e int) (toHost, failed bool) {
		p, pp := e+1, e+1
		for pp < len(s) && pp-p < 6 && isDigit(s[pp]) {
			pp++
		}
		switch {
		case pp-p > 0 && pp-p < 6 && (pp == len(s) || s[pp] == '/'):
			n, _ := strconv.Atoi(s[p:pp])
			if n > 65535 {
				return false, true
			}
			port, hasPort = n, true
			if relative(start) {
				start += 2
			}
			return true, false
		case p == pp && pp == len(s):
			return false, true
		case relative(start):
			start += 2
			return true, false
		}
		return false, false // just a path
	}

	e := strings.IndexByte(s, ':')
	toHost := false
	switch {
	case e > 0:
		schemeOK := true
		for i := 0; i < e; i++ {
			if !isScheme(s[i]) {
				schemeOK = false
				break
			}
		}
		if !schemeOK {
			q := strings.IndexByte(s, '?')
			switch {
			case e+1 < len(s) && (q < 0 || e < q):
				var failed bool
				if toHost, failed = parsePort(e); failed {
					return "", 0, false
				}
			case relative(0):
				start, toHost = 2, true
			}
			break
		}
		if e+1 == len(s) {
			return "", 0, true // only a scheme
		}
		if s[e+1] != '/' {
			p := e + 1
			for p < len(s) && isDigit(s[p]) {
				p++
			}
			if (p == len(s) || s[p] == '/') && p-e < 7 {
				var failed bool
				if toHost, failed = parsePort(e); failed {
					return "", 0, false
				}
			}
			break // otherwise a scheme and a path
		}
		if e+2 < len(s) && s[e+2] == '/' {
			start, toHost = e+3, true
		}
	case e == 0:
		var failed bool
		if toHost, failed = parsePort(e); failed {
			return "", 0, false
		}
	case relative(0):
		start, toHost = 2, true
	}
	if !toHost {
		return "", 0, true
	}

	rest := s[start:]
	end := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		end = i
	}
	authority := rest[:end]
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	hostEnd := len(authority)
	if !(strings.HasPrefix(authority, "[") && strings.HasSuffix(authority, "]")) {
		if i := strings.LastIndexByte(authority, ':'); i >= 0 {
			hostEnd = i
			if !hasPort || port == 0 {
				digits := authority[i+1:]
				if len(digits) > 5 {
					return "", 0, false
				}
				if len(digits) > 0 {
					n, used := leadingInt(digits)
					if used == 0 || n > 65535 {
						return "", 0, false
					}
					port = n
				}
			}
		}
	}
	if hostEnd < 1 {
		return "", 0, false
	}
	h := []byte(authority[:hostEnd])
	for i, c := range h {
		if c < 32 || c == 127 {
			h[i] = '_'
		}
	}
	return string(h), port, true
}

// leadingInt is C's strtol on s: an optional sign and the leading decimal
// digits after optional blanks; used is 0 when nothing was read.
func leadingInt(s string) (n, used int) {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	startDigits := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	if i == startDigits {
		return 0, 0
	}
	if neg {
		n = -n
		if n < 0 {
			return n, 0 // a negative port: parse_url fails
		}
	}
	return n, i
}
