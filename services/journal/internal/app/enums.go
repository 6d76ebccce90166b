package app

import (
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/services/journal/internal/journal"
	"github.com/nocontact/backend/services/journal/internal/screening"
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

// riskCategories maps the screener's categories to proto; the screener's
// values are what a flag stores.
var riskCategories = map[screening.Category]journalv1.RiskCategory{
	screening.CategoryWishDead:    journalv1.RiskCategory_RISK_CATEGORY_WISH_DEAD,
	screening.CategoryIdeation:    journalv1.RiskCategory_RISK_CATEGORY_IDEATION,
	screening.CategoryMethod:      journalv1.RiskCategory_RISK_CATEGORY_METHOD,
	screening.CategoryIntent:      journalv1.RiskCategory_RISK_CATEGORY_INTENT,
	screening.CategoryPlan:        journalv1.RiskCategory_RISK_CATEGORY_PLAN,
	screening.CategoryPreparation: journalv1.RiskCategory_RISK_CATEGORY_PREPARATION,
	screening.CategoryAttempt:     journalv1.RiskCategory_RISK_CATEGORY_ATTEMPT,
	screening.CategorySelfHarm:    journalv1.RiskCategory_RISK_CATEGORY_SELF_HARM,
	screening.CategoryBurden:      journalv1.RiskCategory_RISK_CATEGORY_BURDEN,
}

var riskSeverities = map[screening.Severity]journalv1.RiskSeverity{
	screening.SeverityLow:      journalv1.RiskSeverity_RISK_SEVERITY_LOW,
	screening.SeverityModerate: journalv1.RiskSeverity_RISK_SEVERITY_MODERATE,
	screening.SeverityHigh:     journalv1.RiskSeverity_RISK_SEVERITY_HIGH,
	screening.SeverityImminent: journalv1.RiskSeverity_RISK_SEVERITY_IMMINENT,
}

// CategoryProto maps a stored category ("ideation") to proto.
func CategoryProto(c string) journalv1.RiskCategory { return riskCategories[screening.Category(c)] }

// SeverityProto maps a stored severity ("moderate") to proto.
func SeverityProto(s string) journalv1.RiskSeverity {
	sev, _ := screening.ParseSeverity(s)
	return riskSeverities[sev]
}

func categoryFromProto(c journalv1.RiskCategory) screening.Category {
	for k, v := range riskCategories {
		if v == c {
			return k
		}
	}
	return ""
}

func severityFromProto(s journalv1.RiskSeverity) screening.Severity {
	for k, v := range riskSeverities {
		if v == s {
			return k
		}
	}
	return screening.SeverityNone
}

// FlagSeverityProto is a flag's severity in proto; a flag stored before
// severities existed is MODERATE (it escalated after RISK_ESCALATE_AFTER).
func FlagSeverityProto(f journal.RiskFlag) journalv1.RiskSeverity {
	if f.Severity == "" {
		return journalv1.RiskSeverity_RISK_SEVERITY_MODERATE
	}
	return SeverityProto(f.Severity)
}
