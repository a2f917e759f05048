//! The sandbox over real HTTP on port 0: the contract of CARRIER.md, the simulated clock, the control
//! API, and each injected fault as a raw client sees it. No test sleeps: time moves by `advance`.

use std::collections::HashSet;
use std::time::Duration;

use carrier_sandbox::{
    Fault, OrderRequest, Sandbox, SandboxConfig, SandboxHandle, Scope, Script, check_digit,
};
use chrono::DateTime;
use serde_json::{Value, json};

const DAY: Duration = Duration::from_secs(24 * 3600);

async fn start() -> SandboxHandle {
    start_with(SandboxConfig {
        start_time: DateTime::from_timestamp(1_795_000_000, 0),
        ..SandboxConfig::default()
    })
    .await
}

async fn start_with(config: SandboxConfig) -> SandboxHandle {
    Sandbox::start(config).await.expect("sandbox starts")
}

async fn token(client: &reqwest::Client, sandbox: &SandboxHandle) -> String {
    let res = client
        .post(format!("{}/token", sandbox.base_url()))
        .basic_auth(
            &sandbox.config().consumer_key,
            Some(&sandbox.config().consumer_secret),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token request");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("token json");
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 3600);
    body["accessToken"].as_str().expect("token").to_owned()
}

async fn get(client: &reqwest::Client, url: String, token: &str) -> reqwest::Response {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

async fn feed(
    client: &reqwest::Client,
    s: &SandboxHandle,
    tok: &str,
    after: i64,
    size: u32,
) -> Value {
    let res = get(
        client,
        format!(
            "{}/order/tracking?pagesize={size}&lastId={after}",
            s.base_url()
        ),
        tok,
    )
    .await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("feed json")
}

fn order_json(number: &str) -> Value {
    json!({"customerCode": "DOSSIER", "orderNumber": number, "codAmount": 0,
        "senderName": "Nguyễn Văn A", "senderAddress": "1 Tràng Tiền", "senderProvince": "01",
        "senderWard": "00070", "senderTel": "0912345678", "senderEmail": "a@example.vn",
        "receiverName": "Bộ phận một cửa", "receiverAddress": "2 Lý Thái Tổ", "receiverProvince": "79",
        "receiverWard": "26734", "receiverTel": "0283", "receiverEmail": "",
        "senderDesc": "Hồ sơ TTHC 1.001612", "description": "Hồ sơ"})
}

async fn post_order(client: &reqwest::Client, s: &SandboxHandle, tok: &str, body: &Value) -> Value {
    let res = client
        .post(format!("{}/order/post", s.base_url()))
        .bearer_auth(tok)
        .json(body)
        .send()
        .await
        .expect("order request");
    assert_eq!(res.status(), 200);
    res.json().await.expect("order json")
}

fn valid_s10(code: &str) -> bool {
    let b = code.as_bytes();
    if b.len() != 13 {
        return false;
    }
    let serial: u32 = code[2..10].parse().expect("digits");
    u32::from(b[10] - b'0') == u32::from(check_digit(serial))
}

#[tokio::test]
async fn tokens_need_the_consumer_credentials_and_every_call_needs_a_live_token() {
    let s = start().await;
    let client = reqwest::Client::new();
    let wrong = client
        .post(format!("{}/token", s.base_url()))
        .basic_auth("sandbox-key", Some("wrong"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), 401);
    let url = format!("{}/order/tracking?pagesize=10&lastId=0", s.base_url());
    assert_eq!(
        client.get(&url).send().await.expect("request").status(),
        401
    );
    let tok = token(&client, &s).await;
    assert_eq!(get(&client, url.clone(), &tok).await.status(), 200);
    assert_eq!(get(&client, url.clone(), "made-up").await.status(), 401);
    s.revoke_tokens();
    assert_eq!(get(&client, url, &tok).await.status(), 401);
    let stats = s.stats();
    assert_eq!(stats.token, 2);
    assert_eq!(stats.unauthorized, 4);
}

#[tokio::test]
async fn orders_are_idempotent_on_order_number_and_keep_or_allocate_valid_labels() {
    let s = start().await;
    let client = reqwest::Client::new();
    let tok = token(&client, &s).await;

    let mut with_label = order_json("000.00.01.H29-260310-0420-I");
    with_label["itemCode"] = json!("eb000717595vn");
    let first = post_order(&client, &s, &tok, &with_label).await;
    assert_eq!(first["status"], "00");
    assert_eq!(first["itemCode"], "EB000717595VN");
    with_label["receiverName"] = json!("changed");
    assert_eq!(post_order(&client, &s, &tok, &with_label).await, first);

    let allocated = post_order(&client, &s, &tok, &order_json("X-2-O")).await;
    assert_eq!(allocated["status"], "00");
    let code = allocated["itemCode"].as_str().expect("allocated label");
    assert!(valid_s10(code), "{code} has a valid check digit");
    assert_eq!(
        post_order(&client, &s, &tok, &order_json("X-2-O")).await,
        allocated
    );

    let mut missing = order_json("X-3-O");
    missing["receiverAddress"] = Value::Null;
    let refused = post_order(&client, &s, &tok, &missing).await;
    assert_eq!(refused["status"], "01");
    assert!(
        refused["message"]
            .as_str()
            .expect("message")
            .contains("receiverAddress")
    );
    // One phone is enough (an agency's desk may have none on file); none at all is refused.
    let mut one_phone = order_json("X-3b-O");
    one_phone["senderTel"] = json!("");
    assert_eq!(
        post_order(&client, &s, &tok, &one_phone).await["status"],
        "00"
    );
    let mut no_phone = order_json("X-3c-O");
    no_phone["senderTel"] = Value::Null;
    no_phone["receiverTel"] = json!(" ");
    let refused = post_order(&client, &s, &tok, &no_phone).await;
    assert_eq!(refused["status"], "01");
    assert!(
        refused["message"]
            .as_str()
            .expect("message")
            .contains("receiverTel")
    );

    let mut bad_label = order_json("X-4-O");
    bad_label["itemCode"] = json!("EB000717594VN");
    assert_eq!(
        post_order(&client, &s, &tok, &bad_label).await["status"],
        "02"
    );

    let mut reused = order_json("X-5-O");
    reused["itemCode"] = json!("EB000717595VN");
    assert_eq!(post_order(&client, &s, &tok, &reused).await["status"], "04");

    let mut stranger = order_json("X-6-O");
    stranger["customerCode"] = json!("SOMEONE");
    assert_eq!(
        post_order(&client, &s, &tok, &stranger).await["status"],
        "03"
    );
    assert_eq!(s.world_stats().orders, 3);
}

#[tokio::test]
async fn parcels_move_through_realistic_codes_only_as_time_advances() {
    let s = start().await;
    let client = reqwest::Client::new();
    let tok = token(&client, &s).await;
    post_order(&client, &s, &tok, &order_json("D-1-O")).await;
    assert_eq!(feed(&client, &s, &tok, 0, 100).await["content"], json!([]));

    s.advance(Duration::from_secs(3600));
    let early = feed(&client, &s, &tok, 0, 100).await;
    assert_eq!(early["content"][0]["statusCode"], 6);
    assert_eq!(early["content"][0]["statusMessage"], "Đã nhận hàng");

    s.advance(10 * DAY);
    let page = feed(&client, &s, &tok, 0, 100).await;
    let content = page["content"].as_array().expect("content");
    let codes: Vec<i64> = content
        .iter()
        .map(|r| r["statusCode"].as_i64().expect("code"))
        .collect();
    assert_eq!(codes.first(), Some(&6));
    assert_eq!(codes.last(), Some(&14));
    assert!(codes.contains(&7) && codes.contains(&10) && codes.contains(&12));
    for r in content {
        let keys: HashSet<&str> = r
            .as_object()
            .expect("record")
            .keys()
            .map(String::as_str)
            .collect();
        let expected: HashSet<&str> = [
            "id",
            "customerCode",
            "orderNumber",
            "itemCode",
            "eventTime",
            "posId",
            "statusCode",
            "statusMessage",
            "notes",
        ]
        .into();
        assert_eq!(keys, expected);
        let time = r["eventTime"].as_str().expect("time");
        assert!(time.ends_with("+07:00"), "{time}");
        assert!(DateTime::parse_from_rfc3339(time).is_ok());
        assert_eq!(r["customerCode"], "DOSSIER");
        assert_eq!(r["posId"].as_str().map(str::len), Some(6));
    }
    let per_order = get(
        &client,
        format!(
            "{}/order/tracking?customerCode=DOSSIER&orderNumber=D-1-O",
            s.base_url()
        ),
        &tok,
    )
    .await
    .json::<Value>()
    .await
    .expect("json");
    assert_eq!(per_order["content"], page["content"]);
    let foreign = get(
        &client,
        format!(
            "{}/order/tracking?customerCode=OTHER&orderNumber=D-1-O",
            s.base_url()
        ),
        &tok,
    )
    .await
    .json::<Value>()
    .await
    .expect("json");
    assert_eq!(foreign["content"], json!([]));
}

#[tokio::test]
async fn feed_pages_ascend_within_the_page_size_and_last_id_follows_the_contract() {
    let s = start().await;
    s.bulk_orders(40, "P-", None);
    s.advance(10 * DAY);
    let client = reqwest::Client::new();
    let tok = token(&client, &s).await;
    let total = s.records().len();
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = feed(&client, &s, &tok, after, 7).await;
        let ids: Vec<i64> = page["content"]
            .as_array()
            .expect("content")
            .iter()
            .map(|r| r["id"].as_i64().expect("id"))
            .collect();
        assert!(ids.len() <= 7);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.iter().all(|&id| id > after));
        let last = page["lastId"].as_i64().expect("lastId");
        if ids.is_empty() {
            assert_eq!(last, after, "an empty page keeps the cursor");
            break;
        }
        assert_eq!(Some(&last), ids.last());
        seen.extend(ids);
        after = last;
    }
    assert_eq!(seen.len(), total);
    assert_eq!(
        seen,
        (1..=i64::try_from(total).expect("fits")).collect::<Vec<_>>()
    );
    let huge = feed(&client, &s, &tok, 0, 1_000_000).await;
    assert_eq!(
        huge["content"].as_array().map(Vec::len),
        Some(total.min(1000))
    );
    let bad = get(
        &client,
        format!("{}/order/tracking?pagesize=0", s.base_url()),
        &tok,
    )
    .await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_world() {
    let config = || SandboxConfig {
        seed: 99,
        start_time: DateTime::from_timestamp(1_795_000_000, 0),
        delivery_failure_rate: 0.5,
        ..SandboxConfig::default()
    };
    let (a, b) = (start_with(config()).await, start_with(config()).await);
    for s in [&a, &b] {
        s.bulk_orders(25, "S-", None);
        s.advance(2 * DAY);
        s.advance(10 * DAY);
    }
    assert_eq!(a.records(), b.records());
    assert!(
        a.records().iter().any(|r| r.status_code == 15),
        "some deliveries fail"
    );
}

