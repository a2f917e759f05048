//! The HTTP adapter of the carrier contract (CARRIER.md) on `reqwest` with rustls.
//!
//! Every call goes through one loop that survives what real carriers do:
//! - a token from `POST /token` (HTTP Basic), cached and renewed before expiry; one fetch at a time;
//!   a 401 on a call drops the token, fetches a new one and retries that call once;
//! - 429: its `Retry-After` holds off every caller of the adapter (the feed, the quiet parcels, the
//!   orders: the carrier's rate limit is one), up to [`MAX_HOLD_OFF`]; a call waits out a short one
//!   and retries, a longer one ends the call at once with [`CarrierError::RateLimited`], and so does
//!   any call made before it passes — without a request. Loops skip their step meanwhile
//!   ([`Carrier::resting`]); without `Retry-After`, a 429 backs off;
//! - 5xx, 408 and 425 (the carrier's "try again"), timeouts, refused or reset connections:
//!   exponential backoff with jitter;
//! - a bounded number of attempts, then a typed [`CarrierError`];
//! - at most `max_concurrency` requests in flight (a semaphore; no permit is held while waiting).
//!
//! Creating an order is retried like any call: the carrier dedupes on `orderNumber`, so an order whose
//! answer was lost is answered the same the second time. Logs name the call, the attempt and the
//! status; never the token, the secret or a body (bodies hold personal data).

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, StatusCode as HttpStatus, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, Semaphore};

use super::config::{CarrierConfig, RetryPolicy};
use super::error::{CarrierError, carrier_text};
use super::types::{FeedPage, OrderAnswer, OrderRequest, TrackingRecord, read_records};
use super::{Carrier, metric};

/// What the adapter did, for benchmarks and metrics (requests per sync, retries, token churn).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdapterStats {
    /// HTTP requests sent (every attempt, token fetches included).
    pub requests: u64,
    /// Attempts that failed and were retried after a pause.
    pub retries: u64,
    /// Tokens fetched.
    pub token_fetches: u64,
    /// Calls refused with 401 and retried with a fresh token.
    pub token_refreshes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    token_fetches: AtomicU64,
    token_refreshes: AtomicU64,
}

/// A cached access token, as the `Authorization` header it becomes (marked sensitive).
struct AccessToken {
    header: HeaderValue,
    renew_at: Instant,
    generation: u64,
}

/// The answer of `POST /token`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenAnswer {
    #[serde(alias = "access_token")]
    access_token: SecretString,
    #[serde(default, alias = "token_type")]
    token_type: Option<String>,
    #[serde(default, alias = "expires_in")]
    expires_in: Option<serde_json::Value>,
}

/// The answer of `POST /order/post`, before it is judged.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOrderAnswer {
    #[serde(default)]
    status: serde_json::Value,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    order_number: Option<String>,
    #[serde(default)]
    item_code: Option<String>,
}

/// The order as sent: the request plus our customer code.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireOrder<'a> {
    customer_code: &'a str,
    #[serde(flatten)]
    order: &'a OrderRequest,
}

/// One exchange's outcome, before judging.
struct Answer {
    status: HttpStatus,
    retry_after: Option<Duration>,
    body: Vec<u8>,
    /// The body went over [`MAX_ANSWER_BYTES`] and was not read further (`body` is empty).
    too_large: bool,
}

/// The largest answer read from the carrier: a page of the feed or a parcel's history is far smaller,
/// and a bigger answer is a failed call, never a reason to hold the worker's memory.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// The longest a `Retry-After` holds the adapter off: a longer one (or a broken header) is cut to
/// this, so a carrier's mistake cannot stop the worker for days.
pub const MAX_HOLD_OFF: Duration = Duration::from_secs(3600);

/// What to do after an exchange.
enum Verdict {
    Done(Vec<u8>),
    Retry { pause: Duration, reason: String },
    Refresh,
    Fail(CarrierError),
}

/// The VNPost-style carrier over HTTP. Cheap to share (`Arc`); one per process is enough.
pub struct HttpCarrier {
    client: Client,
    token_url: Url,
    order_url: Url,
    tracking_url: Url,
    consumer_key: String,
    consumer_secret: SecretString,
    customer_code: String,
    retry: RetryPolicy,
    refresh_margin: Duration,
    permits: Semaphore,
    token: Mutex<Option<Arc<AccessToken>>>,
    generation: AtomicU64,
    counters: Counters,
    /// No request before this instant: the carrier's last `Retry-After`, shared by every caller.
    not_before: std::sync::Mutex<Option<Instant>>,
}

