package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/sealcodec"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// PlanStore keeps each plan, with the summary of its contact log and its
// milestone records, as one document (every change is one version-checked
// write that also carries its events, see docstore), and the contact log
// in its own collection, one document per contact.
//
// The plan document is where a change of the log is committed: a write
// that logs, corrects or voids a contact stores the summary, the events and
// the changed contacts (pending_contacts) in one document write; the store
// then copies the pending contacts into the contacts collection (each copy
// guarded by the contact's rev, so an older copy never overwrites a newer
// one) and clears them from the plan. A crash between the two leaves the
// contacts pending in the plan: the next read of the plan (Get) or the next
// write (Update) copies them first, so the log heals itself and nothing
// ever derives from a half-written change (docs/decisions.md, 2026-12-03).
// Plan documents that still hold the log as an array (`contacts`, before
// the move) are moved the same way when first read or written.
type PlanStore struct {
	plans    *docstore.Store[plan.Plan]
	contacts *mongo.Collection
	// sealed seals the contacts' notes (the plans' free text is sealed by
	// the plans store's codec).
	sealed *sealcodec.Codec
	hooks  Hooks
}

// Hooks let tests stop a write between its steps.
type Hooks struct {
	// AfterPlanWrite runs once a plan write that changed contacts is
	// stored, before the contacts are copied into their collection; an
	// error stops there (as a crash would) and is returned.
	AfterPlanWrite func() error
	// BeforePlanWrite runs in a write once the change is made, before the
	// version-checked write of the plan.
	BeforePlanWrite func()
	// BeforeHeal runs when a read or a write has found contacts left
	// pending by an earlier write, before it copies them.
	BeforeHeal func()
}

func (s *PlanStore) beforeHeal() {
	if h := s.hooks.BeforeHeal; h != nil {
		h()
	}
}

// NewPlanStore returns the plan store over the plans and contacts
// collections, with every free-text field sealed by keys (SealedPaths);
// kick wakes the relay.
func NewPlanStore(plans, contacts *mongo.Collection, keys *fieldcrypt.Keyring, kick func()) *PlanStore {
	return &PlanStore{
		plans:    sealcodec.Sealed(docstore.New[plan.Plan](plans, kick), keys, sealcodec.Spec{Collection: plans.Name(), Paths: SealedPaths[CollPlans], Erased: erased}),
		contacts: contacts,
		sealed:   sealcodec.New(keys, sealcodec.Spec{Collection: contacts.Name(), Paths: SealedPaths[CollContacts], Erased: erased}),
	}
}

// Reseal re-encrypts the plans and contacts not all under their client's
// current key (docstore.Reseal: idempotent, resumable, safe beside every
// other write); run it after a RotateDEK. opts.After resumes the plans'
// scan only (contacts' ids are of another form); opts.BeforeWrite is for
// tests.
func (s *PlanStore) Reseal(ctx context.Context, opts docstore.ResealOptions) (plans, contacts docstore.ResealResult, err error) {
	if plans, err = s.plans.Reseal(ctx, opts); err != nil {
		return plans, contacts, err
	}
	if err := s.ownContacts(ctx, opts.Batch); err != nil {
		return plans, contacts, err
	}
	opts.After = ""
	contacts, err = docstore.Reseal(ctx, s.contacts, s.sealed, opts)
	return plans, contacts, err
}

// ownContacts gives every contact stored before notes were sealed (no
// client_id, a plaintext note) its plan's client id, so that Reseal can
// seal its note with that client's keyset. Each write is conditioned on
// the field still missing (idempotent, and a copy written meanwhile,
// which has the id, is left alone); contacts of a plan that is gone are
// skipped.
func (s *PlanStore) ownContacts(ctx context.Context, batch int) error {
	if batch <= 0 {
		batch = 100
	}
	after := ""
	for {
		cur, err := s.contacts.Find(ctx,
			bson.D{{Key: "client_id", Value: bson.D{{Key: "$exists", Value: false}}}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}},
			options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(batch)).SetProjection(bson.D{{Key: "plan_id", Value: 1}}))
		if err != nil {
			return fmt.Errorf("contacts without a client: %w", err)
		}
		var docs []struct {
			ID     string `bson:"_id"`
			PlanID string `bson:"plan_id"`
		}
		if err := cur.All(ctx, &docs); err != nil {
			return fmt.Errorf("contacts without a client: %w", err)
		}
		ids := make([]string, 0, len(docs))
		for _, d := range docs {
			ids = append(ids, d.PlanID)
		}
		owners := map[string]string{}
		if len(ids) > 0 {
			pc, err := s.plans.Collection().Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, options.Find().SetProjection(bson.D{{Key: "client_id", Value: 1}}))
			if err != nil {
				return fmt.Errorf("owners of contacts: %w", err)
			}
			var ps []struct {
				ID       string `bson:"_id"`
				ClientID string `bson:"client_id"`
			}
			if err := pc.All(ctx, &ps); err != nil {
				return fmt.Errorf("owners of contacts: %w", err)
			}
			for _, p := range ps {
				owners[p.ID] = p.ClientID
			}
		}
		for _, d := range docs {
			after = d.ID
			if owners[d.PlanID] == "" {
				continue
			}
			if _, err := s.contacts.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "client_id", Value: bson.D{{Key: "$exists", Value: false}}}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "client_id", Value: owners[d.PlanID]}}}}); err != nil {
				return fmt.Errorf("own contact %s: %w", d.ID, err)
			}
		}
		if len(docs) < batch {
			return nil
		}
	}
}

