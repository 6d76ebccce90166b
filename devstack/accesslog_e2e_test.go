package main

// The access log, RPC by RPC: every RPC of every service, read from the
// proto descriptors, is called straight over gRPC by third parties (the
// client's consented counsellor, an admin, an unassigned counsellor),
// allowed and denied, and the client's access log must then hold exactly
// one entry per attempt with the outcome the service decided. An RPC that is
// missing from the table below fails the test, as does one that
// docs/access-log.md does not list, so a new RPC cannot be forgotten.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/grpcclient"
)

// The client's own words, planted everywhere they can be: no answer to an
// admin may carry this marker.
const secret = "SECRETWORDS"

const (
	alClient     = "al-client"
	alCounsellor = "al-counsellor" // assigned, every scope consented
	alStranger   = "al-stranger"   // a counsellor with no assignment
	alAdmin      = "al-admin"
)

// alFixture is the client's data, made as the client, and the connections.
type alFixture struct {
	t                       *testing.T
	conns                   map[string]*grpc.ClientConn // by service full name
	tokens                  map[string]string           // by actor
	seq                     atomic.Int64
	planID, contactID       string
	milestoneID             string
	assignmentID            string
	sharedEntry, privEntry  string
	urgeID, flagID          string
	notificationID          string
	webhookID               string
	reopenID, endID, joinID string
}

// attempt is one call by a third party.
type attempt struct {
	actor    string
	req      func(f *alFixture) proto.Message
	wantCode codes.Code
	// allowed is the outcome the client's log must show.
	allowed bool
	// resource is the access-log resource expected.
	resource func(f *alFixture) string
	// setup runs before the call (as anyone), e.g. to make the assignment
	// the call acts on.
	setup func(f *alFixture)
}

// rpcCase is what one RPC logs. noClient explains why an RPC names no
// client and so logs nothing.
type rpcCase struct {
	noClient string
	attempts []attempt
}

func fixed(s string) func(*alFixture) string { return func(*alFixture) string { return s } }

func allowedBy(actor string, code codes.Code, res func(*alFixture) string, req func(*alFixture) proto.Message) attempt {
	return attempt{actor: actor, req: req, wantCode: code, allowed: true, resource: res}
}

func deniedTo(actor string, code codes.Code, res func(*alFixture) string, req func(*alFixture) proto.Message) attempt {
	return attempt{actor: actor, req: req, wantCode: code, allowed: false, resource: res}
}

// deniedToAll is an owner-only RPC: every third party is refused.
func deniedToAll(code codes.Code, res func(*alFixture) string, req func(*alFixture) proto.Message) []attempt {
	return []attempt{
		deniedTo(alCounsellor, code, res, req),
		deniedTo(alAdmin, code, res, req),
		deniedTo(alStranger, codes.NotFound, res, req),
	}
}

func planRes(f *alFixture) string { return "plan/" + f.planID }

func planIDReq[T proto.Message](mk func(id string) T) func(*alFixture) proto.Message {
	return func(f *alFixture) proto.Message { return mk(f.planID) }
}

