//! Outgoing e-mail: lettre over SMTP with a pool of connections, or — with no SMTP configured, the
//! embedded default — each message written as an `.eml` file for a person or a test to open.
//!
//! The SMTP URL follows lettre's scheme (`smtp://host:port` plain, `smtp://…?tls=required` STARTTLS,
//! `smtps://host:port` TLS from the first byte, `user:password@` for credentials); `smtp+starttls://`
//! is accepted as a spelling of `smtp://…?tls=required`. Errors are reported without the server's
//! words, which may quote the recipient's address.

pub mod templates;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use domain::ops::outbox::EmailPayload;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

/// Where and how mail goes out.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// The SMTP server; unset writes `.eml` files under `dir`.
    pub smtp_url: Option<SecretString>,
    /// The `From` of every message, e.g. `Dịch vụ hồ sơ <no-reply@dossier.example.vn>`.
    pub from: String,
    /// Where `.eml` files go when no SMTP server is configured.
    pub dir: PathBuf,
    /// The most SMTP connections kept open at once.
    pub pool_size: u32,
    /// How long one SMTP command may take.
    pub timeout: Duration,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Dịch vụ hồ sơ qua bưu chính <no-reply@dossier.local>".to_owned(),
            dir: PathBuf::from("./data/mail"),
            pool_size: 10,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth another try later (server down, busy, or a 4xx answer).
    #[error("{0}")]
    Transient(String),
    /// Refused for good (a 5xx answer, an address that cannot be written): retrying cannot help.
    #[error("{0}")]
    Permanent(String),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Sends the outbox's e-mails. Cheap to share: the SMTP pool lives inside.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// The right-hand side of Message-IDs: the sender's domain.
    id_domain: String,
}

/// lettre's URL for a configured one, mapping `smtp+starttls://` to `smtp://…?tls=required`.
fn lettre_url(url: &str) -> String {
    match url.strip_prefix("smtp+starttls://") {
        Some(rest) if rest.contains("tls=") => format!("smtp://{rest}"),
        Some(rest) if rest.contains('?') => format!("smtp://{rest}&tls=required"),
        Some(rest) => format!("smtp://{rest}?tls=required"),
        None => url.to_owned(),
    }
}

impl Mailer {
    /// Sets up the transport. Nothing is connected yet: the pool opens connections when mail is sent.
    /// Call it inside a Tokio runtime (the pool keeps a task that closes idle connections).
    pub fn new(settings: &MailSettings) -> anyhow::Result<Self> {
        let from: Mailbox = settings.from.parse().with_context(|| {
            format!(
                "smtp.from `{}` is not a mailbox like `Name <user@domain>`",
                settings.from
            )
        })?;
        let id_domain = from.email.domain().to_owned();
        let transport = match &settings.smtp_url {
            Some(url) => {
                let url = lettre_url(url.expose_secret().trim());
                // The URL may hold a password: the error names neither.
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url).map_err(|_| {
                    anyhow::anyhow!(
                        "the SMTP URL is not valid; use smtp://host:port, smtp://host:port?tls=required, \
                         smtp+starttls://host:port or smtps://host:port"
                    )
                })?;
                Transport::Smtp(
                    builder
                        .timeout(Some(settings.timeout))
                        .pool_config(
                            PoolConfig::new()
                                .max_size(settings.pool_size.max(1))
                                .idle_timeout(Duration::from_secs(60)),
                        )
                        .build(),
                )
            }
            None => Transport::Files(settings.dir.clone()),
        };
        Ok(Self {
            transport,
            from,
            id_domain,
        })
    }

    /// Where messages go, for the start-up log (never the credentials).
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "SMTP".to_owned(),
            Transport::Files(dir) => format!("files under {}", dir.display()),
        }
    }

    /// The Message-ID of an outbox e-mail: the same on every attempt, so receivers can drop repeats.
    pub fn message_id(&self, payload: &EmailPayload) -> String {
        format!("<{}@{}>", payload.message_key, self.id_domain)
    }

    /// Builds the message of an outbox e-mail: multipart plain text and HTML, UTF-8 headers.
    pub fn compose(
        &self,
        payload: &EmailPayload,
        public_base_url: &str,
    ) -> Result<Message, SendError> {
        let to_address: Address = payload
            .to
            .parse()
            .map_err(|_| SendError::Permanent("the recipient's address is not valid".into()))?;
        let to = Mailbox::new(payload.to_name.clone(), to_address);
        let mail = templates::render(payload, public_base_url);
        Message::builder()
            .message_id(Some(self.message_id(payload)))
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .date_now()
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|_| SendError::Permanent("the message could not be built".into()))
    }

    /// Sends one message: over SMTP, or into `<dir>/<message key>.eml` (written whole, then renamed, so
    /// a reader never sees half a file, and a repeat overwrites the same file).
    pub async fn send(&self, key: &str, message: Message) -> Result<(), SendError> {
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(smtp_error),
            Transport::Files(dir) => write_eml(dir, key, &message.formatted())
                .await
                .map_err(|e| SendError::Transient(format!("writing the .eml file failed: {e}"))),
        }
    }
}

/// Classifies an SMTP failure and describes it without the server's text.
fn smtp_error(err: lettre::transport::smtp::Error) -> SendError {
    let code = err.status().map(|c| c.to_string());
    if err.is_permanent() {
        SendError::Permanent(format!(
            "SMTP server refused the message permanently ({})",
            code.as_deref().unwrap_or("5xx")
        ))
    } else if err.is_transient() {
        SendError::Transient(format!(
            "SMTP server deferred the message ({})",
            code.as_deref().unwrap_or("4xx")
        ))
    } else if err.is_timeout() {
        SendError::Transient("SMTP server timed out".into())
    } else if err.is_tls() {
        SendError::Transient("SMTP TLS negotiation failed".into())
    } else {
        SendError::Transient("SMTP connection failed".into())
    }
}

async fn write_eml(dir: &Path, key: &str, bytes: &[u8]) -> std::io::Result<()> {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    tokio::fs::create_dir_all(dir).await?;
    let tmp = dir.join(format!(".{safe}.eml.tmp"));
    let path = dir.join(format!("{safe}.eml"));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, &path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starttls_urls_become_lettres_tls_required() {
        assert_eq!(
            lettre_url("smtp+starttls://u:p@mail.example.vn:587"),
            "smtp://u:p@mail.example.vn:587?tls=required"
        );
        assert_eq!(
            lettre_url("smtp+starttls://mail.example.vn:587/ehlo?x=1"),
            "smtp://mail.example.vn:587/ehlo?x=1&tls=required"
        );
        assert_eq!(
            lettre_url("smtps://mail.example.vn"),
            "smtps://mail.example.vn"
        );
        assert_eq!(lettre_url("smtp://127.0.0.1:2525"), "smtp://127.0.0.1:2525");
    }

    #[tokio::test]
    async fn every_documented_url_form_is_accepted_and_others_are_refused() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://mail.example.vn:587?tls=required",
            "smtp+starttls://mail.example.vn:587",
            "smtps://user:secret@mail.example.vn:465",
        ] {
            let settings = MailSettings {
                smtp_url: Some(SecretString::from(url)),
                ..MailSettings::default()
            };
            assert!(Mailer::new(&settings).is_ok(), "{url}");
        }
        let settings = MailSettings {
            smtp_url: Some(SecretString::from("http://mail.example.vn")),
            ..MailSettings::default()
        };
        let err = Mailer::new(&settings).err().expect("refused").to_string();
        assert!(!err.contains("mail.example.vn"));
    }
}