// WithHooks sets test hooks.
func (s *PlanStore) WithHooks(h Hooks) *PlanStore { s.hooks = h; return s }

// Collection is the plans collection.
func (s *PlanStore) Collection() *mongo.Collection { return s.plans.Collection() }

// contactDoc is a contact as stored in the contacts collection.
type contactDoc struct {
	ID     string `bson:"_id"`
	PlanID string `bson:"plan_id"`
	// ClientID owns the keyset the note is sealed with (contacts from
	// before the note was sealed have none, and a plaintext note).
	ClientID     string `bson:"client_id,omitempty"`
	plan.Contact `bson:",inline"`
}

func contactKey(planID, contactID string) string { return planID + "/" + contactID }

// Create inserts a new plan with its first events.
func (s *PlanStore) Create(ctx context.Context, id string, p plan.Plan, events ...outbox.Message) error {
	return s.plans.Create(ctx, id, p, events...)
}

// CreateOnce inserts a new plan under a request id (docstore.CreateOnce):
// a retry of the same request answers the stored plan (its summary; a log
// from before the move is summarised, not moved, here), another request
// under the id is refused.
func (s *PlanStore) CreateOnce(ctx context.Context, id, requestHash string, p plan.Plan, events ...outbox.Message) (plan.Plan, bool, error) {
	stored, created, err := s.plans.CreateOnce(ctx, id, requestHash, p, events...)
	if err == nil && !created {
		stored.MoveLegacyContacts()
		stored.PendingContacts = nil
	}
	return stored, created, err
}

// Get returns the plan and its version. A plan with contacts pending (a
// write that stopped before copying them) or with a log from before the
// move is healed first.
func (s *PlanStore) Get(ctx context.Context, id string) (plan.Plan, int64, error) {
	p, v, err := s.plans.Get(ctx, id)
	if err != nil {
		return p, v, err
	}
	moved := p.MoveLegacyContacts()
	if moved || len(p.PendingContacts) > 0 {
		s.beforeHeal()
		if err := s.settle(ctx, id, &p, bson.E{Key: outbox.FieldVersion, Value: v}); err != nil {
			return plan.Plan{}, 0, err
		}
	}
	return p, v, nil
}

// Update reads the plan, copies contacts left pending by an earlier write,
// applies fn and stores the plan under its version (docstore.Update, which
// retries on a conflict), then copies the contacts fn changed.
func (s *PlanStore) Update(ctx context.Context, id string, fn func(*plan.Plan) ([]outbox.Message, error)) (plan.Plan, error) {
	token := ""
	p, err := s.plans.Update(ctx, id, func(p *plan.Plan) ([]outbox.Message, error) {
		p.MoveLegacyContacts()
		if len(p.PendingContacts) > 0 {
			// Copied before this write drops them from the plan: whatever
			// the plan committed is in the collection first.
			s.beforeHeal()
			if err := s.copyContacts(ctx, p.ClientID, id, p.PendingContacts); err != nil {
				return nil, err
			}
			p.PendingContacts, p.PendingToken = nil, ""
		}
		p.Contacts = nil
		events, err := fn(p)
		if err != nil {
			return nil, err
		}
		p.Contacts = nil // the working set is never stored
		if h := s.hooks.BeforePlanWrite; h != nil {
			h()
		}
		token = ""
		if len(p.PendingContacts) > 0 {
			token = uuid.NewString()
			p.PendingToken = token
		}
		return events, nil
	})
	if err != nil || token == "" {
		return p, err
	}
	if h := s.hooks.AfterPlanWrite; h != nil {
		if err := h(); err != nil {
			return plan.Plan{}, err
		}
	}
	// The change is committed: a failure to copy now is healed by the next
	// read or write, so it is not the caller's error.
	_ = s.settle(ctx, id, &p, bson.E{Key: "pending_token", Value: token})
	return p, nil
}