func accessLogCases() map[string]rpcCase {
	nf, pd, ok, fp := codes.NotFound, codes.PermissionDenied, codes.OK, codes.FailedPrecondition
	move := func(name string, mk func(id string) proto.Message) rpcCase {
		return rpcCase{attempts: []attempt{
			deniedTo(alCounsellor, pd, planRes, planIDReq(mk)),
			deniedTo(alAdmin, pd, planRes, planIDReq(mk)),
			deniedTo(alStranger, nf, planRes, planIDReq(mk)),
		}}
	}
	planRead := func(mk func(id string) proto.Message) rpcCase {
		return rpcCase{attempts: []attempt{
			allowedBy(alCounsellor, ok, planRes, planIDReq(mk)),
			allowedBy(alAdmin, ok, planRes, planIDReq(mk)),
			deniedTo(alStranger, nf, planRes, planIDReq(mk)),
		}}
	}
	clientReq := func(mk func(client string) proto.Message) func(*alFixture) proto.Message {
		return func(*alFixture) proto.Message { return mk(alClient) }
	}
	journalRead := func(res string, mk func(client string) proto.Message) rpcCase {
		return rpcCase{attempts: []attempt{
			allowedBy(alCounsellor, ok, fixed(res), clientReq(mk)),
			deniedTo(alAdmin, nf, fixed(res), clientReq(mk)),
			deniedTo(alStranger, nf, fixed(res), clientReq(mk)),
		}}
	}
	ownerOnly := func(res func(*alFixture) string, req func(*alFixture) proto.Message) rpcCase {
		return rpcCase{attempts: deniedToAll(nf, res, req)}
	}
	assignmentRes := func(id func(*alFixture) string) func(*alFixture) string {
		return func(f *alFixture) string { return "care-assignment/" + id(f) }
	}
	entryRes := func(f *alFixture) string { return "journal/entry/" + f.sharedEntry }
	flagRes := func(f *alFixture) string { return "journal/risk-flag/" + f.flagID }
	webhookRes := func(f *alFixture) string { return "notify/webhook/" + f.webhookID }

	return map[string]rpcCase{
		// PlansService
		"nocontact.plans.v1.PlansService.CreatePlan": {noClient: "creates the caller's own plan"},
		"nocontact.plans.v1.PlansService.GetPlan":    planRead(func(id string) proto.Message { return &plansv1.GetPlanRequest{PlanId: id} }),
		"nocontact.plans.v1.PlansService.ListPlans": {attempts: []attempt{
			allowedBy(alCounsellor, ok, fixed("plans"), clientReq(func(c string) proto.Message { return &plansv1.ListPlansRequest{ClientId: c} })),
			allowedBy(alAdmin, ok, fixed("plans"), clientReq(func(c string) proto.Message { return &plansv1.ListPlansRequest{ClientId: c} })),
			deniedTo(alStranger, nf, fixed("plans"), clientReq(func(c string) proto.Message { return &plansv1.ListPlansRequest{ClientId: c} })),
		}},
		"nocontact.plans.v1.PlansService.UpdatePlan": move("UpdatePlan", func(id string) proto.Message {
			return &plansv1.UpdatePlanRequest{Plan: &plansv1.Plan{Id: id, Reasons: []string{"overwritten"}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"reasons"}}}
		}),
		"nocontact.plans.v1.PlansService.ActivatePlan": move("ActivatePlan", func(id string) proto.Message { return &plansv1.ActivatePlanRequest{PlanId: id} }),
		// Pause and resume are the care team's to approve: both allowed,
		// the admin's first (the second caller finds the move made).
		"nocontact.plans.v1.PlansService.PausePlan": {attempts: []attempt{
			allowedBy(alAdmin, ok, planRes, planIDReq(func(id string) proto.Message {
				return &plansv1.PausePlanRequest{PlanId: id, Reason: secret + " pause reason"}
			})),
			allowedBy(alCounsellor, fp, planRes, planIDReq(func(id string) proto.Message { return &plansv1.PausePlanRequest{PlanId: id} })),
			deniedTo(alStranger, nf, planRes, planIDReq(func(id string) proto.Message { return &plansv1.PausePlanRequest{PlanId: id} })),
		}},
		"nocontact.plans.v1.PlansService.ResumePlan": {attempts: []attempt{
			allowedBy(alAdmin, ok, planRes, planIDReq(func(id string) proto.Message { return &plansv1.ResumePlanRequest{PlanId: id} })),
			allowedBy(alCounsellor, fp, planRes, planIDReq(func(id string) proto.Message { return &plansv1.ResumePlanRequest{PlanId: id} })),
			deniedTo(alStranger, nf, planRes, planIDReq(func(id string) proto.Message { return &plansv1.ResumePlanRequest{PlanId: id} })),
		}},
		"nocontact.plans.v1.PlansService.EndPlan": move("EndPlan", func(id string) proto.Message { return &plansv1.EndPlanRequest{PlanId: id, Reason: "x"} }),
		"nocontact.plans.v1.PlansService.ExtendPlan": move("ExtendPlan", func(id string) proto.Message {
			return &plansv1.ExtendPlanRequest{PlanId: id, TargetDays: 60}
		}),
		"nocontact.plans.v1.PlansService.ClosePlan":  move("ClosePlan", func(id string) proto.Message { return &plansv1.ClosePlanRequest{PlanId: id} }),
		"nocontact.plans.v1.PlansService.CancelPlan": move("CancelPlan", func(id string) proto.Message { return &plansv1.CancelPlanRequest{PlanId: id} }),
		"nocontact.plans.v1.PlansService.RecordContact": move("RecordContact", func(id string) proto.Message {
			return &plansv1.RecordContactRequest{PlanId: id, Contact: &plansv1.Contact{Direction: plansv1.ContactDirection_INBOUND, Channel: plansv1.Channel_TEXT, Response: plansv1.ContactResponse_NONE, OccurredAt: timestamppb.Now()}}
		}),
		// An admin gets counts (Plan.contact_count), not the log.
		"nocontact.plans.v1.PlansService.ListContacts": {attempts: []attempt{
			allowedBy(alCounsellor, ok, planRes, planIDReq(func(id string) proto.Message { return &plansv1.ListContactsRequest{PlanId: id} })),
			deniedTo(alAdmin, nf, planRes, planIDReq(func(id string) proto.Message { return &plansv1.ListContactsRequest{PlanId: id} })),
			deniedTo(alStranger, nf, planRes, planIDReq(func(id string) proto.Message { return &plansv1.ListContactsRequest{PlanId: id} })),
		}},
		"nocontact.plans.v1.PlansService.UpdateContact": {attempts: func() []attempt {
			req := func(f *alFixture) proto.Message {
				return &plansv1.UpdateContactRequest{PlanId: f.planID, ContactId: f.contactID, Contact: &plansv1.Contact{Note: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"note"}}}
			}
			return []attempt{deniedTo(alCounsellor, pd, planRes, req), deniedTo(alAdmin, pd, planRes, req), deniedTo(alStranger, nf, planRes, req)}
		}()},
		"nocontact.plans.v1.PlansService.VoidContact": {attempts: func() []attempt {
			req := func(f *alFixture) proto.Message {
				return &plansv1.VoidContactRequest{PlanId: f.planID, ContactId: f.contactID}
			}
			return []attempt{deniedTo(alCounsellor, pd, planRes, req), deniedTo(alAdmin, pd, planRes, req), deniedTo(alStranger, nf, planRes, req)}
		}()},
		"nocontact.plans.v1.PlansService.GetPlanProgress": planRead(func(id string) proto.Message { return &plansv1.GetPlanProgressRequest{PlanId: id} }),
		"nocontact.plans.v1.PlansService.ListMilestones":  planRead(func(id string) proto.Message { return &plansv1.ListMilestonesRequest{PlanId: id} }),
		"nocontact.plans.v1.PlansService.AcknowledgeMilestone": {attempts: func() []attempt {
			req := func(f *alFixture) proto.Message {
				return &plansv1.AcknowledgeMilestoneRequest{PlanId: f.planID, MilestoneId: f.milestoneID}
			}
			return []attempt{deniedTo(alCounsellor, pd, planRes, req), deniedTo(alAdmin, pd, planRes, req), deniedTo(alStranger, nf, planRes, req)}
		}()},
		"nocontact.plans.v1.PlansService.GetSupportInfo": ownerOnly(fixed("support"), clientReq(func(c string) proto.Message { return &plansv1.GetSupportInfoRequest{ClientId: c} })),

		// CareService
		"nocontact.plans.v1.CareService.CreateCareAssignment": {attempts: []attempt{
			{
				// An admin re-creating an ended assignment: it is active again.
				actor: alAdmin, wantCode: ok, allowed: true, resource: assignmentRes(func(f *alFixture) string { return f.reopenID }),
				setup: func(f *alFixture) {
					f.reopenID = f.assign("al-counsellor-reopen")
					f.mustCall(alAdmin, "/nocontact.plans.v1.CareService/EndCareAssignment", &plansv1.EndCareAssignmentRequest{AssignmentId: f.reopenID}, &plansv1.EndCareAssignmentResponse{})
				},
				req: func(*alFixture) proto.Message {
					return &plansv1.CreateCareAssignmentRequest{CareAssignment: &plansv1.CareAssignment{ClientId: alClient, CounsellorId: "al-counsellor-reopen"}}
				},
			},
			deniedTo(alStranger, pd, assignmentRes(func(f *alFixture) string { return f.assignmentID }), func(*alFixture) proto.Message {
				return &plansv1.CreateCareAssignmentRequest{CareAssignment: &plansv1.CareAssignment{ClientId: alClient, CounsellorId: alCounsellor}}
			}),
		}},
		"nocontact.plans.v1.CareService.AcceptCareAssignment": {attempts: func() []attempt {
			res := assignmentRes(func(f *alFixture) string { return f.joinID })
			req := func(f *alFixture) proto.Message { return &plansv1.AcceptCareAssignmentRequest{AssignmentId: f.joinID} }
			first := deniedTo("al-counsellor-join", nf, res, req)
			first.setup = func(f *alFixture) {
				var out plansv1.CreateCareAssignmentResponse
				f.mustCall("al-counsellor-join", "/nocontact.plans.v1.CareService/CreateCareAssignment",
					&plansv1.CreateCareAssignmentRequest{CareAssignment: &plansv1.CareAssignment{ClientId: alClient}}, &out)
				f.joinID = out.GetCareAssignment().GetId()
			}
			return []attempt{first, deniedTo(alAdmin, nf, res, req), deniedTo(alStranger, nf, res, req)}
		}()},
		"nocontact.plans.v1.CareService.EndCareAssignment": {attempts: func() []attempt {
			main := assignmentRes(func(f *alFixture) string { return f.assignmentID })
			mainReq := func(f *alFixture) proto.Message {
				return &plansv1.EndCareAssignmentRequest{AssignmentId: f.assignmentID}
			}
			end := allowedBy(alAdmin, ok, assignmentRes(func(f *alFixture) string { return f.endID }), func(f *alFixture) proto.Message {
				return &plansv1.EndCareAssignmentRequest{AssignmentId: f.endID}
			})
			end.setup = func(f *alFixture) { f.endID = f.assign("al-counsellor-end") }
			return []attempt{end, deniedTo(alCounsellor, nf, main, mainReq), deniedTo(alStranger, nf, main, mainReq)}
		}()},
		"nocontact.plans.v1.CareService.CheckCareAccess": {noClient: "answers the caller about their own access; the read it guards is logged where it is served"},
		"nocontact.plans.v1.CareService.ListCareAssignments": {attempts: []attempt{
			allowedBy(alAdmin, ok, fixed("care-assignments"), clientReq(func(c string) proto.Message { return &plansv1.ListCareAssignmentsRequest{ClientId: c} })),
			allowedBy(alCounsellor, ok, fixed("care-assignments"), clientReq(func(c string) proto.Message { return &plansv1.ListCareAssignmentsRequest{ClientId: c} })),
			deniedTo(alStranger, ok, fixed("care-assignments"), clientReq(func(c string) proto.Message { return &plansv1.ListCareAssignmentsRequest{ClientId: c} })),
		}},
		"nocontact.plans.v1.CareService.GrantConsent": ownerOnly(fixed("consents"), clientReq(func(c string) proto.Message {
			return &plansv1.GrantConsentRequest{ClientId: c, Scope: plansv1.ConsentScope_PLAN_PROGRESS}
		})),
		"nocontact.plans.v1.CareService.RevokeConsent": ownerOnly(fixed("consents"), clientReq(func(c string) proto.Message {
			return &plansv1.RevokeConsentRequest{ClientId: c, Scope: plansv1.ConsentScope_PLAN_PROGRESS}
		})),
		"nocontact.plans.v1.CareService.ListConsents": {attempts: []attempt{
			allowedBy(alCounsellor, ok, fixed("consents"), clientReq(func(c string) proto.Message { return &plansv1.ListConsentsRequest{ClientId: c} })),
			deniedTo(alAdmin, nf, fixed("consents"), clientReq(func(c string) proto.Message { return &plansv1.ListConsentsRequest{ClientId: c} })),
			deniedTo(alStranger, nf, fixed("consents"), clientReq(func(c string) proto.Message { return &plansv1.ListConsentsRequest{ClientId: c} })),
		}},
		// The dashboard's plans part: a batch leaves out a client the
		// caller may not see (OK, no row) and logs the attempt DENIED.
		"nocontact.plans.v1.CareService.BatchGetCareSummaries": {attempts: func() []attempt {
			req := clientReq(func(c string) proto.Message {
				return &plansv1.BatchGetCareSummariesRequest{ClientIds: []string{c}}
			})
			res := fixed("care-summary")
			return []attempt{allowedBy(alCounsellor, ok, res, req), deniedTo(alAdmin, ok, res, req), deniedTo(alStranger, ok, res, req)}
		}()},
		"nocontact.plans.v1.CareService.GetCareTimeline": {attempts: func() []attempt {
			req := clientReq(func(c string) proto.Message { return &plansv1.GetCareTimelineRequest{ClientId: c} })
			res := fixed("care-timeline")
			return []attempt{allowedBy(alCounsellor, ok, res, req), deniedTo(alAdmin, nf, res, req), deniedTo(alStranger, nf, res, req)}
		}()},
		"nocontact.plans.v1.CareService.MarkClientReviewed": {attempts: func() []attempt {
			req := clientReq(func(c string) proto.Message { return &plansv1.MarkClientReviewedRequest{ClientId: c} })
			res := fixed("review")
			return []attempt{allowedBy(alCounsellor, ok, res, req), deniedTo(alAdmin, nf, res, req), deniedTo(alStranger, nf, res, req)}
		}()},
		"nocontact.plans.v1.CareService.ListAccessLog": ownerOnly(fixed("access-log"), clientReq(func(c string) proto.Message { return &plansv1.ListAccessLogRequest{ClientId: c} })),

		// ErasureService: an admin's request with a ticket would erase this
		// fixture's client, so it is tried in TestErasureWhoMayAsk and
		// TestErasureAcrossTheSuite instead.
		"nocontact.plans.v1.ErasureService.RequestErasure": {attempts: []attempt{
			deniedTo(alCounsellor, pd, fixed("erasure"), clientReq(func(c string) proto.Message {
				return &plansv1.RequestErasureRequest{ClientId: c, SupportTicket: "ZD-1"}
			})),
			deniedTo(alAdmin, pd, fixed("erasure"), clientReq(func(c string) proto.Message { return &plansv1.RequestErasureRequest{ClientId: c} })),
			deniedTo(alStranger, pd, fixed("erasure"), clientReq(func(c string) proto.Message { return &plansv1.RequestErasureRequest{ClientId: c} })),
		}},
		"nocontact.plans.v1.ErasureService.GetErasure": {attempts: []attempt{
			deniedTo(alCounsellor, pd, fixed("erasure"), clientReq(func(c string) proto.Message { return &plansv1.GetErasureRequest{ClientId: c} })),
			allowedBy(alAdmin, nf, fixed("erasure"), clientReq(func(c string) proto.Message { return &plansv1.GetErasureRequest{ClientId: c} })),
			deniedTo(alStranger, pd, fixed("erasure"), clientReq(func(c string) proto.Message { return &plansv1.GetErasureRequest{ClientId: c} })),
		}},

		// JournalService
		"nocontact.journal.v1.JournalService.RecordCheckIn": ownerOnly(fixed("journal/checkins"), clientReq(func(c string) proto.Message {
			return &journalv1.RecordCheckInRequest{ClientId: c, CheckIn: &journalv1.CheckIn{TimeZone: "Europe/Berlin", Mood: 1, Difficulty: 2}}
		})),
		"nocontact.journal.v1.JournalService.ListCheckIns": journalRead("journal/checkins", func(c string) proto.Message { return &journalv1.ListCheckInsRequest{ClientId: c} }),
		"nocontact.journal.v1.JournalService.CreateEntry": ownerOnly(fixed("journal/entries"), clientReq(func(c string) proto.Message {
			return &journalv1.CreateEntryRequest{ClientId: c, Entry: &journalv1.Entry{Kind: journalv1.EntryKind_FREE, TimeZone: "Europe/Berlin", Body: "x"}}
		})),
		"nocontact.journal.v1.JournalService.ListEntries": journalRead("journal/entries", func(c string) proto.Message { return &journalv1.ListEntriesRequest{ClientId: c} }),
		"nocontact.journal.v1.JournalService.GetEntry": {attempts: []attempt{
			allowedBy(alCounsellor, ok, entryRes, func(f *alFixture) proto.Message {
				return &journalv1.GetEntryRequest{ClientId: alClient, EntryId: f.sharedEntry}
			}),
			// A private entry is the client's alone: refused, and logged so.
			deniedTo(alCounsellor, nf, func(f *alFixture) string { return "journal/entry/" + f.privEntry }, func(f *alFixture) proto.Message {
				return &journalv1.GetEntryRequest{ClientId: alClient, EntryId: f.privEntry}
			}),
			deniedTo(alAdmin, nf, entryRes, func(f *alFixture) proto.Message {
				return &journalv1.GetEntryRequest{ClientId: alClient, EntryId: f.sharedEntry}
			}),
			deniedTo(alStranger, nf, entryRes, func(f *alFixture) proto.Message {
				return &journalv1.GetEntryRequest{ClientId: alClient, EntryId: f.sharedEntry}
			}),
		}},
		"nocontact.journal.v1.JournalService.ShareEntry": ownerOnly(func(f *alFixture) string { return "journal/entry/" + f.privEntry }, func(f *alFixture) proto.Message {
			return &journalv1.ShareEntryRequest{ClientId: alClient, EntryId: f.privEntry}
		}),
		"nocontact.journal.v1.JournalService.UnshareEntry": ownerOnly(entryRes, func(f *alFixture) proto.Message {
			return &journalv1.UnshareEntryRequest{ClientId: alClient, EntryId: f.sharedEntry}
		}),
		"nocontact.journal.v1.JournalService.LogUrge": ownerOnly(fixed("journal/urges"), clientReq(func(c string) proto.Message {
			return &journalv1.LogUrgeRequest{ClientId: c, Urge: &journalv1.Urge{Intensity: 3, TimeZone: "Europe/Berlin"}}
		})),
		"nocontact.journal.v1.JournalService.ResolveUrge": ownerOnly(func(f *alFixture) string { return "journal/urge/" + f.urgeID }, func(f *alFixture) proto.Message {
			return &journalv1.ResolveUrgeRequest{ClientId: alClient, UrgeId: f.urgeID, Outcome: journalv1.UrgeOutcome_RESISTED}
		}),
		"nocontact.journal.v1.JournalService.GetInsights": journalRead("journal/insights", func(c string) proto.Message { return &journalv1.GetInsightsRequest{ClientId: c} }),
		"nocontact.journal.v1.JournalService.ListPrompts": {noClient: "the prompt library, the same for everyone"},
		"nocontact.journal.v1.JournalService.GetPromptOfTheDay": ownerOnly(fixed("journal/prompt-of-the-day"), clientReq(func(c string) proto.Message {
			return &journalv1.GetPromptOfTheDayRequest{ClientId: c}
		})),
		"nocontact.journal.v1.JournalService.ListRiskFlags": {attempts: []attempt{
			allowedBy(alCounsellor, ok, fixed("journal/risk-flags"), clientReq(func(c string) proto.Message { return &journalv1.ListRiskFlagsRequest{ClientId: c} })),
			allowedBy(alAdmin, ok, fixed("journal/risk-flags"), clientReq(func(c string) proto.Message { return &journalv1.ListRiskFlagsRequest{ClientId: c} })),
			deniedTo(alStranger, nf, fixed("journal/risk-flags"), clientReq(func(c string) proto.Message { return &journalv1.ListRiskFlagsRequest{ClientId: c} })),
		}},
		"nocontact.journal.v1.JournalService.AcknowledgeRiskFlag": {attempts: func() []attempt {
			req := func(f *alFixture) proto.Message {
				return &journalv1.AcknowledgeRiskFlagRequest{ClientId: alClient, FlagId: f.flagID}
			}
			return []attempt{allowedBy(alAdmin, ok, flagRes, req), allowedBy(alCounsellor, ok, flagRes, req), deniedTo(alStranger, nf, flagRes, req)}
		}()},
		"nocontact.journal.v1.JournalService.ResolveRiskFlag": {attempts: func() []attempt {
			req := func(f *alFixture) proto.Message {
				return &journalv1.ResolveRiskFlagRequest{ClientId: alClient, FlagId: f.flagID}
			}
			return []attempt{deniedTo(alStranger, nf, flagRes, req), allowedBy(alCounsellor, ok, flagRes, req)}
		}()},
		// A batch leaves out a client the caller may not see (OK, no row)
		// and logs the attempt DENIED; an admin sees no health data.
		"nocontact.journal.v1.JournalService.BatchGetJournalSummaries": {attempts: func() []attempt {
			req := clientReq(func(c string) proto.Message {
				return &journalv1.BatchGetJournalSummariesRequest{ClientIds: []string{c}}
			})
			res := fixed("journal/care-summary")
			return []attempt{allowedBy(alCounsellor, ok, res, req), deniedTo(alAdmin, ok, res, req), deniedTo(alStranger, ok, res, req)}
		}()},
		"nocontact.journal.v1.JournalService.GetJournalCareDetail": journalRead("journal/care-detail", func(c string) proto.Message {
			return &journalv1.GetJournalCareDetailRequest{ClientId: c, SlipTimes: []*timestamppb.Timestamp{timestamppb.Now()}}
		}),

		// NotifyService
		"nocontact.notify.v1.NotifyService.ListNotifications":        {noClient: "the caller's own inbox"},
		"nocontact.notify.v1.NotifyService.MarkAllNotificationsRead": {noClient: "the caller's own inbox"},
		"nocontact.notify.v1.NotifyService.StreamNotifications":      {noClient: "the caller's own live feed"},
		"nocontact.notify.v1.NotifyService.MarkNotificationRead": {attempts: func() []attempt {
			res := func(f *alFixture) string { return "notify/notification/" + f.notificationID }
			req := func(f *alFixture) proto.Message {
				return &notifyv1.MarkNotificationReadRequest{NotificationId: f.notificationID}
			}
			return []attempt{deniedTo(alCounsellor, nf, res, req), deniedTo(alAdmin, nf, res, req), deniedTo(alStranger, nf, res, req)}
		}()},
		"nocontact.notify.v1.NotifyService.GetNotificationPreferences": ownerOnly(fixed("notify/notification-preferences"), clientReq(func(c string) proto.Message {
			return &notifyv1.GetNotificationPreferencesRequest{UserId: c}
		})),
		"nocontact.notify.v1.NotifyService.UpdateNotificationPreferences": ownerOnly(fixed("notify/notification-preferences"), clientReq(func(c string) proto.Message {
			return &notifyv1.UpdateNotificationPreferencesRequest{UserId: c, Preferences: &notifyv1.Preferences{DailyCap: 3}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"daily_cap"}}}
		})),
		"nocontact.notify.v1.NotifyService.CreateWebhook": ownerOnly(fixed("notify/webhooks"), clientReq(func(c string) proto.Message {
			return &notifyv1.CreateWebhookRequest{UserId: c, Webhook: &notifyv1.Webhook{Url: "http://127.0.0.1:9/hook"}}
		})),
		"nocontact.notify.v1.NotifyService.ListWebhooks": ownerOnly(fixed("notify/webhooks"), clientReq(func(c string) proto.Message { return &notifyv1.ListWebhooksRequest{UserId: c} })),
		"nocontact.notify.v1.NotifyService.ListWebhookDeliveries": ownerOnly(func(f *alFixture) string { return "notify/webhook/" + f.webhookID }, func(f *alFixture) proto.Message {
			return &notifyv1.ListWebhookDeliveriesRequest{UserId: alClient, WebhookId: f.webhookID}
		}),
		"nocontact.notify.v1.NotifyService.GetNotification": {attempts: func() []attempt {
			res := func(f *alFixture) string { return "notify/notification/" + f.notificationID }
			req := func(f *alFixture) proto.Message {
				return &notifyv1.GetNotificationRequest{NotificationId: f.notificationID}
			}
			return []attempt{deniedTo(alCounsellor, nf, res, req), deniedTo(alAdmin, nf, res, req), deniedTo(alStranger, nf, res, req)}
		}()},
		"nocontact.notify.v1.NotifyService.BatchGetNotificationSummaries": {attempts: func() []attempt {
			res := fixed("notify/notification-summary")
			req := func(*alFixture) proto.Message {
				return &notifyv1.BatchGetNotificationSummariesRequest{ClientIds: []string{alClient}}
			}
			// Left out of the answer, never an error: the call is OK for all.
			return []attempt{allowedBy(alCounsellor, ok, res, req), deniedTo(alAdmin, ok, res, req), deniedTo(alStranger, ok, res, req)}
		}()},
		"nocontact.notify.v1.NotifyService.DeleteWebhook": ownerOnly(webhookRes, func(f *alFixture) proto.Message {
			return &notifyv1.DeleteWebhookRequest{UserId: alClient, WebhookId: f.webhookID}
		}),
		"nocontact.notify.v1.NotifyService.DisableWebhook": ownerOnly(webhookRes, func(f *alFixture) proto.Message {
			return &notifyv1.DisableWebhookRequest{UserId: alClient, WebhookId: f.webhookID}
		}),
		"nocontact.notify.v1.NotifyService.EnableWebhook": ownerOnly(webhookRes, func(f *alFixture) proto.Message {
			return &notifyv1.EnableWebhookRequest{UserId: alClient, WebhookId: f.webhookID}
		}),
		"nocontact.notify.v1.NotifyService.RotateWebhookSecret": ownerOnly(webhookRes, func(f *alFixture) proto.Message {
			return &notifyv1.RotateWebhookSecretRequest{UserId: alClient, WebhookId: f.webhookID}
		}),

		// Export (issue 13): the client's alone, whatever a third party's
		// assignment or consent; refused before the export is looked up.
		"nocontact.plans.v1.ExportService.RequestExport": exportOnly(fixed("exports"), clientReq(func(c string) proto.Message {
			return &plansv1.RequestExportRequest{ClientId: c}
		})),
		"nocontact.plans.v1.ExportService.GetExport": exportOnly(fixed("exports"), clientReq(func(c string) proto.Message {
			return &plansv1.GetExportRequest{ClientId: c, ExportId: "ex-any"}
		})),
		"nocontact.plans.v1.ExportService.GetPlansExportPart": exportOnly(fixed("exports"), clientReq(func(c string) proto.Message {
			return &plansv1.GetPlansExportPartRequest{ClientId: c, ExportId: "ex-any"}
		})),
		"nocontact.journal.v1.JournalExportService.GetJournalExportPart": exportOnly(fixed("journal/exports"), clientReq(func(c string) proto.Message {
			return &journalv1.GetJournalExportPartRequest{ClientId: c, ExportId: "ex-any"}
		})),
		"nocontact.notify.v1.NotifyExportService.GetNotifyExportPart": exportOnly(fixed("notify/exports"), clientReq(func(c string) proto.Message {
			return &notifyv1.GetNotifyExportPartRequest{ClientId: c, ExportId: "ex-any"}
		})),
	}
}

