package edge

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"
)

// journalPart is a journal part stream that sends msgs, then err (io.EOF
// for a whole part).
func journalPart(err error, msgs ...*journalv1.GetJournalExportPartResponse) partStream {
	i := 1
	st := partStream{service: "journal", fields: (&journalv1.GetJournalExportPartResponse{}).ProtoReflect().Descriptor().Fields()}
	if len(msgs) > 0 {
		st.first = msgs[0]
	}
	st.recv = func() (proto.Message, error) {
		if i < len(msgs) {
			i++
			return msgs[i-1], nil
		}
		return nil, err
	}
	return st
}

func entries(ids ...string) *journalv1.GetJournalExportPartResponse {
	out := &journalv1.GetJournalExportPartResponse{}
	for _, id := range ids {
		out.Entries = append(out.Entries, &journalv1.Entry{Id: id, Body: "body of " + id})
	}
	return out
}

var testExport = &plansv1.Export{Id: "ex-1", ClientId: "client-1", State: plansv1.ExportState_EXPORT_STATE_READY}

// Pages of one kind fill one file; kinds the part never sends are empty
// files; each file is a JSON array of the records.
func TestArchiveWritesOneFilePerKind(t *testing.T) {
	var buf bytes.Buffer
	urges := &journalv1.GetJournalExportPartResponse{Urges: []*journalv1.Urge{{Id: "u1"}}}
	if err := writeArchive(&buf, testExport, []partStream{journalPart(io.EOF, entries("e1", "e2"), entries("e3"), urges)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		_ = rc.Close()
		if strings.HasSuffix(f.Name, ".json") && f.Name != "export.json" {
			var recs []map[string]any
			if err := json.Unmarshal(b, &recs); err != nil {
				t.Fatalf("%s: %v\n%s", f.Name, err, b)
			}
			got[f.Name] = len(recs)
		}
	}
	if strings.Join(names, " ") != "README.md export.json entries.json check_ins.json urges.json risk_flags.json" {
		t.Fatalf("files = %v", names)
	}
	if got["entries.json"] != 3 || got["check_ins.json"] != 0 || got["urges.json"] != 1 || got["risk_flags.json"] != 0 {
		t.Fatalf("records per file = %v", got)
	}
}

// A part that fails half-way, or sends its kinds out of order, fails the
// archive, and what was written is not a zip that opens: the download
// cannot pass for a whole one.
func TestABrokenPartIsNoArchive(t *testing.T) {
	late := &journalv1.GetJournalExportPartResponse{Entries: []*journalv1.Entry{{Id: "e9"}}}
	urges := &journalv1.GetJournalExportPartResponse{Urges: []*journalv1.Urge{{Id: "u1"}}}
	for name, st := range map[string]partStream{
		"fails half-way":     journalPart(errors.New("journal went away"), entries("e1")),
		"kinds out of order": journalPart(io.EOF, entries("e1"), urges, late),
	} {
		var buf bytes.Buffer
		if err := writeArchive(&buf, testExport, []partStream{st}, time.Now()); err == nil {
			t.Errorf("%s: the archive was written whole", name)
		}
		if _, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err == nil {
			t.Errorf("%s: what was written opens as a zip", name)
		}
	}
}
