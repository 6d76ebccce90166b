package app

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/nocontact/backend/platform/apperr"
)

// pageCursor is what a page token carries: how many items came before and,
// for lists that grow at the head, the newest time of the first page.
type pageCursor struct {
	Skip   int        `json:"s"`
	Before *time.Time `json:"b,omitempty"`
	// BeforeSeq: the next page of a contact log starts below this number.
	BeforeSeq int64 `json:"q,omitempty"`
}

// maxSkip bounds how deep a token may page; a client's lists stay far below.
const maxSkip = 100000

func encodePageToken(c pageCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(tok string) (pageCursor, error) {
	var c pageCursor
	if tok == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Skip < 0 || c.Skip > maxSkip || c.BeforeSeq < 0 {
		return pageCursor{}, apperr.InvalidArgument(apperr.FieldViolation{Field: "page_token", Description: "is not a token from a previous page"})
	}
	return c, nil
}

func pageSizeOr(size, def int) int {
	if size <= 0 {
		return def
	}
	return size
}
