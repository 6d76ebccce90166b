package edge

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"text/template"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/clock"
)

// ExportDownloadPath is the archive route: once every service's part of
// an export is ready, the gateway gathers the parts (each service's
// GetExportPart, called with the client's own token) into one zip archive,
// streamed as it is read.
const ExportDownloadPath = "/v1/clients/{client_id}/exports/{export_id}:download"

// exportParts are the services' part streams, in archive order.
type exportParts struct {
	plans   plansv1.ExportServiceClient
	journal journalv1.JournalExportServiceClient
	notify  notifyv1.NotifyExportServiceClient
}

// partStream is one service's open part: its first message already read,
// so that a refusal is answered as an HTTP error before the archive starts.
type partStream struct {
	service string
	first   proto.Message // nil: the part is empty
	recv    func() (proto.Message, error)
	// fields are the part's files, in the order the service sends them.
	fields protoreflect.FieldDescriptors
}

func (p exportParts) open(ctx context.Context, clientID, exportID string) ([]partStream, error) {
	type opener struct {
		service string
		desc    protoreflect.MessageDescriptor
		open    func() (func() (proto.Message, error), error)
	}
	openers := []opener{
		{"plans", (&plansv1.GetPlansExportPartResponse{}).ProtoReflect().Descriptor(), func() (func() (proto.Message, error), error) {
			st, err := p.plans.GetPlansExportPart(ctx, &plansv1.GetPlansExportPartRequest{ClientId: clientID, ExportId: exportID})
			return recvOf(st, err)
		}},
		{"journal", (&journalv1.GetJournalExportPartResponse{}).ProtoReflect().Descriptor(), func() (func() (proto.Message, error), error) {
			st, err := p.journal.GetJournalExportPart(ctx, &journalv1.GetJournalExportPartRequest{ClientId: clientID, ExportId: exportID})
			return recvOf(st, err)
		}},
		{"notify", (&notifyv1.GetNotifyExportPartResponse{}).ProtoReflect().Descriptor(), func() (func() (proto.Message, error), error) {
			st, err := p.notify.GetNotifyExportPart(ctx, &notifyv1.GetNotifyExportPartRequest{ClientId: clientID, ExportId: exportID})
			return recvOf(st, err)
		}},
	}
	out := make([]partStream, 0, len(openers))
	for _, o := range openers {
		recv, err := o.open()
		if err != nil {
			return nil, err
		}
		first, err := recv()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		out = append(out, partStream{service: o.service, first: first, recv: recv, fields: o.desc.Fields()})
	}
	return out, nil
}

// recvOf adapts a typed server stream to one receive function.
func recvOf[T any, PT interface {
	*T
	proto.Message
}](st grpc.ServerStreamingClient[T], err error) (func() (proto.Message, error), error) {
	if err != nil {
		return nil, err
	}
	return func() (proto.Message, error) {
		m, err := st.Recv()
		if err != nil {
			return nil, err
		}
		return PT(m), nil
	}, nil
}