// settle copies p's pending contacts into the collection and then clears
// them from the stored plan, with the summary as p has it, if the stored
// plan still matches cond (the version read, or the token of the write).
// The version is not bumped: what is written is a function of that very
// version's content, so a writer that read it and writes over it loses
// nothing.
func (s *PlanStore) settle(ctx context.Context, id string, p *plan.Plan, cond bson.E) error {
	if err := s.copyContacts(ctx, p.ClientID, id, p.PendingContacts); err != nil {
		return err
	}
	p.PendingContacts, p.PendingToken = nil, ""
	_, err := s.plans.Collection().UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, cond}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "slips", Value: p.Slips}, {Key: "contact_count", Value: p.ContactCount}, {Key: "contact_seq", Value: p.ContactSeq}}},
		{Key: "$unset", Value: bson.D{{Key: "pending_contacts", Value: ""}, {Key: "pending_token", Value: ""}, {Key: "contacts", Value: ""}}},
	})
	if err != nil {
		return fmt.Errorf("settle plans/%s: %w", id, err)
	}
	return nil
}

// copyContacts writes each contact unless the collection holds the same or
// a newer revision of it: idempotent, and safe when two replicas copy
// different revisions in either order.
func (s *PlanStore) copyContacts(ctx context.Context, clientID, planID string, cs []plan.Contact) error {
	for _, c := range cs {
		id := contactKey(planID, c.ID)
		doc, err := s.sealed.Encode(ctx, id, contactDoc{ID: id, PlanID: planID, ClientID: clientID, Contact: c})
		if err != nil {
			return err
		}
		if c.Rev <= 1 {
			// A contact as logged: nothing older can be stored, so an
			// insert is the whole copy (one point write; FerretDB would
			// scan the collection for the guarded replace).
			if _, err := s.contacts.InsertOne(ctx, doc); err != nil && !mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("copy contact %s: %w", id, err)
			}
			continue
		}
		older := bson.D{{Key: "_id", Value: id}, {Key: "rev", Value: bson.D{{Key: "$lt", Value: c.Rev}}}}
		for try := 0; ; try++ {
			res, err := s.contacts.ReplaceOne(ctx, older, doc)
			if err != nil {
				return fmt.Errorf("copy contact %s: %w", id, err)
			}
			if res.MatchedCount == 1 || try == 1 {
				break // written, or the stored one is at least as new
			}
			_, err = s.contacts.InsertOne(ctx, doc)
			if err == nil {
				break
			}
			if !mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("copy contact %s: %w", id, err)
			}
			// Someone stored it meanwhile: replace it if it is older.
		}
	}
	return nil
}

// ImportContacts inserts contacts of a plan that the contacts collection
// does not hold yet, in bulk: a data load (such as the benchmarks' plans
// with 10,000 contacts) whose plan document already summarises them.
func (s *PlanStore) ImportContacts(ctx context.Context, clientID, planID string, cs []plan.Contact) error {
	const batch = 1000
	for len(cs) > 0 {
		n := min(batch, len(cs))
		docs := make([]any, n)
		for i, c := range cs[:n] {
			id := contactKey(planID, c.ID)
			doc, err := s.sealed.Encode(ctx, id, contactDoc{ID: id, PlanID: planID, ClientID: clientID, Contact: c})
			if err != nil {
				return err
			}
			docs[i] = doc
		}
		if _, err := s.contacts.InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("import contacts of %s: %w", planID, err)
		}
		cs = cs[n:]
	}
	return nil
}

