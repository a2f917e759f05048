//! A lean keep-alive HTTP/1.1 client connection for the load generator.
//!
//! The load generator shares the machine's cores with the server and the database, so every
//! microsecond it spends is taken from what it measures, while pgbench, the other side of each ratio,
//! is a lean C client. This connection does only what a measured request needs: it writes each
//! request in one `write`, reads the answer into one reused buffer, parses its head with `httparse`
//! and takes its body by `Content-Length`. An answer it cannot read that way (chunked, or closing
//! the connection) is an error, which fails the run.

use std::io::Write as _;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most headers an answer of the server carries (it sends about ten).
const MAX_HEADERS: usize = 32;

/// One keep-alive connection to `127.0.0.1:port`.
pub struct Conn {
    stream: TcpStream,
    /// The request being sent, rebuilt in place for each.
    out: Vec<u8>,
    /// Bytes read from the server; an answer is taken from its front.
    buf: Vec<u8>,
}

/// An answer: its status and its body.
pub struct Answer<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

impl Conn {
    pub async fn connect(port: u16) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            out: Vec::with_capacity(1024),
            buf: Vec::with_capacity(8192),
        })
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> anyhow::Result<Answer<'_>> {
        self.out.clear();
        self.out.extend_from_slice(b"GET ");
        self.out.extend_from_slice(path.as_bytes());
        self.out
            .extend_from_slice(b" HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
        self.exchange().await
    }

    /// `POST path` with the JSON body made of `parts`, in order.
    pub async fn post_json(&mut self, path: &str, parts: &[&[u8]]) -> anyhow::Result<Answer<'_>> {
        let length: usize = parts.iter().map(|p| p.len()).sum();
        self.out.clear();
        self.out.extend_from_slice(b"POST ");
        self.out.extend_from_slice(path.as_bytes());
        self.out.extend_from_slice(
            b" HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ",
        );
        write!(self.out, "{length}")?;
        self.out.extend_from_slice(b"\r\n\r\n");
        for part in parts {
            self.out.extend_from_slice(part);
        }
        self.exchange().await
    }

    /// Sends `out` and reads one whole answer.
    async fn exchange(&mut self) -> anyhow::Result<Answer<'_>> {
        self.stream.write_all(&self.out).await?;
        // The buffer holds the previous answer and nothing after it (more would have failed it).
        self.buf.clear();
        let (status, head_len, body_len) = loop {
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            self.read_more().await?;
        };
        let end = head_len + body_len;
        while self.buf.len() < end {
            self.read_more().await?;
        }
        if self.buf.len() > end {
            bail!("the server sent more than one answer to one request");
        }
        Ok(Answer {
            status,
            body: &self.buf[head_len..end],
        })
    }

    async fn read_more(&mut self) -> anyhow::Result<()> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(8192);
        }
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }
}

/// The status, head length and body length of the answer at the front of `buf`, or `None` while
/// its head is incomplete.
fn parse_head(buf: &[u8]) -> anyhow::Result<Option<(u16, usize, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf).context("the answer's head")? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let status = response.code.context("the answer has no status")?;
    let mut body_len = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(header.value).context("Content-Length")?;
            body_len = Some(text.trim().parse::<usize>().context("Content-Length")?);
        } else if header.name.eq_ignore_ascii_case("connection")
            && header.value.eq_ignore_ascii_case(b"close")
        {
            bail!("the server closes the connection (status {status})");
        }
    }
    let body_len =
        body_len.with_context(|| format!("an answer ({status}) without Content-Length"))?;
    Ok(Some((status, head_len, body_len)))
}

#[cfg(test)]
mod tests {
    use super::parse_head;

    #[test]
    fn a_head_is_read_once_complete() {
        let answer = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        assert!(parse_head(&answer[..20]).expect("a head").is_none());
        assert_eq!(
            parse_head(answer).expect("a head"),
            Some((201, answer.len() - 2, 2))
        );
    }

    #[test]
    fn answers_it_cannot_read_are_errors() {
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert!(
            parse_head(b"HTTP/1.1 429 Too Many\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                .is_err()
        );
    }
}
