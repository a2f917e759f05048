//! The change feed `GET /api/v1/events?after=&limit=`: every timeline event exactly once, in commit
//! order, for admin keys (all) and agency keys (their own agency's), even while concurrent writers
//! commit out of id order and one transaction holds its event open across the consumer's reads.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use entity::enums::{EventKind, EventSource, Role};
use entity::{dossier, dossier_event};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};
use tests::{TestApp, error_of, valid_request};

use crate::postal::{OFFICE, expect_error, json_of, picked_up, post, scan_id, vn_time};

/// How long a consumer waits for events other transactions (on the same PostgreSQL server) hold back.
const DEADLINE: Duration = Duration::from_secs(60);

/// `GET /api/v1/events` with optional `after` and `limit` (sent as given).
async fn events(
    app: &TestApp,
    bearer: Option<&str>,
    after: Option<&str>,
    limit: Option<&str>,
) -> reqwest::Response {
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(after) = after {
        query.push(("after", after));
    }
    if let Some(limit) = limit {
        query.push(("limit", limit));
    }
    let mut req = app.client.get(app.url("/api/v1/events")).query(&query);
    if let Some(bearer) = bearer {
        req = req.bearer_auth(bearer);
    }
    req.send().await.expect("request")
}

/// A feed consumer that pages with `after=` and remembers everything it was given.
struct Consumer {
    key: String,
    after: Option<String>,
    seen: Vec<Value>,
    limit: u32,
}

impl Consumer {
    fn new(key: &str, limit: u32) -> Self {
        Self {
            key: key.to_owned(),
            after: None,
            seen: Vec::new(),
            limit,
        }
    }

    /// Reads one page; returns how many events it held.
    async fn page(&mut self, app: &TestApp) -> usize {
        let limit = self.limit.to_string();
        let page = json_of(
            events(app, Some(&self.key), self.after.as_deref(), Some(&limit)).await,
            200,
        )
        .await;
        let batch = page["events"].as_array().expect("events").clone();
        let next = page["next_cursor"]
            .as_str()
            .expect("next_cursor")
            .to_owned();
        assert!(batch.len() <= self.limit as usize);
        match batch.last() {
            Some(last) => assert_eq!(last["cursor"].as_str(), Some(next.as_str())),
            None => {
                if let Some(after) = &self.after {
                    assert_eq!(&next, after, "an empty page keeps the cursor");
                }
            }
        }
        self.after = Some(next);
        let n = batch.len();
        self.seen.extend(batch);
        n
    }

