package iampolicy

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Locator turns a byte offset in the text being parsed into a position in
// the file the text came from. Policies embedded in Terraform strings or
// heredocs use it so a finding lands on the caller's line, not on line 1 of
// the string.
type Locator func(off int) hcl.Pos

// LineLocator counts lines and columns from start, for text that is a
// verbatim copy of a file region (a whole file, a heredoc body).
func LineLocator(src []byte, start hcl.Pos) Locator {
	lineStarts := []int{0}
	for i, b := range src {
		if b == '\n' {
			lineStarts = append(lineStarts, i+1)
		}
	}
	return func(off int) hcl.Pos {
		if off > len(src) {
			off = len(src)
		}
		// binary search the line holding off
		lo, hi := 0, len(lineStarts)-1
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if lineStarts[mid] <= off {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		col := utf8.RuneCount(src[lineStarts[lo]:off]) + 1
		if lo == 0 {
			return hcl.Pos{Line: start.Line, Column: start.Column + col - 1, Byte: start.Byte + off}
		}
		return hcl.Pos{Line: start.Line + lo, Column: col, Byte: start.Byte + off}
	}
}

// Error is input that is not a policy, with the position of the problem.
type Error struct {
	Range   hcl.Range
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Range.Filename, e.Range.Start.Line, e.Range.Start.Column, e.Message)
}

// ParseJSON reads JSON text into a Node tree that keeps every value's
// range. It accepts exactly RFC 8259 JSON; duplicate keys are kept in order
// (IAM uses the last one, and the rules see all of them).
func ParseJSON(src []byte, file string, loc Locator) (Node, error) {
	if loc == nil {
		loc = LineLocator(src, hcl.Pos{Line: 1, Column: 1})
	}
	p := &jsonParser{src: src, file: file, loc: loc}
	p.skipSpace()
	n, err := p.value(0)
	if err != nil {
		return Node{}, err
	}
	p.skipSpace()
	if p.off < len(p.src) {
		return Node{}, p.errf(p.off, "unexpected %q after the JSON value", p.src[p.off])
	}
	return n, nil
}

type jsonParser struct {
	src  []byte
	off  int
	file string
	loc  Locator
}

const maxDepth = 200

func (p *jsonParser) rng(from, to int) hcl.Range {
	return hcl.Range{Filename: p.file, Start: p.loc(from), End: p.loc(to)}
}

func (p *jsonParser) errf(at int, format string, args ...any) error {
	return &Error{Range: p.rng(at, at), Message: fmt.Sprintf(format, args...)}
}

func (p *jsonParser) skipSpace() {
	for p.off < len(p.src) {
		switch p.src[p.off] {
		case ' ', '\t', '\n', '\r':
			p.off++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (Node, error) {
	if depth > maxDepth {
		return Node{}, p.errf(p.off, "JSON nested deeper than %d levels", maxDepth)
	}
	if p.off >= len(p.src) {
		return Node{}, p.errf(p.off, "unexpected end of JSON")
	}
	start := p.off
	switch c := p.src[p.off]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return Node{}, err
		}
		r := p.rng(start, p.off)
		return Node{Kind: String, Str: Str{Value: s, Range: r}, Range: r}, nil
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if strings.HasPrefix(string(p.src[p.off:min(len(p.src), p.off+5)]), lit) {
				p.off += len(lit)
				r := p.rng(start, p.off)
				k := Bool
				if lit == "null" {
					k = Null
				}
				return Node{Kind: k, Str: Str{Value: lit, Range: r}, Range: r}, nil
			}
		}
		return Node{}, p.errf(start, "invalid literal; want true, false or null")
	case c == '-' || (c >= '0' && c <= '9'):
		for p.off < len(p.src) && strings.IndexByte("+-.eE0123456789", p.src[p.off]) >= 0 {
			p.off++
		}
		text := string(p.src[start:p.off])
		if _, err := strconv.ParseFloat(text, 64); err != nil {
			return Node{}, p.errf(start, "invalid number %q", text)
		}
		r := p.rng(start, p.off)
		return Node{Kind: Number, Str: Str{Value: text, Range: r}, Range: r}, nil
	default:
		return Node{}, p.errf(start, "unexpected %q; want a JSON value", c)
	}
}

