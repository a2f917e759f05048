//! Outgoing e-mail: lettre over SMTP through a bounded pool of connections, or — with no SMTP
//! configured, the embedded default — each message written as an `.eml` file for a person or a test
//! to open.
//!
//! The SMTP URL follows lettre's scheme (`smtp://host:port` plain, `smtp://…?tls=required` STARTTLS,
//! `smtp://…?tls=opportunistic`, `smtps://host:port` TLS from the first byte, `user:password@` for
//! credentials, a path for the EHLO name); `smtp+starttls://` is accepted as a spelling of
//! `smtp://…?tls=required`. Errors are reported without the server's words, which may quote the
//! recipient's address.
//!
//! Every send has one overall deadline ([`MailSettings::timeout`]) that covers the wait for a pooled
//! connection, connecting, the greeting, EHLO, STARTTLS, AUTH and the whole conversation. lettre's
//! own timeout bounds only the TCP connect: a server that accepts a connection and then says nothing
//! would otherwise hold the send for ever. A connection is given back to the pool only after a
//! conversation that ended cleanly; one that failed, timed out or was abandoned mid-way (a worker
//! stopping) is closed, so a half-finished `DATA` can never be continued by the next message.

pub mod templates;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use deadpool::managed::{self, Metrics, Object, RecycleError, RecycleResult};
use domain::ops::outbox::{EmailPayload, Notice};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, Message};
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
    /// The most SMTP connections open at once; more sends than this wait for one (inside their
    /// deadline).
    pub pool_size: u32,
    /// The overall deadline of one send: waiting for a connection, connecting and the whole
    /// conversation together. A send that misses it is a failed attempt, retried later.
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
    /// Worth another try later (server down, busy, slow, or a 4xx answer).
    #[error("{0}")]
    Transient(String),
    /// Refused for good (a 5xx answer, an address that cannot be written): retrying cannot help.
    #[error("{0}")]
    Permanent(String),
}

enum Transport {
    Smtp(SmtpPool),
    Files(PathBuf),
}

/// Sends the outbox's e-mails. Cheap to share: the SMTP pool lives inside.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// The right-hand side of Message-IDs: the sender's domain.
    id_domain: String,
    /// The overall deadline of one send.
    timeout: Duration,
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

/// How the connection is secured.
#[derive(Clone)]
enum Security {
    /// Plain SMTP.
    None,
    /// STARTTLS when the server offers it, plain otherwise.
    Opportunistic(TlsParameters),
    /// STARTTLS, or no connection.
    Required(TlsParameters),
    /// TLS from the first byte (`smtps://`).
    Wrapper(TlsParameters),
}

/// Where the SMTP server is and how to speak to it, read from the URL once.
#[derive(Clone)]
struct SmtpServer {
    host: String,
    port: u16,
    security: Security,
    hello: ClientId,
    credentials: Option<Credentials>,
    /// How long the TCP connect may take (the send's deadline bounds everything else).
    connect_timeout: Duration,
}

impl SmtpServer {
    /// Reads an SMTP URL as lettre does. The error never repeats the URL (it may hold a password).
    fn parse(url: &str, connect_timeout: Duration) -> anyhow::Result<Self> {
        let invalid = || {
            anyhow::anyhow!(
                "the SMTP URL is not valid; use smtp://host:port, smtp://host:port?tls=required, \
                 smtp+starttls://host:port or smtps://host:port"
            )
        };
        let url = url::Url::parse(&lettre_url(url.trim())).map_err(|_| invalid())?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(invalid)?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let params = || TlsParameters::new(host.clone()).map_err(|_| invalid());
        let (port, security) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (25, Security::None),
            ("smtp", Some("required")) => (587, Security::Required(params()?)),
            ("smtp", Some("opportunistic")) => (587, Security::Opportunistic(params()?)),
            ("smtps", _) => (465, Security::Wrapper(params()?)),
            _ => return Err(invalid()),
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| invalid())
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        Ok(Self {
            port: url.port().unwrap_or(port),
            host,
            security,
            hello,
            credentials,
            connect_timeout,
        })
    }

    /// Opens one connection: TCP (and TLS), greeting, EHLO, STARTTLS and AUTH as configured.
    async fn connect(&self) -> Result<AsyncSmtpConnection, lettre::transport::smtp::Error> {
        let wrapper = match &self.security {
            Security::Wrapper(params) => Some(params.clone()),
            _ => None,
        };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.connect_timeout),
            &self.hello,
            wrapper,
            None,
        )
        .await?;
        match &self.security {
            Security::Required(params) => conn.starttls(params.clone(), &self.hello).await?,
            Security::Opportunistic(params) if conn.can_starttls() => {
                conn.starttls(params.clone(), &self.hello).await?;
            }
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await?;
        }
        Ok(conn)
    }
}

