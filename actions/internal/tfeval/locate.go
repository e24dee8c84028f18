package tfeval

import (
	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
	"github.com/hashicorp/hcl/v2"
)

// segment is one piece of an evaluated template: a literal (whose raw
// source may contain escapes) or an interpolation.
type segment struct {
	off     int
	text    string
	raw     hcl.Range
	literal bool
}

func (s *Sources) fileLocator(name string) iampolicy.Locator {
	src := s.files[name]
	return iampolicy.LineLocator(src, hcl.Pos{Line: 1, Column: 1})
}

// rawOffsets maps each byte of decoded text to the byte in raw it came
// from, undoing HCL string escapes (\n, \", \uNNNN, $${, %%{) and the
// indentation a flush heredoc (<<-) strips.
func rawOffsets(raw []byte, decoded string) []int {
	out := make([]int, len(decoded)+1)
	i, j := 0, 0
	for i < len(decoded) {
		if j >= len(raw) {
			out[i] = len(raw)
			i++
			continue
		}
		switch {
		case raw[j] == '\\' && j+1 < len(raw):
			n := 2
			switch raw[j+1] {
			case 'u':
				n = 6
			case 'U':
				n = 10
			}
			// the escape decodes to one rune of 1..4 bytes
			w := 1
			if raw[j+1] == 'u' || raw[j+1] == 'U' {
				for w < 4 && i+w < len(decoded) && decoded[i+w]&0xC0 == 0x80 {
					w++
				}
			}
			for k := 0; k < w && i < len(decoded); k++ {
				out[i] = j
				i++
			}
			j += n
		case (raw[j] == '$' || raw[j] == '%') && j+2 < len(raw) && raw[j+1] == raw[j] && raw[j+2] == '{' && decoded[i] == raw[j]:
			out[i] = j
			i++
			j += 2
		case raw[j] == decoded[i]:
			out[i] = j
			i++
			j++
		case raw[j] == ' ' || raw[j] == '\t':
			j++
		default:
			out[i] = j
			i++
			j++
		}
	}
	out[len(decoded)] = j
	return out
}

func (s *Sources) literalLocator(whole, lit hcl.Range, text string) iampolicy.Locator {
	return s.segmentsLocator([]segment{{off: 0, text: text, raw: lit, literal: true}})
}

func (s *Sources) segmentsLocator(segs []segment) iampolicy.Locator {
	if len(segs) == 0 {
		return nil
	}
	file := segs[0].raw.Filename
	src := s.files[file]
	if src == nil {
		return nil
	}
	fl := s.fileLocator(file)
	maps := make([][]int, len(segs))
	return func(off int) hcl.Pos {
		k := 0
		for k+1 < len(segs) && segs[k+1].off <= off {
			k++
		}
		sg := segs[k]
		if !sg.literal {
			return sg.raw.Start
		}
		st, en := sg.raw.Start.Byte, sg.raw.End.Byte
		if st < 0 || en > len(src) || st > en {
			return sg.raw.Start
		}
		if maps[k] == nil {
			maps[k] = rawOffsets(src[st:en], sg.text)
		}
		rel := off - sg.off
		if rel < 0 {
			rel = 0
		}
		if rel >= len(maps[k]) {
			rel = len(maps[k]) - 1
		}
		return fl(st + maps[k][rel])
	}
}