impl fmt::Debug for HttpCarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCarrier")
            .field("base", &self.token_url.origin().ascii_serialization())
            .field("customer_code", &self.customer_code)
            .finish_non_exhaustive()
    }
}

/// `base` joined with `path`, keeping any path prefix of the base (`…/ngsp` + `token`).
fn endpoint(base: &Url, path: &str) -> Result<Url, CarrierError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let with_slash = format!("{}/", base.path());
        base.set_path(&with_slash);
    }
    base.join(path)
        .map_err(|e| CarrierError::Config(format!("cannot build the {path} URL: {e}")))
}

/// A `Retry-After` in seconds (the HTTP-date form is rare from APIs and falls back to backoff).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

/// Counts a call that failed for good in the metrics, by call and kind.
fn failed(call: &'static str, error: CarrierError) -> CarrierError {
    metrics::counter!(metric::ERRORS, "call" => call, "kind" => error.kind()).increment(1);
    error
}

/// The carrier's own words from an error body, without echoing the body (it may hold personal data).
fn error_detail(body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return format!("{} bytes of non-JSON", body.len());
    };
    ["error_description", "message", "error"]
        .iter()
        .find_map(|k| json.get(k).and_then(|v| v.as_str()))
        .map(carrier_text)
        .unwrap_or_else(|| "no error text".into())
}

impl HttpCarrier {
    /// Builds the adapter; fails on a base URL that is not absolute http(s) or a TLS setup error.
    pub fn new(config: CarrierConfig) -> Result<HttpCarrier, CarrierError> {
        let base = Url::parse(config.base_url.trim())
            .map_err(|e| CarrierError::Config(format!("carrier base URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(CarrierError::Config(
                "carrier base URL must be http or https".into(),
            ));
        }
        if config.max_concurrency == 0 {
            return Err(CarrierError::Config(
                "max_concurrency must be at least 1".into(),
            ));
        }
        let client = Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("dossier-worker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CarrierError::Config(format!("HTTP client: {e}")))?;
        Ok(HttpCarrier {
            token_url: endpoint(&base, "token")?,
            order_url: endpoint(&base, "order/post")?,
            tracking_url: endpoint(&base, "order/tracking")?,
            client,
            consumer_key: config.consumer_key,
            consumer_secret: config.consumer_secret,
            customer_code: config.customer_code,
            retry: config.retry,
            refresh_margin: config.token_refresh_margin,
            permits: Semaphore::new(config.max_concurrency),
            token: Mutex::new(None),
            generation: AtomicU64::new(0),
            counters: Counters::default(),
            not_before: std::sync::Mutex::new(None),
        })
    }

    /// What the adapter did so far.
    pub fn stats(&self) -> AdapterStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        AdapterStats {
            requests: get(&self.counters.requests),
            retries: get(&self.counters.retries),
            token_fetches: get(&self.counters.token_fetches),
            token_refreshes: get(&self.counters.token_refreshes),
        }
    }