/// Opens and checks pooled SMTP connections.
struct SmtpConnector {
    server: SmtpServer,
}

/// A pooled connection idle longer than this is checked with `NOOP` before it is used again (the
/// server may have closed it meanwhile).
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(5);

/// A pooled connection idle longer than this is closed rather than reused.
const MAX_IDLE: Duration = Duration::from_secs(60);

impl managed::Manager for SmtpConnector {
    type Type = AsyncSmtpConnection;
    type Error = lettre::transport::smtp::Error;

    async fn create(&self) -> Result<AsyncSmtpConnection, Self::Error> {
        self.server.connect().await
    }

    async fn recycle(
        &self,
        conn: &mut AsyncSmtpConnection,
        metrics: &Metrics,
    ) -> RecycleResult<Self::Error> {
        let idle = metrics.last_used();
        if conn.has_broken() || idle > MAX_IDLE {
            return Err(RecycleError::message("closed"));
        }
        if idle > CHECK_AFTER_IDLE && !conn.test_connected().await {
            return Err(RecycleError::message("closed by the server"));
        }
        Ok(())
    }
}

/// At most `pool_size` SMTP connections, reused while they work.
struct SmtpPool {
    pool: managed::Pool<SmtpConnector>,
}

/// A connection out of the pool for one send. It goes back to the pool only when [`Self::keep`]
/// was called; dropped otherwise (an error, a deadline, a cancelled send), it is closed.
struct Borrowed {
    conn: Option<Object<SmtpConnector>>,
    keep: bool,
}