// exportOnly is an export RPC: every third party is refused with
// PermissionDenied (an export is not something a care team or an admin
// may do for a client).
func exportOnly(res func(*alFixture) string, req func(*alFixture) proto.Message) rpcCase {
	pd := codes.PermissionDenied
	return rpcCase{attempts: []attempt{deniedTo(alCounsellor, pd, res, req), deniedTo(alAdmin, pd, res, req), deniedTo(alStranger, pd, res, req)}}
}

// services are every gRPC service of the suite, from their descriptors.
func suiteServices() []protoreflect.ServiceDescriptor {
	var out []protoreflect.ServiceDescriptor
	for _, fd := range []protoreflect.FileDescriptor{
		plansv1.File_nocontact_plans_v1_plans_proto, plansv1.File_nocontact_plans_v1_care_proto, plansv1.File_nocontact_plans_v1_erasure_proto,
		journalv1.File_nocontact_journal_v1_journal_proto, notifyv1.File_nocontact_notify_v1_notify_proto,
		plansv1.File_nocontact_plans_v1_export_proto, journalv1.File_nocontact_journal_v1_export_proto,
		notifyv1.File_nocontact_notify_v1_export_proto,
	} {
		for i := 0; i < fd.Services().Len(); i++ {
			out = append(out, fd.Services().Get(i))
		}
	}
	return out
}