    /// Holds every caller off for `wait` (at most [`MAX_HOLD_OFF`]) from now, unless already held
    /// off longer.
    fn hold_off(&self, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_HOLD_OFF);
        let mut slot = self
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *slot = Some(slot.map_or(until, |t| t.max(until)));
    }

    /// How long until the carrier may be called again, if it asked to be left alone.
    pub fn held_off_for(&self) -> Option<Duration> {
        let slot = self
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slot.and_then(|t| t.checked_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }

    /// Before an attempt: waits out a hold-off no longer than a call waits for `Retry-After`; a
    /// longer one ends the call at once, without a request.
    async fn respect_hold_off(
        &self,
        call: &'static str,
        attempts: u32,
    ) -> Result<(), CarrierError> {
        let Some(wait) = self.held_off_for() else {
            return Ok(());
        };
        if wait > self.retry.max_retry_after {
            return Err(failed(
                call,
                CarrierError::RateLimited {
                    attempts,
                    retry_after: Some(wait),
                },
            ));
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Sends one request under a concurrency permit and reads its whole body.
    async fn exchange(&self, request: RequestBuilder) -> Result<Answer, reqwest::Error> {
        // The semaphore lives as long as `self` and is never closed, so acquire cannot fail; if it
        // ever did, sending without a permit is better than failing the call.
        let _permit = self.permits.acquire().await.ok();
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let response = request.send().await?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let mut response = response;
        let declared = response.content_length().unwrap_or(0);
        let mut body =
            Vec::with_capacity(usize::try_from(declared).unwrap_or(0).min(MAX_ANSWER_BYTES));
        let mut too_large = declared > MAX_ANSWER_BYTES as u64;
        while !too_large && let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                too_large = true;
            } else {
                body.extend_from_slice(&chunk);
            }
        }
        if too_large {
            body = Vec::new();
        }
        Ok(Answer {
            status,
            retry_after,
            body,
            too_large,
        })
    }

    /// Decides what follows an exchange, attempt `attempt` of a call (`bearer`: not a token fetch).
    fn judge(
        &self,
        attempt: u32,
        outcome: Result<Answer, reqwest::Error>,
        bearer: bool,
    ) -> Verdict {
        let last = attempt >= self.retry.max_attempts;
        let answer = match outcome {
            Ok(answer) => answer,
            Err(error) => {
                if last {
                    return Verdict::Fail(if error.is_timeout() {
                        CarrierError::Timeout {
                            attempts: attempt,
                            source: error,
                        }
                    } else {
                        CarrierError::Network {
                            attempts: attempt,
                            source: error,
                        }
                    });
                }
                let reason = if error.is_timeout() {
                    "timeout"
                } else if error.is_connect() {
                    "connect"
                } else {
                    "connection"
                };
                return Verdict::Retry {
                    pause: self.retry.backoff(attempt),
                    reason: reason.into(),
                };
            }
        };
        let status = answer.status;
        if answer.too_large {
            return Verdict::Fail(CarrierError::Decode(format!(
                "the answer (HTTP {}) is larger than {} MiB",
                status.as_u16(),
                MAX_ANSWER_BYTES / (1024 * 1024)
            )));
        }
        if status.is_success() {
            return Verdict::Done(answer.body);
        }
        if !bearer && matches!(status.as_u16(), 400 | 401 | 403) {
            return Verdict::Fail(CarrierError::Credentials {
                status: status.as_u16(),
            });
        }
        if status == HttpStatus::UNAUTHORIZED {
            return Verdict::Refresh;
        }
        if status == HttpStatus::TOO_MANY_REQUESTS {
            if let Some(asked) = answer.retry_after {
                // Every caller waits, not only this one: the rate limit is the carrier's, for us all.
                self.hold_off(asked);
            }
            let fail = |retry_after| {
                Verdict::Fail(CarrierError::RateLimited {
                    attempts: attempt,
                    retry_after,
                })
            };
            return match answer.retry_after {
                _ if last => fail(answer.retry_after.map(|d| d.min(MAX_HOLD_OFF))),
                // Longer than a call waits: the call ends, and the hold-off keeps every caller away.
                Some(asked) if asked > self.retry.max_retry_after => {
                    fail(Some(asked.min(MAX_HOLD_OFF)))
                }
                Some(asked) => Verdict::Retry {
                    pause: asked,
                    reason: "429".into(),
                },
                None => Verdict::Retry {
                    pause: self.retry.backoff(attempt),
                    reason: "429".into(),
                },
            };
        }
        // 408 Request Timeout and 425 Too Early say "the same request again, later" (RFC 9110, RFC
        // 8470): transient like a 5xx. 409 is not: CARRIER.md answers a repeated order the same, so
        // a conflict is the carrier's refusal of this request.
        if status.is_server_error() || matches!(status.as_u16(), 408 | 425) {
            if last {
                return Verdict::Fail(CarrierError::Server {
                    status: status.as_u16(),
                    attempts: attempt,
                });
            }
            return Verdict::Retry {
                pause: self.retry.backoff(attempt),
                reason: status.as_u16().to_string(),
            };
        }
        Verdict::Fail(CarrierError::Rejected {
            status: status.as_u16(),
            detail: error_detail(&answer.body),
        })
    }

    /// Waits before a retry, and says so once in the log.
    async fn pause(&self, call: &'static str, attempt: u32, pause: Duration, reason: &str) {
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(metric::RETRIES, "call" => call, "reason" => reason.to_owned())
            .increment(1);
        tracing::warn!(
            carrier.call = call,
            carrier.attempt = attempt,
            carrier.reason = reason,
            carrier.pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
            "carrier call failed; retrying"
        );
        tokio::time::sleep(pause).await;
    }

    /// The current token, fetched or renewed when needed; callers queue behind a fetch in progress.
    async fn token(&self) -> Result<Arc<AccessToken>, CarrierError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref()
            && token.renew_at > Instant::now()
        {
            return Ok(token.clone());
        }
        let token = Arc::new(self.fetch_token().await?);
        *slot = Some(token.clone());
        Ok(token)
    }

    /// Forgets the token of `generation` (unless another caller already replaced it).
    async fn drop_token(&self, generation: u64) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.generation == generation) {
            *slot = None;
        }
    }

    /// `POST /token` with HTTP Basic and `grant_type=client_credentials`, with the usual retries.
    async fn fetch_token(&self) -> Result<AccessToken, CarrierError> {
        let mut attempt = 0;
        let body = loop {
            self.respect_hold_off("token", attempt).await?;
            attempt += 1;
            let request = self
                .client
                .post(self.token_url.clone())
                .basic_auth(
                    &self.consumer_key,
                    Some(self.consumer_secret.expose_secret()),
                )
                .form(&[("grant_type", "client_credentials")]);
            self.counters.token_fetches.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(metric::REQUESTS, "call" => "token").increment(1);
            match self.judge(attempt, self.exchange(request).await, false) {
                Verdict::Done(body) => break body,
                Verdict::Retry { pause, reason } => {
                    self.pause("token", attempt, pause, &reason).await;
                }
                Verdict::Refresh => {
                    return Err(failed("token", CarrierError::Credentials { status: 401 }));
                }
                Verdict::Fail(error) => return Err(failed("token", error)),
            }
        };
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| CarrierError::Decode(format!("token answer: {e}")))?;
        let lifetime = answer
            .expires_in
            .as_ref()
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(3600));
        // Renew a margin before expiry, but never spend more than half a short lifetime on it.
        let margin = self.refresh_margin.min(lifetime / 2);
        let token_type = answer
            .token_type
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| "Bearer".into());
        let mut header = HeaderValue::from_str(&format!(
            "{} {}",
            token_type.trim(),
            answer.access_token.expose_secret().trim()
        ))
        .map_err(|_| CarrierError::Decode("the access token is not a valid header value".into()))?;
        header.set_sensitive(true);
        Ok(AccessToken {
            header,
            renew_at: Instant::now() + (lifetime - margin),
            generation: self.generation.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// An authorized call with retries: `build` makes the request afresh for each attempt.
    async fn call(
        &self,
        name: &'static str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Vec<u8>, CarrierError> {
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            self.respect_hold_off(name, attempt).await?;
            attempt += 1;
            let token = self.token().await?;
            let request = build(&self.client).header(AUTHORIZATION, token.header.clone());
            metrics::counter!(metric::REQUESTS, "call" => name).increment(1);
            match self.judge(attempt, self.exchange(request).await, true) {
                Verdict::Done(body) => return Ok(body),
                Verdict::Retry { pause, reason } => self.pause(name, attempt, pause, &reason).await,
                Verdict::Refresh if !refreshed => {
                    // Expired early or revoked: one retry with a new token, not counted as an attempt.
                    refreshed = true;
                    attempt -= 1;
                    self.counters
                        .token_refreshes
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        carrier.call = name,
                        "access token refused; fetching a new one"
                    );
                    self.drop_token(token.generation).await;
                }
                Verdict::Refresh => return Err(failed(name, CarrierError::Unauthorized)),
                Verdict::Fail(error) => return Err(failed(name, error)),
            }
        }
    }

    /// Reads a tracking answer: `{"content": [...], "lastId": K}` (a bare array is accepted too).
    fn tracking_answer(body: &[u8], after_id: i64) -> Result<FeedPage, CarrierError> {
        let json: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| CarrierError::Decode(format!("tracking answer is not JSON: {e}")))?;
        let (content, last_id) = match json {
            serde_json::Value::Array(items) => (items, None),
            serde_json::Value::Object(mut map) => {
                let content = match map.remove("content").or_else(|| map.remove("Content")) {
                    Some(serde_json::Value::Array(items)) => items,
                    Some(serde_json::Value::Null) | None => Vec::new(),
                    Some(_) => {
                        return Err(CarrierError::Decode(
                            "tracking answer: `content` is not a list".into(),
                        ));
                    }
                };
                let last_id = map
                    .get("lastId")
                    .or_else(|| map.get("LastId"))
                    .and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()));
                (content, last_id)
            }
            _ => {
                return Err(CarrierError::Decode(
                    "tracking answer is neither an object nor a list".into(),
                ));
            }
        };
        let (records, malformed) = read_records(content);
        let largest = records
            .iter()
            .map(|r| r.id)
            .chain(malformed.iter().filter_map(|m| m.id))
            .max();
        let last_id = after_id
            .max(last_id.unwrap_or(after_id))
            .max(largest.unwrap_or(after_id));
        Ok(FeedPage {
            records,
            malformed,
            last_id,
        })
    }
}