// Contact returns one contact of a plan.
func (s *PlanStore) Contact(ctx context.Context, planID, contactID string) (plan.Contact, bool, error) {
	var doc contactDoc
	raw, err := s.contacts.FindOne(ctx, bson.D{{Key: "_id", Value: contactKey(planID, contactID)}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return plan.Contact{}, false, nil
	}
	if err != nil {
		return plan.Contact{}, false, fmt.Errorf("get contact %s/%s: %w", planID, contactID, err)
	}
	if err := s.sealed.Decode(ctx, raw, &doc); err != nil {
		return plan.Contact{}, false, err
	}
	return doc.Contact, true, nil
}

// contactsPage is the query of ListContacts (its keys are a hot query).
func contactsPage(planID string, beforeSeq int64) (filter, sort bson.D) {
	filter = bson.D{{Key: "plan_id", Value: planID}}
	if beforeSeq > 0 {
		filter = append(filter, bson.E{Key: "seq", Value: bson.D{{Key: "$lt", Value: beforeSeq}}})
	}
	return filter, bson.D{{Key: "seq", Value: -1}}
}

// ListContacts lists up to limit contacts of a plan logged before the one
// numbered beforeSeq (0: from the newest), newest first. Served by the
// plan_seq index.
func (s *PlanStore) ListContacts(ctx context.Context, planID string, beforeSeq int64, limit int) ([]plan.Contact, error) {
	filter, sort := contactsPage(planID, beforeSeq)
	cur, err := s.contacts.Find(ctx, filter, options.Find().SetSort(sort).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list contacts of %s: %w", planID, err)
	}
	docs, err := s.decodeContacts(ctx, cur)
	if err != nil {
		return nil, fmt.Errorf("list contacts of %s: %w", planID, err)
	}
	out := make([]plan.Contact, len(docs))
	for i := range docs {
		out[i] = docs[i].Contact
	}
	return out, nil
}

// decodeContacts opens every contact of cur: all of them, or an error.
func (s *PlanStore) decodeContacts(ctx context.Context, cur *mongo.Cursor) ([]contactDoc, error) {
	defer cur.Close(ctx)
	var docs []contactDoc
	for cur.Next(ctx) {
		var d contactDoc
		if err := s.sealed.Decode(ctx, cur.Current, &d); err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	return docs, cur.Err()
}

// ListByClient lists a client's plans, newest first (their summaries; a
// log from before the move is summarised, not moved, here).
func (s *PlanStore) ListByClient(ctx context.Context, clientID string, skip, limit int) ([]plan.Plan, error) {
	list, err := s.plans.Find(ctx, bson.D{{Key: "client_id", Value: clientID}}, options.Find().
		SetSort(bson.D{{Key: "create_time", Value: -1}, {Key: "_id", Value: 1}}).
		SetSkip(int64(skip)).SetLimit(int64(limit)))
	for i := range list {
		list[i].MoveLegacyContacts()
		list[i].PendingContacts = nil
	}
	return list, err
}

// ListByClients lists the plans of several clients in one query, each
// client's newest first (the roster's plans part).
func (s *PlanStore) ListByClients(ctx context.Context, clientIDs []string) ([]plan.Plan, error) {
	if len(clientIDs) == 0 {
		return nil, nil
	}
	list, err := s.plans.Find(ctx, bson.D{{Key: "client_id", Value: bson.D{{Key: "$in", Value: clientIDs}}}}, options.Find().
		SetSort(bson.D{{Key: "client_id", Value: 1}, {Key: "create_time", Value: -1}, {Key: "_id", Value: 1}}))
	for i := range list {
		list[i].MoveLegacyContacts()
		list[i].PendingContacts = nil
	}
	return list, err
}

// ContactsSince lists the contacts of several plans that occurred at or
// after since, in one query (not voided ones only), without their notes:
// the roster reads when and what, never the client's words, so nothing is
// decrypted for it.
func (s *PlanStore) ContactsSince(ctx context.Context, planIDs []string, since time.Time) ([]plan.PlanContact, error) {
	if len(planIDs) == 0 {
		return nil, nil
	}
	cur, err := s.contacts.Find(ctx, bson.D{
		{Key: "plan_id", Value: bson.D{{Key: "$in", Value: planIDs}}},
		{Key: "occurred_at", Value: bson.D{{Key: "$gte", Value: since}}},
	}, options.Find().SetProjection(bson.D{{Key: "note", Value: 0}}))
	if err != nil {
		return nil, fmt.Errorf("recent contacts: %w", err)
	}
	docs, err := s.decodeContacts(ctx, cur)
	if err != nil {
		return nil, fmt.Errorf("recent contacts: %w", err)
	}
	out := make([]plan.PlanContact, 0, len(docs))
	for _, d := range docs {
		if !d.Voided {
			out = append(out, plan.PlanContact{PlanID: d.PlanID, Contact: d.Contact})
		}
	}
	return out, nil
}

// ClaimDue leases the longest overdue active plan with something due at
// or before now that no scheduler holds (docstore.Claim); ErrNotFound when
// there is none. Served by the status_due_claim index.
func (s *PlanStore) ClaimDue(ctx context.Context, now time.Time, lease time.Duration) (string, error) {
	return s.plans.Claim(ctx,
		bson.D{{Key: "status", Value: string(plan.StatusActive)}, {Key: "next_due_time", Value: bson.D{{Key: "$lte", Value: now}}}},
		bson.D{{Key: "next_due_time", Value: 1}}, now, lease)
}
