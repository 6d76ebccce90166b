package app

import (
	"encoding/base64"
	"strconv"

	"github.com/nocontact/backend/platform/apperr"
)

const maxSkip = 100000

func encodeToken(skip int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(skip)))
}

func decodeToken(tok string) (int, error) {
	if tok == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	n, convErr := strconv.Atoi(string(b))
	if err != nil || convErr != nil || n < 0 || n > maxSkip {
		return 0, apperr.InvalidArgument(apperr.FieldViolation{Field: "page_token", Description: "is not a token from a previous page"})
	}
	return n, nil
}

func sizeOr(size, def int) int {
	if size <= 0 {
		return def
	}
	return size
}
