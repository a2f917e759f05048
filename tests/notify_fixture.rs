//! Dossiers moved through the statuses that notify the citizen's phone and the national portal, for
//! the process tests and the benchmark that count what reached the notify sandbox. Changes are
//! written the way the use-cases write them: the dossier's new status and its timeline event in one
//! transaction (`append_event`, which writes the outbox rows).

use anyhow::Context;
use domain::ops::access::Actor;
use domain::ops::{NewEvent, append_event};
use domain::store::Store;
use entity::dossier;
use entity::enums::{DossierStatus, EventKind, EventSource, LegDirection};
use notify_sandbox::NotifyConfig;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::TestApp;

/// The changes after a pickup request that tell the phone and the portal something, in order:
/// filed at the agency, accepted, result ready, out for delivery, delivered.
pub const JOURNEY: [(EventKind, DossierStatus, Option<LegDirection>); 5] = [
    (
        EventKind::ReceivedByAgency,
        DossierStatus::ReceivedByAgency,
        None,
    ),
    (EventKind::Accepted, DossierStatus::Processing, None),
    (EventKind::ResultReady, DossierStatus::ResultReady, None),
    (
        EventKind::OutForDelivery,
        DossierStatus::OutForDelivery,
        Some(LegDirection::Outbound),
    ),
    (
        EventKind::Delivered,
        DossierStatus::Delivered,
        Some(LegDirection::Outbound),
    ),
];

/// Phone notices one dossier sends over the request and the [`JOURNEY`].
pub const PHONE_NOTICES_PER_DOSSIER: usize = 5;
/// Portal calls one dossier makes over the [`JOURNEY`].
pub const PORTAL_CALLS_PER_DOSSIER: usize = 4;

/// The `i`th distinct applicant phone (`09…`).
pub fn phone(i: usize) -> String {
    format!("09{:08}", 10_000_000 + i % 80_000_000)
}

/// Makes `count` pickup requests through the API, applicant `i` with [`phone`]`(i)`; returns their
/// ids.
pub async fn request_dossiers(app: &TestApp, count: usize) -> anyhow::Result<Vec<i64>> {
    let mut codes = Vec::with_capacity(count);
    for i in 0..count {
        let mut body = crate::valid_request();
        body["applicant"]["phone"] = phone(i).into();
        let res = app.post_dossier(&body).await;
        anyhow::ensure!(res.status() == 201, "request {i}: HTTP {}", res.status());
        let created: serde_json::Value = res.json().await?;
        codes.push(created["code"].as_str().context("code")?.to_owned());
    }
    let mut ids = Vec::with_capacity(count);
    for chunk in codes.chunks(500) {
        let found = dossier::Entity::find()
            .filter(dossier::Column::Code.is_in(chunk.iter().cloned()))
            .all(&app.store.read)
            .await?;
        ids.extend(found.into_iter().map(|d| d.id));
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Moves dossier `id` to `to` with an event of `kind`, in one transaction.
pub async fn change(
    store: &Store,
    id: i64,
    kind: EventKind,
    to: DossierStatus,
    leg: Option<LegDirection>,
) -> anyhow::Result<()> {
    let txn = store.begin().await?;
    let d = dossier::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .context("no such dossier")?;
    let from = d.status;
    let now = chrono::Utc::now();
    let mut active: dossier::ActiveModel = d.into();
    active.status = Set(to);
    if kind == EventKind::ReceivedByAgency {
        active.filed_at = Set(Some(now));
        active.result_due_at = Set(Some(now + chrono::Duration::days(5)));
    }
    active.update(&txn).await?;
    append_event(
        &txn,
        id,
        &Actor::System,
        NewEvent {
            at: now,
            kind,
            source: EventSource::System,
            from_status: Some(from),
            to_status: Some(to),
            leg,
            location: None,
            note: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The environment that points a `dossier worker` process at the sandbox `config` on `base_url`.
pub fn worker_env(base_url: &str, config: &NotifyConfig) -> Vec<(&'static str, String)> {
    vec![
        ("DOSSIER__SMS__URL", base_url.to_owned()),
        ("DOSSIER__SMS__API_KEY", config.sms_api_key.clone()),
        ("DOSSIER__SMS__SECRET_KEY", config.sms_secret_key.clone()),
        ("DOSSIER__SMS__BRANDNAME", config.sms_brandname.clone()),
        ("DOSSIER__ZALO__BASE_URL", base_url.to_owned()),
        ("DOSSIER__ZALO__OAUTH_URL", base_url.to_owned()),
        ("DOSSIER__ZALO__APP_ID", config.zalo_app_id.clone()),
        ("DOSSIER__ZALO__SECRET_KEY", config.zalo_secret_key.clone()),
        (
            "DOSSIER__ZALO__REFRESH_TOKEN",
            config.zalo_refresh_token.clone(),
        ),
        (
            "DOSSIER__ZALO__TEMPLATE_ID",
            config.zalo_template_id.clone(),
        ),
        ("DOSSIER__PORTAL__BASE_URL", base_url.to_owned()),
        ("DOSSIER__PORTAL__USERNAME", config.portal_username.clone()),
        ("DOSSIER__PORTAL__PASSWORD", config.portal_password.clone()),
        ("DOSSIER__PORTAL__DSTCODE", config.portal_dstcode.clone()),
    ]
}