func (f *alFixture) call(actor, method string, req, resp proto.Message) (string, error) {
	f.t.Helper()
	svc := method[1:strings.LastIndex(method, "/")]
	conn := f.conns[svc]
	if conn == nil {
		f.t.Fatalf("no connection for %s", svc)
	}
	reqID := fmt.Sprintf("al-%d", f.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.tokens[actor], "x-request-id", reqID)
	return reqID, conn.Invoke(ctx, method, req, resp)
}

// callStream is call for a server-streaming RPC: it reads the first
// message (or the refusal) into resp.
func (f *alFixture) callStream(actor, method string, req, resp proto.Message) (string, error) {
	f.t.Helper()
	svc := method[1:strings.LastIndex(method, "/")]
	conn := f.conns[svc]
	if conn == nil {
		f.t.Fatalf("no connection for %s", svc)
	}
	reqID := fmt.Sprintf("al-%d", f.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.tokens[actor], "x-request-id", reqID)
	st, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
	if err != nil {
		return reqID, err
	}
	if err := st.SendMsg(req); err != nil {
		return reqID, err
	}
	if err := st.CloseSend(); err != nil {
		return reqID, err
	}
	if err := st.RecvMsg(resp); err != nil && !errors.Is(err, io.EOF) {
		return reqID, err
	}
	return reqID, nil
}