impl Carrier for HttpCarrier {
    fn resting(&self) -> Option<Duration> {
        self.held_off_for()
            .filter(|wait| *wait > self.retry.max_retry_after)
    }

    async fn create_order(&self, order: &OrderRequest) -> Result<OrderAnswer, CarrierError> {
        let wire = WireOrder {
            customer_code: &self.customer_code,
            order,
        };
        let body = serde_json::to_vec(&wire)
            .map_err(|e| CarrierError::Decode(format!("cannot encode the order: {e}")))?;
        let answer = self
            .call("order.post", |client| {
                client
                    .post(self.order_url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        let raw: RawOrderAnswer = serde_json::from_slice(&answer).map_err(|e| {
            failed(
                "order.post",
                CarrierError::Decode(format!("order answer: {e}")),
            )
        })?;
        let status = match raw.status {
            serde_json::Value::String(s) => s.trim().to_owned(),
            serde_json::Value::Number(n) => format!("{n:0>2}"),
            other => other.to_string(),
        };
        let message = raw.message.unwrap_or_default();
        if status != "00" {
            return Err(failed(
                "order.post",
                CarrierError::Refused {
                    order_number: order.order_number.clone(),
                    status: status.chars().take(16).collect(),
                    message: carrier_text(&message),
                },
            ));
        }
        let item_code = raw
            .item_code
            .filter(|c| !c.trim().is_empty())
            .or_else(|| order.item_code.clone())
            .ok_or_else(|| {
                CarrierError::Decode("the carrier accepted an order without an itemCode".into())
            })?;
        Ok(OrderAnswer {
            status,
            message,
            order_number: raw
                .order_number
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| order.order_number.clone()),
            item_code: item_code.trim().to_owned(),
        })
    }

    async fn feed(&self, after_id: i64, page_size: u32) -> Result<FeedPage, CarrierError> {
        let after_id = after_id.max(0);
        let query = [
            ("pagesize", page_size.max(1).to_string()),
            ("lastId", after_id.to_string()),
        ];
        let body = self
            .call("tracking.feed", |client| {
                client.get(self.tracking_url.clone()).query(&query)
            })
            .await?;
        Self::tracking_answer(&body, after_id).map_err(|e| failed("tracking.feed", e))
    }

    async fn order_events(&self, order_number: &str) -> Result<Vec<TrackingRecord>, CarrierError> {
        let query = [
            ("customerCode", self.customer_code.as_str()),
            ("orderNumber", order_number),
        ];
        let body = self
            .call("tracking.order", |client| {
                client.get(self.tracking_url.clone()).query(&query)
            })
            .await?;
        let page = Self::tracking_answer(&body, 0).map_err(|e| failed("tracking.order", e))?;
        if !page.malformed.is_empty() {
            tracing::warn!(
                carrier.order_number = order_number,
                carrier.malformed = page.malformed.len(),
                "unreadable records in a per-order read were skipped"
            );
        }
        let mut seen = HashSet::new();
        let mut records: Vec<TrackingRecord> = page
            .records
            .into_iter()
            .filter(|r| seen.insert(r.id))
            .collect();
        records.sort_by_key(|r| r.id);
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_base_path() {
        let base = Url::parse("https://carrier.example/ngsp").expect("url");
        assert_eq!(
            endpoint(&base, "order/tracking").expect("join").as_str(),
            "https://carrier.example/ngsp/order/tracking"
        );
        let root = Url::parse("http://127.0.0.1:9090/").expect("url");
        assert_eq!(
            endpoint(&root, "token").expect("join").as_str(),
            "http://127.0.0.1:9090/token"
        );
    }

    #[test]
    fn the_page_cursor_never_goes_back() {
        let page =
            HttpCarrier::tracking_answer(br#"{"content": [], "lastId": 3}"#, 10).expect("valid");
        assert_eq!(page.last_id, 10);
        let page = HttpCarrier::tracking_answer(br#"{"content": null}"#, 10).expect("valid");
        assert!(page.is_empty());
        assert!(HttpCarrier::tracking_answer(b"<html>", 0).is_err());
    }

    #[test]
    fn error_bodies_are_summarised_not_echoed() {
        assert_eq!(error_detail(br#"{"error":"bad","x":"Nguyen"}"#), "bad");
        assert_eq!(error_detail(b"Nguyen Van A"), "12 bytes of non-JSON");
        let echoed = error_detail(
            r#"{"message":"receiverTel 0912345678 / a.b@example.vn invalid"}"#.as_bytes(),
        );
        assert_eq!(echoed, "receiverTel *** / *** invalid");
    }
}
