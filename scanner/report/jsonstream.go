package report

import (
	"bufio"
	"encoding/json"
)

// JSONStream writes an indented JSON document piece by piece, byte for
// byte what json.Encoder with SetIndent("", "  ") writes for the whole
// value, so that a document whose arrays are as long as the findings is
// never held in memory. The JSON report (Stream) and the command line's
// SARIF output are written with it. It keeps the first error, so a
// writer reads as the document it writes; Err returns that error.
type JSONStream struct {
	w   *bufio.Writer
	err error
}

// NewJSONStream returns a JSONStream writing to w; the caller flushes w.
func NewJSONStream(w *bufio.Writer) *JSONStream { return &JSONStream{w: w} }

// Raw writes x as it is: punctuation, indentation, member names.
func (s *JSONStream) Raw(x string) {
	if s.err == nil {
		_, s.err = s.w.WriteString(x)
	}
}

// Value writes v as json.MarshalIndent does at a depth whose indentation
// is prefix.
func (s *JSONStream) Value(v any, prefix string) {
	if s.err != nil {
		return
	}
	b, err := json.MarshalIndent(v, prefix, "  ")
	if err != nil {
		s.err = err
		return
	}
	_, s.err = s.w.Write(b)
}

// List writes an array of n elements, each built by elem just before it
// is written, at a depth whose indentation is prefix.
func (s *JSONStream) List(n int, prefix string, elem func(i int) any) {
	if n == 0 {
		s.Raw("[]")
		return
	}
	s.Raw("[\n")
	inner := prefix + "  "
	for i := range n {
		s.Raw(inner)
		s.Value(elem(i), inner)
		if i < n-1 {
			s.Raw(",")
		}
		s.Raw("\n")
	}
	s.Raw(prefix + "]")
}

// Err returns the first error met in writing.
func (s *JSONStream) Err() error { return s.err }
