//! A tiny SMTP server for tests and benchmarks: it speaks enough of RFC 5321 for a real client
//! (EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT), keeps every message it accepts with its
//! envelope, and can be stopped (the port refuses connections, open sessions are cut) and started
//! again on the same port — the "mail server is down" case. It can also hold its answer to each
//! message's final `.` until released ([`SmtpSink::hold_replies`]): a message whose client goes away
//! while held is never accepted, as RFC 5321 wants; and it can go mute ([`SmtpSink::mute`]): new
//! connections are accepted but never greeted — the "server that says nothing" case. And it can
//! answer a chosen reply ([`SmtpSink::reply_next`]): a 4xx or 5xx to `RCPT TO`, to `DATA` or to the
//! message's final `.`, or a connection dropped at one of those points — the "server that defers,
//! refuses or goes away" cases. For a long run it can keep only each message's `Message-ID`
//! ([`SmtpSink::start_keeping_ids`]), so that hours of mail cost megabytes, not every message's body.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::AbortHandle;

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`).
    pub rcpt_to: Vec<String>,
    /// The message as sent, dot-stuffing undone, lines ending in CRLF.
    pub data: Vec<u8>,
    /// Whether the sink answered 250 to its final `.`. A message whose connection was dropped
    /// after the final `.` and before the answer ([`SmtpReply::Drop`] at [`SmtpStage::EndOfData`])
    /// is kept with `false`: a real server may have delivered it all the same, and the client
    /// cannot know.
    pub acknowledged: bool,
}

/// What a sink keeps of each message it takes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// The whole message and its envelope ([`SmtpSink::messages`]).
    Whole,
    /// Its `Message-ID` and how many times it arrived ([`SmtpSink::ids`]).
    Ids,
}

/// A point of the SMTP conversation where the sink can answer otherwise than it usually does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmtpStage {
    /// The answer to `RCPT TO`.
    Rcpt,
    /// The answer to the `DATA` command (before the message is sent).
    Data,
    /// The answer to the message's final `.` (after the whole message was sent).
    EndOfData,
}

/// What the sink answers at a [`SmtpStage`] instead of its usual reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpReply {
    /// This reply line, without the CRLF, e.g. `451 4.3.0 Try again later`.
    Line(String),
    /// No answer: the connection is closed.
    Drop,
}

impl SmtpReply {
    /// The reply line `code text`.
    pub fn code(code: u16, text: &str) -> SmtpReply {
        SmtpReply::Line(format!("{code} {text}"))
    }
}

struct Shared {
    keep: Keep,
    messages: Mutex<Vec<ReceivedMail>>,
    /// Messages taken in, whatever is kept of them.
    taken: AtomicUsize,
    /// Times each `Message-ID` (without its angle brackets) was taken in, when keeping ids.
    ids: Mutex<HashMap<String, u32>>,
    /// Messages taken in without a `Message-ID`, when keeping ids.
    without_id: AtomicUsize,
    /// The accept loop and the open sessions, to cut when stopping.
    tasks: Mutex<Vec<AbortHandle>>,
    /// While true, the answer to a message's final `.` waits.
    hold: tokio::sync::watch::Sender<bool>,
    /// Messages whose answer is waiting now.
    held: AtomicUsize,
    /// Messages whose client went away while their answer was held: never accepted.
    dropped_while_held: AtomicUsize,
    /// While true, new connections are accepted and never greeted.
    mute: AtomicBool,
    /// Connections accepted so far.
    connections: AtomicUsize,
    /// Replies to give instead of the usual ones, in order, per stage.
    replies: Mutex<Vec<(SmtpStage, SmtpReply)>>,
    /// How many times each stage was reached.
    reached: Mutex<HashMap<SmtpStage, usize>>,
}

impl Shared {
    fn new(keep: Keep) -> Self {
        Self {
            keep,
            messages: Mutex::default(),
            taken: AtomicUsize::new(0),
            ids: Mutex::default(),
            without_id: AtomicUsize::new(0),
            tasks: Mutex::default(),
            hold: tokio::sync::watch::Sender::new(false),
            held: AtomicUsize::new(0),
            dropped_while_held: AtomicUsize::new(0),
            mute: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            replies: Mutex::default(),
            reached: Mutex::default(),
        }
    }

    /// Keeps what the sink keeps of a message taken in.
    fn take_in(&self, mail: ReceivedMail) {
        match self.keep {
            Keep::Whole => {
                if let Ok(mut messages) = self.messages.lock() {
                    messages.push(mail);
                }
            }
            Keep::Ids => match message_id(&mail.data) {
                Some(id) => {
                    if let Ok(mut ids) = self.ids.lock() {
                        *ids.entry(id).or_insert(0) += 1;
                    }
                }
                None => {
                    self.without_id.fetch_add(1, Ordering::SeqCst);
                }
            },
        }
        self.taken.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts a stage reached and takes the reply scripted for it, if any.
    fn reached(&self, stage: SmtpStage) -> Option<SmtpReply> {
        if let Ok(mut reached) = self.reached.lock() {
            *reached.entry(stage).or_insert(0) += 1;
        }
        let mut replies = self.replies.lock().ok()?;
        let index = replies.iter().position(|(s, _)| *s == stage)?;
        Some(replies.remove(index).1)
    }
}

/// A running (or stopped) sink.
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl SmtpSink {
    /// Starts a sink on a free port of 127.0.0.1, keeping every message whole.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_keeping(Keep::Whole).await
    }

    /// Starts a sink on a free port of 127.0.0.1 that keeps only each message's `Message-ID` and
    /// how many times it arrived ([`SmtpSink::ids`], [`SmtpSink::without_id`]); [`SmtpSink::messages`]
    /// stays empty.
    pub async fn start_keeping_ids() -> std::io::Result<Self> {
        Self::start_keeping(Keep::Ids).await
    }

    async fn start_keeping(keep: Keep) -> std::io::Result<Self> {
        let mut sink = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            shared: Arc::new(Shared::new(keep)),
        };
        sink.addr = sink.listen(sink.addr).await?;
        Ok(sink)
    }

    /// `smtp://127.0.0.1:<port>`: plain SMTP, as lettre reads it.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn listen(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(1024)?;
        let bound = listener.local_addr()?;
        let shared = Arc::clone(&self.shared);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let session_shared = Arc::clone(&shared);
                let session = tokio::spawn(async move {
                    let _ = session(stream, &session_shared).await;
                });
                if let Ok(mut tasks) = shared.tasks.lock() {
                    tasks.retain(|t| !t.is_finished());
                    tasks.push(session.abort_handle());
                }
            }
        });
        if let Ok(mut tasks) = self.shared.tasks.lock() {
            tasks.push(accept.abort_handle());
        }
        Ok(bound)
    }

    /// Stops listening and cuts every open session: clients see connections refused or reset.
    pub async fn stop(&self) {
        let tasks: Vec<AbortHandle> = self
            .shared
            .tasks
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        for task in &tasks {
            task.abort();
        }
        // Let the aborted tasks drop their sockets before anyone connects again.
        for _ in 0..100 {
            if tasks.iter().all(AbortHandle::is_finished) {
                break;
            }
            tokio::task::yield_now().await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&self) -> std::io::Result<()> {
        self.listen(self.addr).await.map(|_| ())
    }

    /// Holds (or, with `false`, releases) the answers to messages' final `.`.
    pub fn hold_replies(&self, hold: bool) {
        self.shared.hold.send_replace(hold);
    }

    /// How many messages wait for their answer now.
    pub fn held(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// How many messages were abandoned by their client while their answer was held.
    pub fn dropped_while_held(&self) -> usize {
        self.shared.dropped_while_held.load(Ordering::SeqCst)
    }

    /// Makes new connections silent (accepted, never greeted) or, with `false`, normal again.
    pub fn mute(&self, mute: bool) {
        self.shared.mute.store(mute, Ordering::SeqCst);
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Answers `reply` the next time the conversation reaches `stage`, instead of the usual reply
    /// (250, or 354 to `DATA`). Replies queued for one stage are given in order, one per time.
    pub fn reply_next(&self, stage: SmtpStage, reply: SmtpReply) {
        if let Ok(mut replies) = self.shared.replies.lock() {
            replies.push((stage, reply));
        }
    }

    /// How many times a conversation reached `stage` so far (scripted replies included).
    pub fn reached(&self, stage: SmtpStage) -> usize {
        self.shared
            .reached
            .lock()
            .map(|r| r.get(&stage).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Every message received so far, in order of arrival.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared
            .messages
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// How many messages were received so far.
    pub fn count(&self) -> usize {
        self.shared.taken.load(Ordering::SeqCst)
    }

    /// Every `Message-ID` received so far (without its angle brackets), with how many times it
    /// arrived: for a sink keeping ids.
    pub fn ids(&self) -> HashMap<String, u32> {
        self.shared
            .ids
            .lock()
            .map(|ids| ids.clone())
            .unwrap_or_default()
    }

    /// How many messages arrived without a `Message-ID`: for a sink keeping ids.
    pub fn without_id(&self) -> usize {
        self.shared.without_id.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` messages arrived or `deadline` passed; returns what arrived.
    pub async fn wait_for(&self, n: usize, deadline: Duration) -> Vec<ReceivedMail> {
        let until = tokio::time::Instant::now() + deadline;
        while self.count() < n && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.messages()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Ok(tasks) = self.shared.tasks.lock() {
            for task in tasks.iter() {
                task.abort();
            }
        }
    }
}

/// The value of a message's `Message-ID` header, without its angle brackets. Headers end at the
/// first empty line; a folded header continues on lines that begin with white space.
fn message_id(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let mut header = String::new();
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.starts_with([' ', '\t']) {
            header.push_str(line);
            continue;
        }
        if let Some(id) = message_id_of(&header) {
            return Some(id);
        }
        if line.is_empty() {
            return None;
        }
        header.clear();
        header.push_str(line);
    }
    message_id_of(&header)
}

/// The value of one `Message-ID:` header line, without its angle brackets.
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

/// Takes the address out of `FROM:<a@b> SIZE=…` / `TO:<a@b>`.
fn path_of(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(start), Some(end)) if start < end => arg[start + 1..end].to_owned(),
        _ => arg
            .split_once(':')
            .map_or(arg, |(_, rest)| rest)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

async fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    shared.connections.fetch_add(1, Ordering::SeqCst);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    if shared.mute.load(Ordering::SeqCst) {
        // Say nothing; read until the client gives up.
        let mut sink = Vec::new();
        while reader.read_until(b'\n', &mut sink).await? > 0 {
            sink.clear();
        }
        return Ok(());
    }
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                write
                    .write_all(
                        b"250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760\r\n",
                    )
                    .await?
            }
            "HELO" => write.write_all(b"250 sink.test\r\n").await?,
            "MAIL" => {
                mail_from = path_of(arg);
                rcpt_to.clear();
                write.write_all(b"250 2.1.0 OK\r\n").await?;
            }
            "RCPT" => match shared.reached(SmtpStage::Rcpt) {
                Some(SmtpReply::Drop) => return Ok(()),
                Some(SmtpReply::Line(reply)) => {
                    write.write_all(format!("{reply}\r\n").as_bytes()).await?;
                }
                None => {
                    rcpt_to.push(path_of(arg));
                    write.write_all(b"250 2.1.5 OK\r\n").await?;
                }
            },
            "DATA" => {
                match shared.reached(SmtpStage::Data) {
                    Some(SmtpReply::Drop) => return Ok(()),
                    Some(SmtpReply::Line(reply)) => {
                        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
                        continue;
                    }
                    None => {}
                }
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if reader.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    let content = line.strip_prefix(b".").unwrap_or(&line);
                    data.extend_from_slice(content);
                }
                if *shared.hold.borrow() {
                    shared.held.fetch_add(1, Ordering::SeqCst);
                    let mut released = shared.hold.subscribe();
                    let client_left = tokio::select! {
                        _ = released.wait_for(|hold| !*hold) => false,
                        read = reader.fill_buf() => read.map_or(true, |buf| buf.is_empty()),
                    };
                    shared.held.fetch_sub(1, Ordering::SeqCst);
                    if client_left {
                        shared.dropped_while_held.fetch_add(1, Ordering::SeqCst);
                        return Ok(());
                    }
                }
                let reply = shared.reached(SmtpStage::EndOfData);
                if let Some(SmtpReply::Line(reply)) = reply {
                    // Refused: the message is not kept, and the envelope is reset as after a reply.
                    mail_from.clear();
                    rcpt_to.clear();
                    write.write_all(format!("{reply}\r\n").as_bytes()).await?;
                    continue;
                }
                let acknowledged = reply.is_none();
                shared.take_in(ReceivedMail {
                    mail_from: std::mem::take(&mut mail_from),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data,
                    acknowledged,
                });
                if !acknowledged {
                    // Taken in, and the connection dropped before the answer.
                    return Ok(());
                }
                write.write_all(b"250 2.0.0 OK queued\r\n").await?;
            }
            "RSET" => {
                mail_from.clear();
                rcpt_to.clear();
                write.write_all(b"250 2.0.0 OK\r\n").await?;
            }
            "NOOP" => write.write_all(b"250 2.0.0 OK\r\n").await?,
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => {
                write
                    .write_all(b"502 5.5.2 Command not recognised\r\n")
                    .await?
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{message_id, message_id_of};

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

    #[test]
    fn finds_the_message_id_among_the_headers_only() {
        let folded = b"From: a@b\r\nMessage-ID:\r\n <x@y>\r\nSubject: s\r\n\r\nbody\r\n";
        assert_eq!(message_id(folded).as_deref(), Some("x@y"));
        let last = b"From: a@b\r\nMessage-ID: <z@y>\r\n\r\nbody\r\n";
        assert_eq!(message_id(last).as_deref(), Some("z@y"));
        let in_body = b"From: a@b\r\n\r\nMessage-ID: <x@y>\r\n";
        assert_eq!(message_id(in_body), None);
        assert_eq!(
            message_id(b"Message-ID: <only@header>"),
            Some("only@header".to_owned())
        );
    }
}