#[tokio::test]
async fn scripted_paths_and_unknown_codes_come_through_the_control_api() {
    let s = start().await;
    let client = reqwest::Client::new();
    let control = |path: &str| format!("{}/_sandbox{path}", s.base_url());
    let created: Value = client
        .post(control("/orders/bulk"))
        .json(
            &json!({"count": 3, "prefix": "C-", "script": {"codes": [6, 7, 10], "everySecs": 60}}),
        )
        .send()
        .await
        .expect("bulk")
        .json()
        .await
        .expect("json");
    assert_eq!(created["orders"].as_array().map(Vec::len), Some(3));
    let res = client
        .put(control("/orders/C-0000002/script"))
        .json(&json!({"steps": [{"statusCode": 12, "afterSecs": 3600}, {"statusCode": 15, "afterSecs": 600},
            {"statusCode": 12, "afterSecs": 86400}, {"statusCode": 99, "afterSecs": 60, "notes": "kiểm tra"},
            {"statusCode": 14, "afterSecs": 60}]}))
        .send()
        .await
        .expect("script");
    assert_eq!(res.status(), 204);
    let missing = client
        .put(control("/orders/NOPE/script"))
        .json(&json!({"codes": [14], "everySecs": 1}))
        .send()
        .await
        .expect("script");
    assert_eq!(missing.status(), 404);
    let clock: Value = client
        .post(control("/clock/advance"))
        .json(&json!({"seconds": 3 * 86400}))
        .send()
        .await
        .expect("advance")
        .json()
        .await
        .expect("json");
    assert!(clock["now"].as_str().expect("now").ends_with("+07:00"));
    let codes: Vec<i32> = s
        .order_records("C-0000002")
        .iter()
        .map(|r| r.status_code)
        .collect();
    assert_eq!(codes, vec![12, 15, 12, 99, 14]);
    let unknown = s.order_records("C-0000002")[3].clone();
    assert_eq!(&*unknown.status_message, "Cập nhật trạng thái");
    assert_eq!(&*unknown.notes, "kiểm tra");
    assert_eq!(s.order_records("C-0000001").len(), 3);

    let stats: Value = client
        .get(control("/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["world"]["orders"], 3);
    assert_eq!(stats["world"]["records"], 11);
    assert_eq!(stats["carrierRequests"], 0);
    assert_eq!(stats["requests"]["control"], 5);
}

#[tokio::test]
async fn request_failures_hit_the_next_calls_in_scope_then_stop() {
    let s = start().await;
    let client = reqwest::Client::new();
    let tok = token(&client, &s).await;
    let url = format!("{}/order/tracking?pagesize=10&lastId=0", s.base_url());

    s.inject(Fault::TooManyRequests {
        times: 1,
        retry_after_secs: 7,
        scope: Scope::Tracking,
    });
    let limited = get(&client, url.clone(), &tok).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(
        limited
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );

    s.inject(Fault::ServerError {
        times: 2,
        status: 503,
        scope: Scope::Orders,
    });
    assert_eq!(
        get(&client, url.clone(), &tok).await.status(),
        200,
        "not in scope"
    );
    for _ in 0..2 {
        let res = client
            .post(format!("{}/order/post", s.base_url()))
            .bearer_auth(&tok)
            .json(&order_json("F-1-O"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 503);
    }

    s.inject(Fault::ConnectionReset {
        times: 1,
        scope: Scope::Any,
    });
    let reset = client.get(&url).bearer_auth(&tok).send().await;
    assert!(reset.is_err(), "the connection closes without an answer");

    s.inject(Fault::SlowAnswer {
        times: 1,
        delay_ms: 2_000,
        scope: Scope::Any,
    });
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let slow = impatient.get(&url).bearer_auth(&tok).send().await;
    assert!(slow.expect_err("times out").is_timeout());

    assert_eq!(get(&client, url, &tok).await.status(), 200, "all spent");
    let stats = s.stats();
    assert_eq!(stats.failures_injected, 5);
    assert_eq!(stats.tracking_feed, 5);
    assert_eq!(stats.order_post, 2);
    assert_eq!(stats.token, 1);
    assert_eq!(stats.carrier_requests(), 8);
    s.reset_stats();
    assert_eq!(s.stats().carrier_requests(), 0);
}

#[tokio::test]
async fn duplicate_records_repeat_ids_within_and_across_pages() {
    let s = start().await;
    s.bulk_orders(10, "U-", None);
    s.advance(10 * DAY);
    let client = reqwest::Client::new();
    let tok = token(&client, &s).await;
    let first = feed(&client, &s, &tok, 0, 10).await;
    let last = first["lastId"].as_i64().expect("lastId");
    s.inject(Fault::DuplicateRecords { pages: 1 });
    let page = feed(&client, &s, &tok, last, 10).await;
    let ids: Vec<i64> = page["content"]
        .as_array()
        .expect("content")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids[0], last, "the previous page's last record again");
    assert_eq!(ids[1], ids[2], "a record twice within the page");
    assert_eq!(page["lastId"].as_i64(), ids.iter().max().copied());
    let next = feed(&client, &s, &tok, last, 10).await;
    let again: Vec<i64> = next["content"]
        .as_array()
        .expect("content")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert!(again.windows(2).all(|w| w[0] < w[1]), "one page only");
}

#[tokio::test]
async fn out_of_order_times_unknown_items_and_late_records_shape_the_feed() {
    let s = start().await;
    s.bulk_orders(5, "Q-", None);
    s.advance(Duration::from_secs(3600));
    s.inject(Fault::OutOfOrderTimes { records: 3 });
    s.advance(10 * DAY);
    let records = s.records();
    let mut backwards = 0;
    for order in [
        "Q-0000001",
        "Q-0000002",
        "Q-0000003",
        "Q-0000004",
        "Q-0000005",
    ] {
        let times: Vec<_> = records
            .iter()
            .filter(|r| &*r.order_number == order)
            .map(|r| r.event_time)
            .collect();
        backwards += times.windows(2).filter(|w| w[1] < w[0]).count();
    }
    assert!(backwards >= 3, "later ids with earlier times: {backwards}");

    let unknown = s.inject(Fault::UnknownItems { records: 4 });
    assert_eq!(unknown.len(), 4);
    assert!(unknown.iter().any(|r| &*r.customer_code != "DOSSIER"));
    assert!(unknown.iter().any(|r| r.order_number.is_empty()));
    assert!(unknown.iter().all(|r| valid_s10(&r.item_code)));

    let client = reqwest::Client::new();
    let tok = token(&client, &s).await;
    let cursor = feed(&client, &s, &tok, 0, 1000).await["lastId"]
        .as_i64()
        .expect("lastId");
    s.inject(Fault::LateRecords { records: 1 });
    s.create_order(
        &OrderRequest {
            customer_code: Some("DOSSIER".into()),
            order_number: Some("LATE-1-O".into()),
            sender_name: Some("A".into()),
            sender_address: Some("B".into()),
            sender_province: Some("01".into()),
            sender_tel: Some("1".into()),
            receiver_name: Some("C".into()),
            receiver_address: Some("D".into()),
            receiver_province: Some("01".into()),
            receiver_tel: Some("2".into()),
            ..OrderRequest::default()
        },
        None,
    );
    s.advance(10 * DAY);
    assert_eq!(s.world_stats().held_records, 1);
    let page = feed(&client, &s, &tok, cursor, 1000).await;
    let served = page["lastId"].as_i64().expect("lastId");
    assert_eq!(
        page["content"][0]["id"].as_i64(),
        Some(cursor + 2),
        "the first new id is held back"
    );
    assert!(
        feed(&client, &s, &tok, served, 1000).await["content"]
            .as_array()
            .expect("content")
            .is_empty()
    );
    assert_eq!(
        s.world_stats().held_records,
        0,
        "released once ids above it were served"
    );
    let overlap = feed(&client, &s, &tok, cursor, 1).await;
    assert_eq!(
        overlap["content"][0]["id"].as_i64(),
        Some(cursor + 1),
        "visible below the cursor"
    );
}

#[tokio::test]
async fn a_hundred_thousand_orders_are_created_and_delivered_fast() {
    let s = start().await;
    let started = std::time::Instant::now();
    let created = s.bulk_orders(100_000, "B-", None);
    assert_eq!(created.len(), 100_000);
    assert!(created.iter().all(|(_, item)| valid_s10(item)));
    s.advance(15 * DAY);
    let stats = s.world_stats();
    assert_eq!(stats.scheduled_events, 0);
    assert!(stats.records >= 500_000, "{stats:?}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[tokio::test]
async fn a_dropped_handle_stops_the_server() {
    let s = start().await;
    let url = format!("{}/token", s.base_url());
    s.shutdown().await;
    let client = reqwest::Client::new();
    assert!(client.post(url).send().await.is_err());
    let other = start().await;
    let addr = other.base_url();
    drop(other);
    let mut stopped = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if client.post(format!("{addr}/token")).send().await.is_err() {
            stopped = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(stopped);
}

#[test]
fn scripts_read_from_both_json_shapes() {
    let steps: Script =
        serde_json::from_value(json!({"steps": [{"statusCode": 12}]})).expect("steps");
    assert_eq!(steps.steps[0].status_code, 12);
    assert_eq!(
        Script::every(Duration::from_secs(60), &[12, 14])
            .steps
            .len(),
        2
    );
}

#[tokio::test]
async fn records_missing_from_the_feed_are_found_by_reading_their_order() {
    let s = start().await;
    s.bulk_orders(
        2,
        "M-",
        Some(&Script::every(Duration::from_secs(60), &[6, 7])),
    );
    s.inject(Fault::MissingFromFeed { records: 2 });
    s.advance(Duration::from_secs(3600));
    let client = reqwest::Client::new();
    let tok = token(&client, &s).await;

    let page = feed(&client, &s, &tok, 0, 1000).await;
    let served: Vec<i64> = page["content"]
        .as_array()
        .expect("content")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(s.records().len(), 4, "the carrier has every record");
    assert_eq!(served.len(), 2, "the feed lost two: {served:?}");
    assert_eq!(page["lastId"].as_i64(), Some(4), "its cursor passes them");

    let mut by_order = Vec::new();
    for order in ["M-0000001", "M-0000002"] {
        let answer: Value = get(
            &client,
            format!(
                "{}/order/tracking?customerCode=DOSSIER&orderNumber={order}",
                s.base_url()
            ),
            &tok,
        )
        .await
        .json()
        .await
        .expect("json");
        by_order.extend(
            answer["content"]
                .as_array()
                .expect("content")
                .iter()
                .map(|r| r["id"].as_i64().expect("id")),
        );
    }
    by_order.sort_unstable();
    assert_eq!(by_order, vec![1, 2, 3, 4], "per-order reads see them all");
}

#[tokio::test]
async fn pace_moves_parcels_faster_with_real_event_times() {
    let paced = start_with(SandboxConfig {
        start_time: DateTime::from_timestamp(1_795_000_000, 0),
        pace: 60.0,
        ..SandboxConfig::default()
    })
    .await;
    let normal = start().await;
    for s in [&paced, &normal] {
        s.bulk_orders(20, "P-", None);
        s.advance(Duration::from_secs(3 * 3600));
    }
    let delivered = |s: &SandboxHandle| s.records().iter().filter(|r| r.status_code == 14).count();
    assert_eq!(
        delivered(&paced),
        20,
        "three hours at pace 60 are days of a parcel's path"
    );
    assert_eq!(delivered(&normal), 0);
    let start = DateTime::from_timestamp(1_795_000_000, 0).expect("time");
    assert!(
        paced
            .records()
            .iter()
            .all(|r| r.event_time <= start + chrono::Duration::hours(3)),
        "event times are the simulated clock's, not pushed ahead"
    );
}
