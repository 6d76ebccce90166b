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

func TestDebugProbe(t *testing.T) {
	dir := os.Getenv("PROBE")
	if dir == "" {
		t.Skip()
	}
	for _, l := range readLabelled(t, dir) {
		res := Screen(l.text)
		top := res.Top()
		switch {
		case l.crisis && !res.Crisis():
			t.Logf("MISS %s %q (%s)", l.lang, l.text, l.category)
		case l.crisis && (top.Category != l.category || top.Severity < l.severity):
			t.Logf("CAT  %s %q got %s/%s want %s/%s", l.lang, l.text, top.Category, top.Severity, l.category, l.severity)
		case !l.crisis && res.Crisis():
			t.Logf("FP   %s %q got %s/%s", l.lang, l.text, top.Category, top.Severity)
		}
	}
}