func (p *jsonParser) object(depth int) (Node, error) {
	start := p.off
	p.off++ // {
	n := Node{Kind: Object}
	p.skipSpace()
	if p.off < len(p.src) && p.src[p.off] == '}' {
		p.off++
		n.Range = p.rng(start, p.off)
		return n, nil
	}
	for {
		p.skipSpace()
		if p.off >= len(p.src) || p.src[p.off] != '"' {
			return Node{}, p.errf(p.off, "want a quoted object key")
		}
		ks := p.off
		k, err := p.str()
		if err != nil {
			return Node{}, err
		}
		key := Str{Value: k, Range: p.rng(ks, p.off)}
		p.skipSpace()
		if p.off >= len(p.src) || p.src[p.off] != ':' {
			return Node{}, p.errf(p.off, "want ':' after key %q", k)
		}
		p.off++
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return Node{}, err
		}
		n.Fields = append(n.Fields, Field{Key: key, Value: v})
		more, err := p.next("object", '}')
		if err != nil {
			return Node{}, err
		}
		if !more {
			n.Range = p.rng(start, p.off)
			return n, nil
		}
	}
}

func (p *jsonParser) array(depth int) (Node, error) {
	start := p.off
	p.off++ // [
	n := Node{Kind: Array}
	p.skipSpace()
	if p.off < len(p.src) && p.src[p.off] == ']' {
		p.off++
		n.Range = p.rng(start, p.off)
		return n, nil
	}
	for {
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return Node{}, err
		}
		n.Items = append(n.Items, v)
		more, err := p.next("array", ']')
		if err != nil {
			return Node{}, err
		}
		if !more {
			n.Range = p.rng(start, p.off)
			return n, nil
		}
	}
}

// next reads what follows a member of an object or array: a ',' (more
// members follow) or the closing byte (the container ends).
func (p *jsonParser) next(what string, closing byte) (more bool, err error) {
	p.skipSpace()
	if p.off >= len(p.src) {
		return false, p.errf(p.off, "unclosed %s; want ',' or '%c'", what, closing)
	}
	switch p.src[p.off] {
	case ',':
		p.off++
		return true, nil
	case closing:
		p.off++
		return false, nil
	}
	return false, p.errf(p.off, "want ',' or '%c' in %s, got %q", closing, what, p.src[p.off])
}

// str reads a quoted string at p.off and decodes its escapes.
func (p *jsonParser) str() (string, error) {
	start := p.off
	p.off++ // "
	var b strings.Builder
	for {
		if p.off >= len(p.src) {
			return "", p.errf(start, "unterminated string")
		}
		c := p.src[p.off]
		switch {
		case c == '"':
			p.off++
			return b.String(), nil
		case c < 0x20:
			return "", p.errf(p.off, "control character in string")
		case c == '\\':
			if p.off+1 >= len(p.src) {
				return "", p.errf(p.off, "unterminated escape")
			}
			e := p.src[p.off+1]
			p.off += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if p.off+4 > len(p.src) {
					return "", p.errf(p.off-2, "short \\u escape")
				}
				v, err := strconv.ParseUint(string(p.src[p.off:p.off+4]), 16, 32)
				if err != nil {
					return "", p.errf(p.off-2, "bad \\u escape")
				}
				p.off += 4
				b.WriteRune(rune(v))
			default:
				return "", p.errf(p.off-2, "unknown escape \\%c", e)
			}
		default:
			r, size := utf8.DecodeRune(p.src[p.off:])
			if r == utf8.RuneError && size == 1 {
				return "", p.errf(p.off, "invalid UTF-8 in string")
			}
			b.WriteString(string(p.src[p.off : p.off+size]))
			p.off += size
		}
	}
}
