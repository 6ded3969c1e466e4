package main

import (
	"io"
	"os"

	"github.com/charmbracelet/lipgloss"
	"golang.org/x/term"
)

// style holds the text styles. Colour is decided here, not by lipgloss:
// styled output only when the writer is a terminal, NO_COLOR is unset or
// empty (no-color.org: any non-empty value disables colour) and TERM is not
// "dumb". Colour is never the only signal: every styled word is also
// written out.
type style struct {
	bad, key, dim, head lipgloss.Style
}

func plainStyle() style {
	p := lipgloss.NewStyle()
	return style{bad: p, key: p, dim: p, head: p}
}

func styleFor(e *env, w io.Writer) style {
	if !isTerminal(w) || e.getenv("NO_COLOR") != "" || e.getenv("TERM") == "dumb" {
		return plainStyle()
	}
	return colorStyle(lipgloss.NewRenderer(w))
}

// colorStyle is keyward's one palette, on renderer r.
func colorStyle(r *lipgloss.Renderer) style {
	return style{
		bad:  r.NewStyle().Bold(true).Foreground(lipgloss.Color("9")),
		key:  r.NewStyle().Bold(true),
		dim:  r.NewStyle().Faint(true),
		head: r.NewStyle().Bold(true).Foreground(lipgloss.Color("11")),
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