    /// Pages until it has seen `total` events (other transactions on the server may hold some back
    /// for a moment), then checks that nothing more comes.
    async fn read_until(&mut self, app: &TestApp, total: usize) {
        let started = Instant::now();
        while self.seen.len() < total {
            assert!(
                started.elapsed() < DEADLINE,
                "saw {} of {total} events",
                self.seen.len()
            );
            if self.page(app).await == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        assert_eq!(self.page(app).await, 0, "more events than were written");
        assert_eq!(self.seen.len(), total);
    }

    /// `(dossier code, kind)` of every event seen, counted.
    fn tally(&self) -> BTreeMap<(String, String), usize> {
        let mut tally = BTreeMap::new();
        for e in &self.seen {
            let key = (
                e["dossier_code"].as_str().expect("dossier_code").to_owned(),
                e["kind"].as_str().expect("kind").to_owned(),
            );
            *tally.entry(key).or_default() += 1;
        }
        tally
    }

    /// Every cursor handed out is different (no event came twice).
    fn assert_no_repeats(&self) {
        let cursors: HashSet<&str> = self
            .seen
            .iter()
            .map(|e| e["cursor"].as_str().expect("cursor"))
            .collect();
        assert_eq!(cursors.len(), self.seen.len(), "an event came twice");
    }
}

/// `(dossier code, kind)` of every stored event (of one agency's dossiers when given), counted.
async fn stored_tally(app: &TestApp, agency: Option<&str>) -> BTreeMap<(String, String), usize> {
    let rows = dossier_event::Entity::find()
        .find_also_related(dossier::Entity)
        .all(&app.store.read)
        .await
        .expect("events");
    let mut tally = BTreeMap::new();
    for (event, d) in rows {
        let d = d.expect("dossier");
        if agency.is_some_and(|a| a != d.agency_code) {
            continue;
        }
        *tally
            .entry((d.code, event.kind.as_str().to_owned()))
            .or_default() += 1;
    }
    tally
}

/// Creates a pickup request for `agency` and returns its code and access token.
async fn request_for(app: &TestApp, agency: &str) -> (String, String) {
    let mut body = valid_request();
    body["agency_code"] = json!(agency);
    let res = app.post_dossier(&body).await;
    let created = json_of(res, 201).await;
    (
        created["code"].as_str().expect("code").to_owned(),
        created["access_token"].as_str().expect("token").to_owned(),
    )
}

/// A citizen's request, then cancelled by the citizen: two events, two transactions.
async fn request_and_cancel(app: &TestApp) {
    let (code, token) = request_for(app, "UBND-P-HOANKIEM").await;
    let res = app.cancel(&code, Some(&token)).await;
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

/// A pickup and a departure scan sent as a batch (the bulk insert path).
async fn picked_up_and_departed(app: &TestApp, postal: &str) {
    let (_, item) = picked_up(app, postal).await;
    let batch = json!({"scans": [{
        "scan_id": scan_id(),
        "item_code": item,
        "event": "departed",
        "at": vn_time(TimeDelta::seconds(-1)),
    }]});
    let res = json_of(
        post(app, "/api/v1/scans/batch", Some(postal), &batch).await,
        200,
    )
    .await;
    assert_eq!(res["accepted"], 1);
}

/// On PostgreSQL every row carries the id of the transaction that wrote it, from the column default:
/// no insert sends the column (or sends NULL).
async fn assert_stamped_with_their_transaction(app: &TestApp) {
    let rows = dossier_event::Entity::find()
        .all(&app.store.read)
        .await
        .expect("events");
    for row in rows {
        if tests::test_database_url().is_some() {
            assert!(
                row.txid.is_some_and(|t| t > 0),
                "event {} has txid {:?}",
                row.id,
                row.txid
            );
        } else {
            assert_eq!(row.txid, None);
        }
    }
}

#[tokio::test]
async fn the_feed_hands_out_every_event_once_page_by_page() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    for _ in 0..3 {
        request_and_cancel(&app).await;
    }
    picked_up_and_departed(&app, &postal).await;
    let total = usize::try_from(app.event_count().await).expect("count");
    assert!(total >= 9);

    let mut consumer = Consumer::new(&admin, 2);
    consumer.read_until(&app, total).await;
    consumer.assert_no_repeats();
    assert_eq!(consumer.tally(), stored_tally(&app, None).await);
    let first = &consumer.seen[0];
    assert_eq!(first["kind"], "requested");
    assert_eq!(first["status"], "pickup_requested");
    assert_eq!(first["source"], "api");
    assert!(first["at"].as_str().expect("at").ends_with("+07:00"));
    assert_stamped_with_their_transaction(&app).await;

    // New events come after the cursor; the old ones are not handed out again.
    request_and_cancel(&app).await;
    consumer.read_until(&app, total + 2).await;
    consumer.assert_no_repeats();

    // Without `after`, the feed starts over; the default page is 100 events.
    let page = json_of(events(&app, Some(&admin), None, None).await, 200).await;
    assert_eq!(
        page["events"].as_array().expect("events").len(),
        (total + 2).min(100)
    );
}

#[tokio::test]
async fn an_agency_key_reads_only_its_own_agencys_events_and_others_none() {
    let app = TestApp::spawn().await;
    let hoan_kiem = app.key(Role::Agency, None, Some("UBND-P-HOANKIEM")).await;
    let ba_dinh = app.key(Role::Agency, None, Some("UBND-P-BADINH")).await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    let (mine, token) = request_for(&app, "UBND-P-HOANKIEM").await;
    let (theirs, _) = request_for(&app, "UBND-P-BADINH").await;
    request_and_cancel(&app).await;

    let own = stored_tally(&app, Some("UBND-P-HOANKIEM")).await;
    let mut consumer = Consumer::new(&hoan_kiem, 1000);
    consumer.read_until(&app, own.values().sum()).await;
    assert_eq!(consumer.tally(), own);
    let codes: HashSet<&str> = consumer
        .seen
        .iter()
        .map(|e| e["dossier_code"].as_str().expect("code"))
        .collect();
    assert!(codes.contains(mine.as_str()));
    assert!(!codes.contains(theirs.as_str()));

    let mut other = Consumer::new(&ba_dinh, 1000);
    other.read_until(&app, 1).await;
    assert_eq!(other.seen[0]["dossier_code"], theirs.as_str());

    for key in [&postal, &token] {
        expect_error(
            events(&app, Some(key), None, None).await,
            403,
            "forbidden",
            &[],
        )
        .await;
    }
    expect_error(
        events(&app, None, None, None).await,
        401,
        "unauthorized",
        &[],
    )
    .await;
}

#[tokio::test]
async fn bad_cursors_and_limits_are_bad_requests() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    app.create_valid_dossier().await;
    for after in [
        "not-a-cursor",
        "AAAA",
        "__________________________",
        "/////",
    ] {
        let res = events(&app, Some(&admin), Some(after), None).await;
        assert_eq!(res.status(), 400, "{after}");
        assert_eq!(error_of(res).await.0, "bad_request");
    }
    for limit in ["0", "1001", "-1", "ten", "1.5"] {
        let res = events(&app, Some(&admin), None, Some(limit)).await;
        assert_eq!(res.status(), 400, "{limit}");
        assert_eq!(error_of(res).await.0, "bad_request");
    }
    for limit in ["1", "1000"] {
        json_of(events(&app, Some(&admin), None, Some(limit)).await, 200).await;
    }
    // A cursor the feed handed out is good, and past the end it stays where it was.
    let mut consumer = Consumer::new(&admin, 1000);
    consumer.read_until(&app, 1).await;
    let cursor = consumer.after.clone().expect("cursor");
    let page = json_of(events(&app, Some(&admin), Some(&cursor), None).await, 200).await;
    assert_eq!(page["events"], json!([]));
    assert_eq!(page["next_cursor"], cursor.as_str());
}

