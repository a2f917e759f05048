//! A webhook of an agency system: every timeline event of the agency's dossiers is POSTed to `url`,
//! signed with `secret` (HMAC-SHA256). The secret has to be stored in the clear to sign with it; it is
//! never shown by the API and never printed (see the `Debug` impl).

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Whose dossiers' events are delivered.
    pub agency_code: String,
    /// Where deliveries are POSTed (`http` or `https`).
    pub url: String,
    /// The key of the deliveries' HMAC-SHA256 signature.
    pub secret: String,
    /// Enabled: inactive (disabled) webhooks get no new deliveries.
    pub active: bool,
    /// The audit name of the admin key that registered it.
    pub created_by: String,
    pub created_at: DateTimeUtc,
    /// The secret before the last rotation: it still signs, beside `secret`, until
    /// `previous_secret_expires_at`.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    /// When the secret was last rotated.
    pub secret_rotated_at: Option<DateTimeUtc>,
    /// When and why the webhook was disabled (a 410 from the receiver, or retries run out); cleared
    /// when it is enabled again.
    pub disabled_at: Option<DateTimeUtc>,
    pub disabled_reason: Option<String>,
    /// When the administrators were last e-mailed about this webhook (at most once a day).
    pub last_alert_at: Option<DateTimeUtc>,
}

/// Shows everything but the secret, so that a webhook can be logged or printed safely.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("agency_code", &self.agency_code)
            .field("url", &self.url)
            .field("secret", &"[redacted]")
            .field("active", &self.active)
            .field("created_by", &self.created_by)
            .field("created_at", &self.created_at)
            .field(
                "previous_secret",
                &self.previous_secret.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "previous_secret_expires_at",
                &self.previous_secret_expires_at,
            )
            .field("secret_rotated_at", &self.secret_rotated_at)
            .field("disabled_at", &self.disabled_at)
            .field("disabled_reason", &self.disabled_reason)
            .field("last_alert_at", &self.last_alert_at)
            .finish()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
