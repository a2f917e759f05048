//! The control API under `/_sandbox`, for tests, demos and benchmarks that drive a sandbox in another
//! process (in-process users have the same powers on [`crate::SandboxHandle`]). It needs no token and
//! is never hit by injected failures; bind the sandbox to loopback.
//!
//! - `GET  /_sandbox/stats` — requests served by endpoint, and what the world holds
//! - `POST /_sandbox/stats/reset`
//! - `GET  /_sandbox/clock` — simulated now and speed
//! - `POST /_sandbox/clock/advance` `{"seconds": 3600}`
//! - `POST /_sandbox/clock/speed` `{"speed": 60}`
//! - `POST /_sandbox/faults` — a [`crate::Fault`] as JSON; `DELETE /_sandbox/faults` disarms all
//! - `POST /_sandbox/records/release` — publishes records held by the late-record fault
//! - `POST /_sandbox/orders/bulk` `{"count": 100000, "prefix": "BENCH-", "script": {…}?}`
//! - `PUT  /_sandbox/orders/{orderNumber}/script` — a [`crate::Script`], or `{"codes": [12, 15, 12, 14], "everySecs": 3600}`

use std::sync::Arc;
use std::time::Duration;

use chrono::SecondsFormat;
use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Response, Route, get, handler, post, put};
use serde::Deserialize;

use crate::faults::Fault;
use crate::script::Script;
use crate::server::{Shared, json};
use crate::world::vietnam;

/// The routes, nested under `/_sandbox` by the server.
pub(crate) fn routes() -> Route {
    Route::new()
        .at("/stats", get(stats))
        .at("/stats/reset", post(reset_stats))
        .at("/clock", get(clock))
        .at("/clock/advance", post(advance))
        .at("/clock/speed", post(speed))
        .at("/faults", post(inject).delete(clear_faults))
        .at("/records/release", post(release))
        .at("/orders/bulk", post(bulk))
        .at("/orders/:order_number/script", put(set_script))
}

/// A 400 with a reason.
fn bad(message: impl std::fmt::Display) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({"error": "invalid_request", "error_description": message.to_string()}),
    )
}

#[handler]
async fn stats(shared: Data<&Arc<Shared>>) -> Response {
    let requests = shared.counters.snapshot();
    let world = shared.world().stats();
    let pending = shared.failures().remaining();
    json(
        StatusCode::OK,
        &serde_json::json!({
            "requests": requests,
            "carrierRequests": requests.carrier_requests(),
            "world": world,
            "pendingFailures": pending,
        }),
    )
}

#[handler]
async fn reset_stats(shared: Data<&Arc<Shared>>) -> StatusCode {
    shared.counters.reset();
    StatusCode::NO_CONTENT
}

/// The clock as JSON.
fn clock_body(shared: &Shared) -> Response {
    let world = shared.world();
    json(
        StatusCode::OK,
        &serde_json::json!({
            "now": world.now().with_timezone(&vietnam()).to_rfc3339_opts(SecondsFormat::Secs, false),
            "speed": world.speed(),
        }),
    )
}

#[handler]
async fn clock(shared: Data<&Arc<Shared>>) -> Response {
    clock_body(&shared)
}

#[derive(Deserialize)]
struct AdvanceBody {
    seconds: u64,
}

#[handler]
async fn advance(shared: Data<&Arc<Shared>>, body: poem::Result<Json<AdvanceBody>>) -> Response {
    match body {
        Ok(Json(b)) => {
            shared.world().advance(Duration::from_secs(b.seconds));
            clock_body(&shared)
        }
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
struct SpeedBody {
    speed: f64,
}

#[handler]
async fn speed(shared: Data<&Arc<Shared>>, body: poem::Result<Json<SpeedBody>>) -> Response {
    match body {
        Ok(Json(b)) => {
            shared.world().set_speed(b.speed);
            clock_body(&shared)
        }
        Err(e) => bad(e),
    }
}

#[handler]
async fn inject(shared: Data<&Arc<Shared>>, body: poem::Result<Json<Fault>>) -> Response {
    match body {
        Ok(Json(fault)) => {
            let published = crate::apply_fault(&shared, fault);
            json(
                StatusCode::OK,
                &serde_json::json!({ "published": published }),
            )
        }
        Err(e) => bad(e),
    }
}

#[handler]
async fn clear_faults(shared: Data<&Arc<Shared>>) -> StatusCode {
    shared.failures().clear();
    shared.world().clear_faults();
    StatusCode::NO_CONTENT
}

#[handler]
async fn release(shared: Data<&Arc<Shared>>) -> Response {
    let released = shared.world().release_held(true);
    json(StatusCode::OK, &serde_json::json!({ "released": released }))
}

/// A script as the control API takes it: full steps, or codes at a fixed interval.
#[derive(Deserialize)]
#[serde(untagged)]
enum ScriptBody {
    Steps(Script),
    #[serde(rename_all = "camelCase")]
    Codes {
        codes: Vec<i32>,
        every_secs: u64,
    },
}

impl From<ScriptBody> for Script {
    fn from(body: ScriptBody) -> Script {
        match body {
            ScriptBody::Steps(s) => s,
            ScriptBody::Codes { codes, every_secs } => {
                Script::every(Duration::from_secs(every_secs), &codes)
            }
        }
    }
}

#[derive(Deserialize)]
struct BulkBody {
    count: u32,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    script: Option<ScriptBody>,
}

#[handler]
async fn bulk(shared: Data<&Arc<Shared>>, body: poem::Result<Json<BulkBody>>) -> Response {
    let body = match body {
        Ok(Json(b)) => b,
        Err(e) => return bad(e),
    };
    let script = body.script.map(Script::from);
    let prefix = body.prefix.unwrap_or_else(|| "BULK-".into());
    let created = shared
        .world()
        .create_bulk(body.count, &prefix, script.as_ref());
    let orders: Vec<_> = created
        .into_iter()
        .map(|(order_number, item_code)| {
            serde_json::json!({"orderNumber": order_number, "itemCode": item_code})
        })
        .collect();
    json(StatusCode::OK, &serde_json::json!({ "orders": orders }))
}

#[handler]
async fn set_script(
    shared: Data<&Arc<Shared>>,
    Path(order_number): Path<String>,
    body: poem::Result<Json<ScriptBody>>,
) -> Response {
    let script: Script = match body {
        Ok(Json(b)) => b.into(),
        Err(e) => return bad(e),
    };
    if shared.world().set_script(&order_number, &script) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "not_found", "error_description": "no such order"}),
        )
    }
}
