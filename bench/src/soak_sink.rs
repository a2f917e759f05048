//! A counting SMTP receiver for the soak run: it speaks the same small part of RFC 5321 as
//! `tests::smtp_sink::SmtpSink` (EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT) but keeps only
//! each accepted message's `Message-ID` and how many times it arrived, so thirty minutes of mail cost a
//! few megabytes instead of every message's body.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Default)]
struct Shared {
    /// Times each Message-ID (without its angle brackets) was accepted.
    ids: Mutex<HashMap<String, u32>>,
    /// Messages accepted (with or without a Message-ID).
    messages: AtomicU64,
    /// Messages accepted without a Message-ID header.
    without_id: AtomicU64,
}

/// A running receiver; it stops when dropped.
pub struct CountingSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl CountingSink {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let shared = accepting.clone();
                tokio::spawn(async move {
                    let _ = session(stream, &shared).await;
                });
            }
        });
        Ok(Self {
            addr,
            shared,
            accept,
        })
    }

    /// `smtp://127.0.0.1:<port>`: plain SMTP, as the worker's `DOSSIER__SMTP__URL` takes it.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Messages accepted so far.
    pub fn count(&self) -> u64 {
        self.shared.messages.load(Ordering::SeqCst)
    }

    /// Messages accepted without a Message-ID.
    pub fn without_id(&self) -> u64 {
        self.shared.without_id.load(Ordering::SeqCst)
    }

    /// Every Message-ID received so far, with how many times it arrived.
    pub fn ids(&self) -> HashMap<String, u32> {
        self.shared
            .ids
            .lock()
            .map(|ids| ids.clone())
            .unwrap_or_default()
    }
}

impl Drop for CountingSink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The value of a `Message-ID:` header line, without its angle brackets.
fn message_id_of(header: &str) -> Option<String> {
    let (name, value) = header.split_once(':')?;
    if !name.trim().eq_ignore_ascii_case("message-id") {
        return None;
    }
    let value = value.trim();
    let value = value.strip_prefix('<').unwrap_or(value);
    let value = value.strip_suffix('>').unwrap_or(value);
    (!value.is_empty()).then(|| value.to_owned())
}

async fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(b"220 soak.sink ESMTP ready\r\n").await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        let verb = text.split(' ').next().unwrap_or_default();
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                write
                    .write_all(
                        b"250-soak.sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760\r\n",
                    )
                    .await?;
            }
            "HELO" => write.write_all(b"250 soak.sink\r\n").await?,
            "MAIL" => write.write_all(b"250 2.1.0 OK\r\n").await?,
            "RCPT" => write.write_all(b"250 2.1.5 OK\r\n").await?,
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                // Headers end at the first empty line; a folded header continues on lines that
                // begin with white space.
                let mut in_headers = true;
                let mut header = String::new();
                let mut id = None;
                loop {
                    line.clear();
                    if reader.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    if !in_headers {
                        continue;
                    }
                    let content = String::from_utf8_lossy(&line);
                    let content = content.trim_end_matches(['\r', '\n']);
                    if content.starts_with([' ', '\t']) {
                        header.push_str(content);
                        continue;
                    }
                    if id.is_none() {
                        id = message_id_of(&header);
                    }
                    header.clear();
                    if content.is_empty() {
                        in_headers = false;
                    } else {
                        header.push_str(content);
                    }
                }
                if id.is_none() {
                    id = message_id_of(&header);
                }
                match id {
                    Some(id) => {
                        if let Ok(mut ids) = shared.ids.lock() {
                            *ids.entry(id).or_insert(0) += 1;
                        }
                    }
                    None => {
                        shared.without_id.fetch_add(1, Ordering::SeqCst);
                    }
                }
                shared.messages.fetch_add(1, Ordering::SeqCst);
                write.write_all(b"250 2.0.0 OK queued\r\n").await?;
            }
            "RSET" | "NOOP" => write.write_all(b"250 2.0.0 OK\r\n").await?,
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => {
                write
                    .write_all(b"502 5.5.2 Command not recognised\r\n")
                    .await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::message_id_of;

    #[test]
    fn reads_the_message_id_header() {
        assert_eq!(
            message_id_of("Message-ID: <dossier-event-7-citizen@hoso.example.vn>").as_deref(),
            Some("dossier-event-7-citizen@hoso.example.vn")
        );
        assert_eq!(message_id_of("message-id:<a@b>").as_deref(), Some("a@b"));
        assert_eq!(message_id_of("Subject: Message-ID: <a@b>"), None);
        assert_eq!(message_id_of("Message-ID:"), None);
    }
}
