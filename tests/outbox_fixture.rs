//! E-mails queued straight into the outbox, as `append_event` writes them, for the tests and
//! benchmarks that measure the worker's delivery rather than the events that cause it.

use anyhow::Context;
use domain::ops::outbox::{DeliveryKind, EmailPayload, Notice, Recipient};
use domain::store::Store;
use entity::enums::OutboxStatus;
use entity::outbox;
use sea_orm::{ActiveValue::Set, EntityTrait};

/// A receipt notice to a citizen, with the stable message key `<prefix>-<i>`.
pub fn receipt_notice(prefix: &str, i: usize) -> EmailPayload {
    let now = chrono::Utc::now();
    EmailPayload {
        message_key: format!("{prefix}-{i}"),
        recipient: Recipient::Citizen,
        to: format!("cong.dan.{i}@example.vn"),
        to_name: Some("Nguyễn Thị Bích Ngọc".to_owned()),
        language: if i.is_multiple_of(10) { "en" } else { "vi" }.to_owned(),
        dossier_code: format!("TEST-{i:05}"),
        agency_name: Some("Ủy ban nhân dân phường Hoàn Kiếm".to_owned()),
        procedure_name: Some("Cấp bản sao trích lục hộ tịch".to_owned()),
        at: now,
        notice: Notice::ReceivedByAgency {
            filed_at: Some(now),
            result_due_at: Some(now + chrono::Duration::days(5)),
        },
    }
}

/// Queues `count` e-mails (`<prefix>-0` … `<prefix>-{count-1}`), due now; returns their keys.
pub async fn queue_emails(
    store: &Store,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let now = chrono::Utc::now();
    let mut keys = Vec::with_capacity(count);
    let mut rows = Vec::with_capacity(count);
    for i in 0..count {
        let payload = receipt_notice(prefix, i);
        keys.push(payload.message_key.clone());
        rows.push(outbox::ActiveModel {
            kind: Set(DeliveryKind::Email.as_str().to_owned()),
            dossier_id: Set(None),
            payload: Set(serde_json::to_value(payload)?),
            status: Set(OutboxStatus::Pending),
            attempts: Set(0),
            next_attempt_at: Set(now),
            locked_until: Set(None),
            locked_by: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            done_at: Set(None),
            ..Default::default()
        });
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(500).collect();
        outbox::Entity::insert_many(chunk)
            .exec_without_returning(&store.write)
            .await
            .context("Failed to queue the e-mails")?;
    }
    Ok(keys)
}

/// The message key in a received message's `Message-ID: <key@domain>` header.
pub fn message_key(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.eq_ignore_ascii_case("message-id") {
            return None;
        }
        let value = value.trim().trim_start_matches('<');
        value.split_once('@').map(|(key, _)| key.to_owned())
    })
}