func (f *alFixture) mustCall(actor, method string, req, resp proto.Message) {
	f.t.Helper()
	if _, err := f.call(actor, method, req, resp); err != nil {
		f.t.Fatalf("%s as %s: %v", method, actor, err)
	}
}

// assign makes an active assignment of counsellor to the client (admin).
func (f *alFixture) assign(counsellor string) string {
	var out plansv1.CreateCareAssignmentResponse
	f.mustCall(alAdmin, "/nocontact.plans.v1.CareService/CreateCareAssignment",
		&plansv1.CreateCareAssignmentRequest{CareAssignment: &plansv1.CareAssignment{ClientId: alClient, CounsellorId: counsellor}}, &out)
	return out.GetCareAssignment().GetId()
}

// setUp makes the client's data, as the client, and the care team.
func (f *alFixture) setUp() {
	t := f.t
	var plan plansv1.CreatePlanResponse
	f.mustCall(alClient, "/nocontact.plans.v1.PlansService/CreatePlan", &plansv1.CreatePlanRequest{Plan: &plansv1.Plan{
		TimeZone: "Europe/Berlin", StartTime: timestamppb.New(time.Now().Add(-3 * 24 * time.Hour)),
		Mode:            plansv1.PlanMode_PLAN_MODE_WITH_EXCEPTIONS,
		Reasons:         []string{secret + " reason"},
		Boundaries:      []*plansv1.Boundary{{Kind: plansv1.BoundaryKind_BOUNDARY_KIND_BLOCK_NUMBER, Label: secret + " boundary"}},
		Exceptions:      []*plansv1.ContactException{{Kind: plansv1.ExceptionKind_EXCEPTION_KIND_LOGISTICS, Channel: plansv1.Channel_TEXT, Topic: secret + " topic"}},
		SupportContacts: []*plansv1.SupportContact{{Name: secret + " Sam", Relationship: "sister", Contact: "+49 151 " + secret}},
		Goals:           []*plansv1.Goal{{Text: secret + " goal"}},
		HardDates:       []*plansv1.HardDate{{Label: secret + " day", Month: 9, Day: 14}},
	}}, &plan)
	f.planID = plan.GetPlan().GetId()
	f.mustCall(alClient, "/nocontact.plans.v1.PlansService/ActivatePlan", &plansv1.ActivatePlanRequest{PlanId: f.planID}, &plansv1.ActivatePlanResponse{})
	var ct plansv1.RecordContactResponse
	f.mustCall(alClient, "/nocontact.plans.v1.PlansService/RecordContact", &plansv1.RecordContactRequest{PlanId: f.planID, Contact: &plansv1.Contact{
		Direction: plansv1.ContactDirection_INBOUND, Channel: plansv1.Channel_TEXT, Response: plansv1.ContactResponse_NONE,
		OccurredAt: timestamppb.New(time.Now().Add(-time.Hour)), Note: secret + " note",
	}}, &ct)
	f.contactID = ct.GetContact().GetId()
	var ms plansv1.ListMilestonesResponse
	f.mustCall(alClient, "/nocontact.plans.v1.PlansService/ListMilestones", &plansv1.ListMilestonesRequest{PlanId: f.planID}, &ms)
	for _, m := range ms.GetMilestones() {
		if m.GetStatus() == plansv1.MilestoneStatus_MILESTONE_STATUS_REACHED {
			f.milestoneID = m.GetId()
			break
		}
	}
	if f.milestoneID == "" {
		t.Fatalf("no reached milestone on a plan started 3 days ago: %v", ms.GetMilestones())
	}

	f.assignmentID = f.assign(alCounsellor)
	for _, s := range []plansv1.ConsentScope{plansv1.ConsentScope_PLAN_PROGRESS, plansv1.ConsentScope_MOOD_INSIGHTS, plansv1.ConsentScope_SHARED_JOURNAL, plansv1.ConsentScope_RISK_ALERTS} {
		f.mustCall(alClient, "/nocontact.plans.v1.CareService/GrantConsent", &plansv1.GrantConsentRequest{ClientId: alClient, Scope: s}, &plansv1.GrantConsentResponse{})
	}

	entry := func(body string) string {
		var out journalv1.CreateEntryResponse
		f.mustCall(alClient, "/nocontact.journal.v1.JournalService/CreateEntry", &journalv1.CreateEntryRequest{ClientId: alClient, Entry: &journalv1.Entry{
			Kind: journalv1.EntryKind_FREE, TimeZone: "Europe/Berlin", Body: body,
		}}, &out)
		return out.GetEntry().GetId()
	}
	f.privEntry = entry(secret + " private entry")
	f.sharedEntry = entry(secret + " shared entry")
	f.mustCall(alClient, "/nocontact.journal.v1.JournalService/ShareEntry", &journalv1.ShareEntryRequest{ClientId: alClient, EntryId: f.sharedEntry}, &journalv1.ShareEntryResponse{})
	var urge journalv1.LogUrgeResponse
	f.mustCall(alClient, "/nocontact.journal.v1.JournalService/LogUrge", &journalv1.LogUrgeRequest{ClientId: alClient, Urge: &journalv1.Urge{Intensity: 10, TimeZone: "Europe/Berlin"}}, &urge)
	f.urgeID = urge.GetUrge().GetId()
	// The flag is raised by the journal's risk consumer from the urge's
	// event: wait for it.
	var flags journalv1.ListRiskFlagsResponse
	eventually(t, 20*time.Second, func() string {
		f.mustCall(alClient, "/nocontact.journal.v1.JournalService/ListRiskFlags", &journalv1.ListRiskFlagsRequest{ClientId: alClient}, &flags)
		if len(flags.GetRiskFlags()) == 0 {
			return "an urge of 10 raised no risk flag"
		}
		return ""
	})
	f.flagID = flags.GetRiskFlags()[0].GetId()
	var hook notifyv1.CreateWebhookResponse
	f.mustCall(alClient, "/nocontact.notify.v1.NotifyService/CreateWebhook", &notifyv1.CreateWebhookRequest{UserId: alClient, Webhook: &notifyv1.Webhook{
		Url: "http://127.0.0.1:9/hook",
	}}, &hook)
	f.webhookID = hook.GetWebhook().GetId()

	// The journal learns of the care team from the plans events, and
	// notify makes the client's notifications from them: wait for both.
	eventually(t, 20*time.Second, func() string {
		if _, err := f.call(alCounsellor, "/nocontact.journal.v1.JournalService/ListRiskFlags", &journalv1.ListRiskFlagsRequest{ClientId: alClient}, &journalv1.ListRiskFlagsResponse{}); err != nil {
			return "the journal never let the consented counsellor in: " + err.Error()
		}
		if _, err := f.call(alCounsellor, "/nocontact.journal.v1.JournalService/ListEntries", &journalv1.ListEntriesRequest{ClientId: alClient}, &journalv1.ListEntriesResponse{}); err != nil {
			return "the journal never let the consented counsellor in: " + err.Error()
		}
		var n notifyv1.ListNotificationsResponse
		if _, err := f.call(alClient, "/nocontact.notify.v1.NotifyService/ListNotifications", &notifyv1.ListNotificationsRequest{}, &n); err != nil || len(n.GetNotifications()) == 0 {
			return fmt.Sprintf("the client has no notification yet (%v)", err)
		}
		f.notificationID = n.GetNotifications()[0].GetId()
		return ""
	})
}

