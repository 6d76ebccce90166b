package mongodb

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ReviewStore keeps each counsellor's latest review mark per client: one
// document per (counsellor, client), whose time only ever moves forward.
type ReviewStore struct {
	coll *mongo.Collection
	// BeforeMark, when set, runs before a mark is written (tests use it to
	// let another replica's mark land first).
	BeforeMark func()
}

// NewReviewStore returns the store over the reviews collection.
func NewReviewStore(coll *mongo.Collection) *ReviewStore { return &ReviewStore{coll: coll} }

type reviewDoc struct {
	ID           string    `bson:"_id"`
	CounsellorID string    `bson:"counsellor_id"`
	ClientID     string    `bson:"client_id"`
	ReviewTime   time.Time `bson:"review_time"`
}

// reviewID is the document id of a (counsellor, client) pair; user ids
// never contain '|' (their charset is documented), so ids cannot collide.
func reviewID(counsellorID, clientID string) string { return counsellorID + "|" + clientID }

// Mark records that counsellorID reviewed clientID at t and answers the
// stored time: the later of t and any mark already there ($max), so two
// replicas marking at once, in any order, keep the latest. An upsert that
// loses the insert race to another replica (E11000 on MongoDB) is retried
// as a plain update of the document the other one inserted.
func (s *ReviewStore) Mark(ctx context.Context, counsellorID, clientID string, t time.Time) (time.Time, error) {
	if s.BeforeMark != nil {
		s.BeforeMark()
	}
	id := reviewID(counsellorID, clientID)
	update := bson.D{
		{Key: "$max", Value: bson.D{{Key: "review_time", Value: t}}},
		{Key: "$set", Value: bson.D{{Key: "counsellor_id", Value: counsellorID}, {Key: "client_id", Value: clientID}}},
	}
	_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, update, options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		_, err = s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, update)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("mark reviewed: %w", err)
	}
	var doc reviewDoc
	if err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		return time.Time{}, fmt.Errorf("read review mark: %w", err)
	}
	return doc.ReviewTime, nil
}

// Latest answers counsellorID's marks for the clients, in one query
// (clients never marked are absent).
func (s *ReviewStore) Latest(ctx context.Context, counsellorID string, clientIDs []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if len(clientIDs) == 0 {
		return out, nil
	}
	cur, err := s.coll.Find(ctx, bson.D{
		{Key: "counsellor_id", Value: counsellorID},
		{Key: "client_id", Value: bson.D{{Key: "$in", Value: clientIDs}}},
	})
	if err != nil {
		return nil, fmt.Errorf("review marks: %w", err)
	}
	var docs []reviewDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("review marks: %w", err)
	}
	for _, d := range docs {
		out[d.ClientID] = d.ReviewTime
	}
	return out, nil
}