#[tokio::test]
async fn concurrent_writers_and_a_late_commit_are_each_seen_exactly_once() {
    if tests::test_database_url().is_none() {
        // SQLite commits one writer at a time, in id order; the hazard exists on PostgreSQL.
        return;
    }
    let app = Arc::new(TestApp::spawn().await);
    let admin = app.key(Role::Admin, None, None).await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    let (held_code, _) = request_for(&app, "UBND-P-HOANKIEM").await;
    let held_dossier = dossier::Entity::find()
        .filter(dossier::Column::Code.eq(held_code.as_str()))
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("dossier");

    // A transaction takes its event id now and commits only when told to.
    let (inserted_tx, inserted_rx) = tokio::sync::oneshot::channel::<i64>();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let holder = {
        let app = app.clone();
        tokio::spawn(async move {
            let txn = app.store.begin().await.expect("begin");
            let event = dossier_event::ActiveModel {
                dossier_id: Set(held_dossier.id),
                at: Set(Utc::now()),
                kind: Set(EventKind::Overdue),
                source: Set(EventSource::System),
                actor: Set("system".into()),
                recorded_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(&txn)
            .await
            .expect("insert");
            inserted_tx.send(event.id).expect("signal");
            release_rx.await.expect("release");
            txn.commit().await.expect("commit");
        })
    };
    let held_id = inserted_rx.await.expect("inserted");

    // Writers commit events with later ids while it is open.
    let mut writers = Vec::new();
    for w in 0..4 {
        let app = app.clone();
        let postal = postal.clone();
        writers.push(tokio::spawn(async move {
            for _ in 0..3 {
                if w == 0 {
                    picked_up_and_departed(&app, &postal).await;
                } else {
                    request_and_cancel(&app).await;
                }
            }
        }));
    }
    let mut consumer = Consumer::new(&admin, 5);
    while !writers.iter().all(|w| w.is_finished()) {
        consumer.page(&app).await;
    }
    for w in writers {
        w.await.expect("writer");
    }
    for _ in 0..3 {
        consumer.page(&app).await;
    }
    // A reader paging by id would have passed the open transaction's event by now.
    let later_committed = dossier_event::Entity::find()
        .filter(dossier_event::Column::Id.gt(held_id))
        .count(&app.store.read)
        .await
        .expect("count");
    assert!(later_committed > 0, "no event committed after the held one");
    assert!(
        !consumer
            .seen
            .iter()
            .any(|e| e["dossier_code"] != held_code.as_str()),
        "the feed went past a transaction still open"
    );

    release_tx.send(()).expect("release");
    holder.await.expect("holder");
    let total = usize::try_from(app.event_count().await).expect("count");
    consumer.read_until(&app, total).await;
    consumer.assert_no_repeats();
    assert_eq!(consumer.tally(), stored_tally(&app, None).await);
    assert!(
        consumer
            .seen
            .iter()
            .any(|e| e["dossier_code"] == held_code.as_str() && e["kind"] == "overdue"),
        "the late event was skipped"
    );
    assert_stamped_with_their_transaction(&app).await;
}