impl Borrowed {
    fn conn(&mut self) -> Option<&mut AsyncSmtpConnection> {
        self.conn.as_deref_mut()
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Borrowed {
    fn drop(&mut self) {
        if !self.keep
            && let Some(conn) = self.conn.take()
        {
            // Out of the pool for good: the socket closes when it drops.
            drop(Object::take(conn));
        }
    }
}

impl SmtpPool {
    fn new(server: SmtpServer, size: u32) -> anyhow::Result<Self> {
        let size = usize::try_from(size.max(1)).unwrap_or(1);
        let pool = managed::Pool::builder(SmtpConnector { server })
            .max_size(size)
            .build()
            .context("Failed to set up the SMTP connection pool")?;
        Ok(Self { pool })
    }

    /// Sends one message on a pooled connection. No deadline here: the caller's covers it all.
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        let conn = self.pool.get().await.map_err(|err| match err {
            managed::PoolError::Backend(err) => smtp_error(err),
            _ => SendError::Transient("no SMTP connection could be had".into()),
        })?;
        let mut borrowed = Borrowed {
            conn: Some(conn),
            keep: false,
        };
        let Some(conn) = borrowed.conn() else {
            return Err(SendError::Transient(
                "no SMTP connection could be had".into(),
            ));
        };
        let bytes = message.formatted();
        match conn.send(message.envelope(), &bytes).await {
            Ok(_) => {
                borrowed.keep();
                Ok(())
            }
            Err(err) => Err(smtp_error(err)),
        }
    }
}

impl Mailer {
    /// Sets up the transport. Nothing is connected yet: the pool opens connections when mail is sent.
    pub fn new(settings: &MailSettings) -> anyhow::Result<Self> {
        let from: Mailbox = settings.from.parse().with_context(|| {
            format!(
                "smtp.from `{}` is not a mailbox like `Name <user@domain>`",
                settings.from
            )
        })?;
        let id_domain = from.email.domain().to_owned();
        let timeout = settings.timeout.max(Duration::from_millis(100));
        let transport = match &settings.smtp_url {
            Some(url) => {
                let server = SmtpServer::parse(url.expose_secret(), timeout)?;
                Transport::Smtp(SmtpPool::new(server, settings.pool_size)?)
            }
            None => Transport::Files(settings.dir.clone()),
        };
        Ok(Self {
            transport,
            from,
            id_domain,
            timeout,
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
            .multipart(with_attachment(
                MultiPart::alternative_plain_html(mail.text, mail.html),
                payload,
            ))
            .map_err(|_| SendError::Permanent("the message could not be built".into()))
    }

    /// Sends one message within the overall deadline: over SMTP, or into `<dir>/<message key>.eml`
    /// (written whole, then renamed, so a reader never sees half a file, and a repeat overwrites the
    /// same file). Dropping the returned future abandons the send and closes its connection.
    pub async fn send(&self, key: &str, message: Message) -> Result<(), SendError> {
        let sending =
            async {
                match &self.transport {
                    Transport::Smtp(pool) => pool.send(&message).await,
                    Transport::Files(dir) => write_eml(dir, key, &message.formatted())
                        .await
                        .map_err(|e| {
                            SendError::Transient(format!("writing the .eml file failed: {e}"))
                        }),
                }
            };
        match tokio::time::timeout(self.timeout, sending).await {
            Ok(sent) => sent,
            Err(_) => Err(SendError::Transient(format!(
                "the send did not finish within {} s (waiting for a connection, connecting and \
                 the conversation together)",
                self.timeout.as_secs_f32()
            ))),
        }
    }
}

/// The message body, with the notice's file attached when it carries one (a periodic report's CSV).
fn with_attachment(body: MultiPart, payload: &EmailPayload) -> MultiPart {
    match &payload.notice {
        Notice::PeriodReport {
            csv_file_name, csv, ..
        } => MultiPart::mixed().multipart(body).singlepart(
            Attachment::new(csv_file_name.clone()).body(
                csv.clone(),
                ContentType::parse("text/csv; charset=utf-8").unwrap_or(ContentType::TEXT_PLAIN),
            ),
        ),
        _ => body,
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

    #[test]
    fn a_periodic_report_carries_its_csv_as_an_attachment_and_other_notices_none() {
        let mailer = Mailer::new(&MailSettings::default()).expect("mailer");
        let now = chrono::Utc::now();
        let mut payload = EmailPayload {
            message_key: "report-2026-Q3-UBND".to_owned(),
            recipient: domain::ops::outbox::Recipient::Agency,
            to: "motcua@hoankiem.example.vn".to_owned(),
            to_name: None,
            language: "vi".to_owned(),
            dossier_code: String::new(),
            agency_name: Some("Ủy ban nhân dân phường Hoàn Kiếm".to_owned()),
            procedure_name: None,
            at: now,
            notice: Notice::PeriodReport {
                period: "2026-Q3".to_owned(),
                from: chrono::NaiveDate::from_ymd_opt(2026, 7, 1).expect("date"),
                to: chrono::NaiveDate::from_ymd_opt(2026, 9, 30).expect("date"),
                agency_code: "UBND-P-HOANKIEM".to_owned(),
                dossiers: 3,
                csv_file_name: "bao-cao-2026-Q3-UBND-P-HOANKIEM.csv".to_owned(),
                csv: "section,key,value\nby_status,received_by_agency,3\n".to_owned(),
            },
        };
        let message = mailer
            .compose(&payload, "https://hoso.example.vn")
            .expect("compose");
        let text = String::from_utf8_lossy(&message.formatted()).into_owned();
        assert!(text.contains("multipart/mixed"), "{text}");
        assert!(text.contains("Content-Disposition: attachment;"), "{text}");
        assert!(
            text.contains("\"bao-cao-2026-Q3-UBND-P-HOANKIEM.csv\""),
            "{text}"
        );
        assert!(text.contains("text/csv"), "{text}");
        assert!(text.contains("by_status,received_by_agency,3"), "{text}");

        payload.notice = Notice::Delivered { item_code: None };
        let message = mailer
            .compose(&payload, "https://hoso.example.vn")
            .expect("compose");
        let text = String::from_utf8_lossy(&message.formatted()).into_owned();
        assert!(!text.contains("multipart/mixed"), "{text}");
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
