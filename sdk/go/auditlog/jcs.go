package auditlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// CanonicalJSON rewrites a JSON text per RFC 8785 (JSON Canonicalization Scheme): object members
// sorted by the UTF-16 code units of their names, no whitespace, strings escaped only where JSON
// requires it, numbers as ECMAScript writes them. The committed record of an event is a flat
// object of strings, integers and nulls; nested values, booleans and fractional numbers are
// canonicalised too.
//
// encoding/json cannot be used for this: it escapes <, >, & and U+2028/U+2029, writes \u0008
// and \u000c where JCS writes \b and \f, and does not sort by UTF-16 code units.
func CanonicalJSON(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("auditlog: canonical JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("auditlog: canonical JSON: more than one JSON value")
	}
	if !utf8.Valid(data) {
		// encoding/json would silently replace bad bytes with U+FFFD, committing to other text.
		return nil, fmt.Errorf("auditlog: canonical JSON: the text is not valid UTF-8")
	}
	return appendCanonical(nil, v)
}

func appendCanonical(dst []byte, v interface{}) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return appendCanonicalString(dst, x)
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, fmt.Errorf("auditlog: canonical JSON: number %s: %w", x, err)
		}
		return appendES6Number(dst, f)
	case float64:
		return appendES6Number(dst, x)
	case int:
		return appendES6Number(dst, float64(x))
	case int64:
		return appendES6Number(dst, float64(x))
	case []interface{}:
		dst = append(dst, '[')
		for i, item := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendCanonical(dst, item); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]interface{}:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return lessUTF16(keys[i], keys[j]) })
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendCanonicalString(dst, k); err != nil {
				return nil, err
			}
			dst = append(dst, ':')
			if dst, err = appendCanonical(dst, x[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	default:
		return nil, fmt.Errorf("auditlog: canonical JSON: unsupported value of type %T", v)
	}
}

// lessUTF16 orders strings by their UTF-16 code units (RFC 8785 section 3.2.3), which differs
// from byte order for characters above U+FFFF against those in U+E000..U+FFFF.
func lessUTF16(a, b string) bool {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

const hexDigits = "0123456789abcdef"

// appendCanonicalString writes s as RFC 8785 section 3.2.2.2 says: \" and \\, the two-letter
// escapes \b \t \n \f \r, \u00xx (lowercase) for the other controls, everything else as is.
func appendCanonicalString(dst []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("auditlog: canonical JSON: a string is not valid UTF-8")
	}
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"'), nil
}

// appendES6Number writes f as ECMAScript's Number.prototype.toString does (RFC 8785 section
// 3.2.2.3): the shortest digits that read back as f, in plain notation for exponents from -6
// to 20 and in exponent notation otherwise.
func appendES6Number(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("auditlog: canonical JSON: %v is not a JSON number", f)
	}
	if f == 0 {
		return append(dst, '0'), nil // also -0
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// d.ddddde±x: the shortest round-tripping digits and the decimal exponent.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expText, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expText)
	k := len(digits)
	n := exp + 1 // value = 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for i := 0; i < n-k; i++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for i := 0; i < -n; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst, nil
}
