package screening

import (
	"os"
	"strings"
	"testing"
)

func TestDebugScreen(t *testing.T) {
	for _, text := range strings.Split(os.Getenv("SCREEN"), "|") {
		if text == "" {
			continue
		}
		toks := tokenize(text)
		var ws []string
		for _, tk := range toks {
			ws = append(ws, tk.w)
		}
		forms := fuzzyForms(toks)
		cx := contexts.find(toks, forms)
		t.Logf("%q -> %v forms=%v cx=%v findings=%+v", text, ws, forms, cx, Screen(text).Findings)
	}
}
