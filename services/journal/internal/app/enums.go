package app

import (
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/services/journal/internal/journal"
)

var entryKinds = map[string]journalv1.EntryKind{
	journal.EntryFree: journalv1.EntryKind_FREE, journal.EntryPrompt: journalv1.EntryKind_PROMPT,
	journal.EntryUnsentLetter: journalv1.EntryKind_UNSENT_LETTER, journal.EntryGratitude: journalv1.EntryKind_GRATITUDE,
	journal.EntrySlipReflection: journalv1.EntryKind_SLIP_REFLECTION,
}

var flagStatuses = map[string]journalv1.RiskFlagStatus{
	journal.FlagRaised: journalv1.RiskFlagStatus_RISK_FLAG_STATUS_RAISED, journal.FlagEscalated: journalv1.RiskFlagStatus_RISK_FLAG_STATUS_ESCALATED,
	journal.FlagAcknowledged: journalv1.RiskFlagStatus_RISK_FLAG_STATUS_ACKNOWLEDGED, journal.FlagResolved: journalv1.RiskFlagStatus_RISK_FLAG_STATUS_RESOLVED,
	journal.FlagDismissed: journalv1.RiskFlagStatus_RISK_FLAG_STATUS_DISMISSED,
}

// EntryKindProto maps an entry kind to proto.
func EntryKindProto(k string) journalv1.EntryKind { return entryKinds[k] }

// EntryKindFromProto maps a proto entry kind ("" when unspecified).
func EntryKindFromProto(k journalv1.EntryKind) string {
	for s, v := range entryKinds {
		if v == k {
			return s
		}
	}
	return ""
}

// OutcomeProto maps an urge outcome to proto.
func OutcomeProto(o string) journalv1.UrgeOutcome {
	switch o {
	case journal.OutcomeResisted:
		return journalv1.UrgeOutcome_RESISTED
	case journal.OutcomeContacted:
		return journalv1.UrgeOutcome_CONTACTED
	}
	return journalv1.UrgeOutcome_URGE_OUTCOME_UNSPECIFIED
}

// OutcomeFromProto maps a proto urge outcome ("" when unspecified).
func OutcomeFromProto(o journalv1.UrgeOutcome) string {
	switch o {
	case journalv1.UrgeOutcome_RESISTED:
		return journal.OutcomeResisted
	case journalv1.UrgeOutcome_CONTACTED:
		return journal.OutcomeContacted
	}
	return ""
}

// FlagStatusProto maps a flag state to proto.
func FlagStatusProto(s string) journalv1.RiskFlagStatus { return flagStatuses[s] }

// FlagReasonProto maps a flag reason to proto.
func FlagReasonProto(r string) journalv1.RiskReason { return flagReasons[r] }