// exportHandler serves ExportDownloadPath.
func exportHandler(mux *runtime.ServeMux, plans plansv1.ExportServiceClient, parts exportParts, timeout time.Duration, clk clock.Clock, log *slog.Logger) runtime.HandlerFunc {
	marshaler := &runtime.JSONPb{}
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		// The client's own token goes to every service, which checks it
		// and serves only the client's own part.
		md := metadata.Pairs("authorization", r.Header.Get("Authorization"))
		if id := r.Header.Get(requestIDHeader); id != "" {
			md.Set("x-request-id", id)
		}
		ctx = metadata.NewOutgoingContext(ctx, md)
		clientID, exportID := params["client_id"], params["export_id"]
		fail := func(err error) { runtime.HTTPError(ctx, mux, marshaler, w, r, err) }

		got, err := plans.GetExport(ctx, &plansv1.GetExportRequest{ClientId: clientID, ExportId: exportID})
		if err != nil {
			fail(err)
			return
		}
		ex := got.GetExport()
		switch ex.GetState() {
		case plansv1.ExportState_EXPORT_STATE_READY:
		case plansv1.ExportState_EXPORT_STATE_EXPIRED:
			fail(status.Errorf(codes.FailedPrecondition, "export %q expired: request a new one", exportID))
			return
		default:
			fail(status.Errorf(codes.FailedPrecondition, "export %q is not ready yet: every part must be built first (GET the export for its progress)", exportID))
			return
		}
		streams, err := parts.open(ctx, clientID, exportID)
		if err != nil {
			fail(err)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="nocontact-export-%s.zip"`, exportID))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		if err := writeArchive(w, ex, streams, clk.Now()); err != nil {
			// The status is sent: a broken archive must not look whole,
			// so the connection is cut instead of the zip being closed.
			log.WarnContext(ctx, "export archive failed", "export_id", exportID, "error", err)
			panic(http.ErrAbortHandler)
		}
	}
}

// archiveJSON is how records are written: the public API's JSON (the
// gateway's own marshalling options), so the archive's format is the
// documented API's.
var archiveJSON = protojson.MarshalOptions{EmitUnpopulated: true}

// marshalRecord is m in the archive's JSON, indented at depth (protojson's
// own output varies its spacing on purpose; json.Indent makes it stable).
func marshalRecord(m proto.Message, prefix string) ([]byte, error) {
	b, err := archiveJSON.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, prefix, "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// writeArchive writes the zip: README.md, export.json, then each service's
// files, one per field of its part message, each a JSON array of records.
func writeArchive(w io.Writer, ex *plansv1.Export, streams []partStream, now time.Time) error {
	zw := zip.NewWriter(w)
	files, err := archiveFiles(streams)
	if err != nil {
		return err
	}
	readme, err := zw.CreateHeader(&zip.FileHeader{Name: "README.md", Method: zip.Deflate, Modified: now})
	if err != nil {
		return err
	}
	if err := readmeTemplate.Execute(readme, readmeData{Export: ex, Files: files, Now: now.UTC().Format(time.RFC3339)}); err != nil {
		return err
	}
	meta, err := zw.CreateHeader(&zip.FileHeader{Name: "export.json", Method: zip.Deflate, Modified: now})
	if err != nil {
		return err
	}
	b, err := marshalRecord(ex, "")
	if err != nil {
		return err
	}
	if _, err := meta.Write(append(b, '\n')); err != nil {
		return err
	}
	for _, st := range streams {
		if err := writePart(zw, st, now); err != nil {
			return fmt.Errorf("%s part: %w", st.service, err)
		}
	}
	return zw.Close()
}

// writePart writes one service's files as its messages arrive: a message
// fills one field, and the fields come in field order, so each file is
// written whole before the next begins (a zip is written one file at a
// time).
func writePart(zw *zip.Writer, st partStream, now time.Time) error {
	next := 0 // the first field whose file is not written yet
	var cur io.Writer
	written := 0
	closeFile := func() error {
		if cur == nil {
			return nil
		}
		end := "\n]\n"
		if written == 0 {
			end = "]\n"
		}
		_, err := io.WriteString(cur, end)
		cur = nil
		return err
	}
	openFile := func(f protoreflect.FieldDescriptor) error {
		var err error
		cur, err = zw.CreateHeader(&zip.FileHeader{Name: string(f.Name()) + ".json", Method: zip.Deflate, Modified: now})
		if err != nil {
			return err
		}
		written = 0
		_, err = io.WriteString(cur, "[")
		return err
	}
	emptyUpTo := func(i int) error { // files of the fields before i hold nothing
		for ; next < i; next++ {
			if err := openFile(st.fields.Get(next)); err != nil {
				return err
			}
			if err := closeFile(); err != nil {
				return err
			}
		}
		return nil
	}
	msg := st.first
	for msg != nil {
		var field protoreflect.FieldDescriptor
		var list protoreflect.List
		msg.ProtoReflect().Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			field, list = f, v.List()
			return false
		})
		if field != nil {
			i := field.Index()
			switch {
			case i < next-1 || (i == next-1 && cur == nil):
				return fmt.Errorf("%s arrived after later files", field.Name())
			case i >= next:
				if err := closeFile(); err != nil {
					return err
				}
				if err := emptyUpTo(i); err != nil {
					return err
				}
				if err := openFile(field); err != nil {
					return err
				}
				next = i + 1
			}
			for j := 0; j < list.Len(); j++ {
				b, err := marshalRecord(list.Get(j).Message().Interface(), "  ")
				if err != nil {
					return err
				}
				sep := ",\n  "
				if written == 0 {
					sep = "\n  "
				}
				if _, err := io.WriteString(cur, sep+string(b)); err != nil {
					return err
				}
				written++
			}
		}
		var err error
		if msg, err = st.recv(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
	}
	if err := closeFile(); err != nil {
		return err
	}
	return emptyUpTo(st.fields.Len())
}

// archiveFiles lists every file of the archive with the service that wrote
// it.
func archiveFiles(streams []partStream) ([]archiveFile, error) {
	var out []archiveFile
	for _, st := range streams {
		for i := 0; i < st.fields.Len(); i++ {
			f := st.fields.Get(i)
			out = append(out, archiveFile{Name: string(f.Name()) + ".json", Service: st.service, Record: string(f.Message().FullName())})
		}
	}
	return out, nil
}

type archiveFile struct {
	Name, Service, Record string
}

type readmeData struct {
	Export *plansv1.Export
	Files  []archiveFile
	Now    string
}

func (d readmeData) Count(f archiveFile) string {
	for _, p := range d.Export.GetParts() {
		if p.GetService() == f.Service {
			if n, ok := p.GetCounts()[strings.TrimSuffix(f.Name, ".json")]; ok {
				return fmt.Sprint(n)
			}
			return "0"
		}
	}
	return "?"
}

var readmeTemplate = template.Must(template.New("readme").Parse(`# Your data from the no-contact platform

This archive holds everything the platform keeps about you, as of the
moment it was written ({{.Now}}). It is the export you asked for
(export {{.Export.Id}}, asked for at {{.Export.CreateTime.AsTime.Format "2006-01-02T15:04:05Z07:00"}}),
under your right to data portability (GDPR Article 20).

## Format

- Every file except this one is JSON (UTF-8).
- export.json describes the export itself: when it was asked for, when it
  expires, and for each service when its part was built and how many
  records of each kind it counted then.
- Every other file is one kind of record: a JSON array with one object per
  record. Each object is the record exactly as the platform's public API
  returns it (its JSON mapping of the API's protobuf messages,
  https://protobuf.dev/programming-guides/json/): field names in
  lowerCamelCase, times as RFC 3339 strings in UTC, enumerations by name,
  and every field present even when empty. The API's OpenAPI document
  (GET /openapi.json) describes every field.
- Your own words (journal entries, letters, notes, reasons, goals) are in
  plain text here. They are encrypted where the platform stores them; keep
  this archive somewhere safe.
- Webhook secrets are not included; records of other people are not
  included, except the ids of people (a counsellor, an admin) who read or
  changed your data, in access_log.json.

## Files

| file | from | one record is | records |
| --- | --- | --- | --- |
{{range .Files}}| {{.Name}} | {{.Service}} | {{.Record}} | {{$.Count .}} |
{{end}}
The record counts are those each service counted when it built its part;
a record you added or removed since may make a file differ by that much.
`))

// exportDownloadVerb ends the archive route's path.
const exportDownloadVerb = ":download"

// registerExport adds the export routes: the JSON routes of the three
// services' export RPCs, and the archive.
func registerExport(ctx context.Context, mux *runtime.ServeMux, cfg Config, clk clock.Clock, log *slog.Logger, plansConn, journalConn, notifyConn *grpc.ClientConn) error {
	if err := plansv1.RegisterExportServiceHandler(ctx, mux, plansConn); err != nil {
		return fmt.Errorf("register export routes: %w", err)
	}
	if err := journalv1.RegisterJournalExportServiceHandler(ctx, mux, journalConn); err != nil {
		return fmt.Errorf("register journal export routes: %w", err)
	}
	if err := notifyv1.RegisterNotifyExportServiceHandler(ctx, mux, notifyConn); err != nil {
		return fmt.Errorf("register notify export routes: %w", err)
	}
	timeout := cfg.ExportDownloadTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	plans := plansv1.NewExportServiceClient(plansConn)
	parts := exportParts{plans: plans, journal: journalv1.NewJournalExportServiceClient(journalConn), notify: notifyv1.NewNotifyExportServiceClient(notifyConn)}
	if err := mux.HandlePath(http.MethodGet, ExportDownloadPath, exportHandler(mux, plans, parts, timeout, clk, log)); err != nil {
		return fmt.Errorf("register export archive route: %w", err)
	}
	return nil
}
