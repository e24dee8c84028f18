package taskservice

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// codec is gRPC's proto codec, except that a request whose string fields
// hold invalid UTF-8 is decoded with those bytes replaced by U+FFFD. gRPC
// turns any decoding error into INTERNAL, a server fault; decoded this way,
// the request reaches validation, which rejects the field by name with
// INVALID_ARGUMENT (no string field accepts U+FFFD).
type codec struct{}

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("codec: %T is not a proto message", v)
	}
	return proto.Marshal(m)
}

func (codec) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("codec: %T is not a proto message", v)
	}
	err := proto.Unmarshal(data, m)
	if err == nil {
		return nil
	}
	fixed, changed := validUTF8(data, m.ProtoReflect().Descriptor())
	if !changed {
		return err
	}
	return proto.Unmarshal(fixed, m)
}

// validUTF8 rewrites the string fields of a wire-format message of type
// desc (and of its message fields) to valid UTF-8. It reports whether
// anything changed; malformed input comes back unchanged.
func validUTF8(b []byte, desc protoreflect.MessageDescriptor) ([]byte, bool) {
	var out []byte
	changed := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return b, false
		}
		if typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, b[n:])
			if m < 0 {
				return b, false
			}
			out = append(out, b[:n+m]...)
			b = b[n+m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			return b, false
		}
		if fd := desc.Fields().ByNumber(num); fd != nil {
			switch {
			case fd.Kind() == protoreflect.StringKind && !utf8.Valid(v):
				v, changed = []byte(strings.ToValidUTF8(string(v), "\uFFFD")), true
			case fd.Kind() == protoreflect.MessageKind:
				if inner, ok := validUTF8(v, fd.Message()); ok {
					v, changed = inner, true
				}
			}
		}
		out = protowire.AppendTag(out, num, typ)
		out = protowire.AppendBytes(out, v)
		b = b[n+m:]
	}
	return out, changed
}