// accessLog reads the client's whole access log, by request id.
func (f *alFixture) accessLog() map[string][]*plansv1.AccessLogEntry {
	out := map[string][]*plansv1.AccessLogEntry{}
	token := ""
	for {
		var page plansv1.ListAccessLogResponse
		f.mustCall(alClient, "/nocontact.plans.v1.CareService/ListAccessLog", &plansv1.ListAccessLogRequest{ClientId: alClient, PageSize: 100, PageToken: token}, &page)
		for _, e := range page.GetEntries() {
			out[e.GetRequestId()] = append(out[e.GetRequestId()], e)
		}
		if token = page.GetNextPageToken(); token == "" {
			return out
		}
	}
}

type expectation struct {
	method, actor, resource, reqID string
	allowed                        bool
}

func TestAccessLogRecordsEveryAttemptOnEveryRPC(t *testing.T) {
	s := startSuite(t)
	f := &alFixture{t: t, conns: map[string]*grpc.ClientConn{}, tokens: map[string]string{}}
	for svc, addr := range map[string]string{
		"nocontact.plans.v1.PlansService":           s.stack.PlansAddr,
		"nocontact.plans.v1.CareService":            s.stack.PlansAddr,
		"nocontact.plans.v1.ErasureService":         s.stack.PlansAddr,
		"nocontact.journal.v1.JournalService":       s.stack.JournalAddr,
		"nocontact.notify.v1.NotifyService":         s.stack.NotifyAddr,
		"nocontact.plans.v1.ExportService":          s.stack.PlansAddr,
		"nocontact.journal.v1.JournalExportService": s.stack.JournalAddr,
		"nocontact.notify.v1.NotifyExportService":   s.stack.NotifyAddr,
	} {
		// At NOCONTACT_REPLICAS > 1 an address lists every replica.
		target, list := grpcclient.ListTarget(addr)
		conn, err := grpc.NewClient(target, append(list, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultServiceConfig(grpcclient.RoundRobin))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		f.conns[svc] = conn
	}
	roles := map[string]auth.Role{alClient: auth.RoleClient, alAdmin: auth.RoleAdmin, alCounsellor: auth.RoleCounsellor, alStranger: auth.RoleCounsellor,
		"al-counsellor-join": auth.RoleCounsellor}
	for actor, role := range roles {
		f.tokens[actor] = token(t, actor, role)
	}
	f.setUp()

	// An admin manages the care team from counts: the plan's contact count,
	// never the contact log.
	var adminPlan plansv1.GetPlanResponse
	f.mustCall(alAdmin, "/nocontact.plans.v1.PlansService/GetPlan", &plansv1.GetPlanRequest{PlanId: f.planID}, &adminPlan)
	if adminPlan.GetPlan().GetContactCount() != 1 || len(adminPlan.GetPlan().GetReasons()) != 0 {
		t.Errorf("admin's plan = %v, want status with contact_count 1 and no reasons", adminPlan.GetPlan())
	}
	if len(adminPlan.GetPlan().GetHardDates()) != 0 {
		t.Errorf("admin's plan shows hard dates: %v", adminPlan.GetPlan().GetHardDates())
	}
	// The consented counsellor sees the client's hard dates as they see
	// the goals: in the client's words.
	var counsellorPlan plansv1.GetPlanResponse
	f.mustCall(alCounsellor, "/nocontact.plans.v1.PlansService/GetPlan", &plansv1.GetPlanRequest{PlanId: f.planID}, &counsellorPlan)
	if hd := counsellorPlan.GetPlan().GetHardDates(); len(hd) != 1 || hd[0].GetLabel() != secret+" day" || hd[0].GetMonth() != 9 || hd[0].GetDay() != 14 {
		t.Errorf("counsellor's hard dates = %v, want the client's one", hd)
	}

	doc, err := os.ReadFile("../docs/access-log.md")
	if err != nil {
		t.Errorf("the table of what each RPC logs: %v", err)
	}
	cases := accessLogCases()
	seen := map[string]bool{}
	var want []expectation
	for _, sd := range suiteServices() {
		for i := 0; i < sd.Methods().Len(); i++ {
			md := sd.Methods().Get(i)
			full := string(md.FullName())
			seen[full] = true
			if !strings.Contains(string(doc), "`"+string(md.Name())+"`") {
				t.Errorf("docs/access-log.md does not list %s", full)
			}
			c, ok := cases[full]
			if !ok {
				t.Errorf("%s is not in this test's table: say what it logs (or that it names no client)", full)
				continue
			}
			if c.noClient != "" {
				if len(c.attempts) > 0 {
					t.Errorf("%s names no client but has attempts", full)
				}
				continue
			}
			if len(c.attempts) == 0 {
				t.Errorf("%s names a client but the table tries no third party", full)
			}
			var anyDenied bool
			for _, a := range c.attempts {
				anyDenied = anyDenied || !a.allowed
				if a.setup != nil {
					a.setup(f)
				}
				method := "/" + string(sd.FullName()) + "/" + string(md.Name())
				resp := messageOf(t, md.Output())
				call := f.call
				if md.IsStreamingServer() {
					call = f.callStream
				}
				reqID, err := call(a.actor, method, a.req(f), resp)
				if got := status.Code(err); got != a.wantCode {
					t.Errorf("%s as %s = %v (%v), want %v", full, a.actor, got, err, a.wantCode)
				}
				if a.actor == alAdmin && err == nil {
					if js := protojson.Format(resp); strings.Contains(js, secret) {
						t.Errorf("%s answered an admin with the client's own words: %s", full, js)
					}
				}
				want = append(want, expectation{method: string(md.Name()), actor: a.actor, resource: a.resource(f), reqID: reqID, allowed: a.allowed})
			}
			if !anyDenied {
				t.Errorf("%s: the table tries no denied third party", full)
			}
		}
	}
	for name := range cases {
		if !seen[name] {
			t.Errorf("the table names %s, which no service has", name)
		}
	}

	// The journal's and notify's records reach the plans log through
	// events: wait until every attempt is there, then check each.
	var log map[string][]*plansv1.AccessLogEntry
	eventually(t, 20*time.Second, func() string {
		log = f.accessLog()
		missing := 0
		for _, w := range want {
			if len(log[w.reqID]) == 0 {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Sprintf("%d of %d attempts have no access-log entry", missing, len(want))
		}
		return ""
	})
	for _, w := range want {
		entries := log[w.reqID]
		wantOutcome := plansv1.AccessOutcome_ACCESS_OUTCOME_DENIED
		if w.allowed {
			wantOutcome = plansv1.AccessOutcome_ACCESS_OUTCOME_ALLOWED
		}
		if len(entries) != 1 {
			t.Errorf("%s by %s (%s): %d access-log entries, want 1 %v", w.method, w.actor, w.reqID, len(entries), wantOutcome)
			continue
		}
		e := entries[0]
		if e.GetOutcome() != wantOutcome || e.GetActorId() != w.actor || e.GetAction() != w.method || e.GetResource() != w.resource {
			t.Errorf("%s by %s: logged {actor %s, action %s, resource %s, %v}, want {%s, %s, %s, %v}",
				w.method, w.actor, e.GetActorId(), e.GetAction(), e.GetResource(), e.GetOutcome(), w.actor, w.method, w.resource, wantOutcome)
		}
	}
}

func messageOf(t *testing.T, md protoreflect.MessageDescriptor) proto.Message {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		t.Fatalf("no Go type for %s: %v", md.FullName(), err)
	}
	return mt.New().Interface()
}
