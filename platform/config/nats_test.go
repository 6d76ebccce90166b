package config_test

import (
	"strings"
	"testing"

	"github.com/nocontact/backend/platform/config"
)

// The stream limits' defaults pass; a dead-letter stream that would keep
// the journal's events longer than the journal's stream, an age under the
// duplicate window or an unbounded size is refused, naming the variable.
func TestNATSValidate(t *testing.T) {
	var def config.NATS
	if err := config.LoadFrom(&def, nil); err != nil {
		t.Fatal(err)
	}
	if err := def.Validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	tests := []struct {
		name    string
		environ map[string]string
		want    string
	}{
		{"dead letters outlive the stream", map[string]string{"NATS_STREAM_MAX_AGE": "72h", "NATS_DEADLETTER_MAX_AGE": "73h"}, "NATS_DEADLETTER_MAX_AGE"},
		{"stream age under the duplicate window", map[string]string{"NATS_STREAM_MAX_AGE": "30m", "NATS_DEADLETTER_MAX_AGE": "30m"}, "NATS_STREAM_MAX_AGE"},
		{"unbounded stream", map[string]string{"NATS_STREAM_MAX_BYTES": "-1"}, "NATS_STREAM_MAX_BYTES"},
		{"unbounded dead letters", map[string]string{"NATS_DEADLETTER_MAX_BYTES": "0"}, "NATS_DEADLETTER_MAX_BYTES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n config.NATS
			if err := config.LoadFrom(&n, tt.environ); err != nil {
				t.Fatal(err)
			}
			err := n.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error naming %s", err, tt.want)
			}
		})
	}
	same := def
	same.DeadLetterMaxAge = same.StreamMaxAge
	if err := same.Validate(); err != nil {
		t.Errorf("dead letters kept exactly as long as the stream refused: %v", err)
	}
}
