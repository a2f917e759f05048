//! The statements the service sends to PostgreSQL, captured on the wire, turned into pgbench scripts.
//!
//! A baseline must be the service's own work without the service around it: the statements are not
//! retyped here but read off the connection. [`Capture`] is a TCP proxy in front of PostgreSQL that
//! records, while recording is on, every simple query (`Q`) and every bound extended-protocol statement
//! (`Parse` text with the values of its `Bind`) a client sends. [`Captured::pgbench_line`] writes one as
//! a pgbench command: the same SQL, each `$n` a pgbench variable (or a per-transaction expression for
//! the values that must differ between requests) cast to the type the service declared for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One statement as the service sent it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub sql: String,
    /// Per `$n`: the declared type's name and the value as PostgreSQL's text form (`None` for NULL).
    pub params: Vec<(String, Option<String>)>,
}

/// A recording proxy in front of PostgreSQL.
pub struct Capture {
    pub port: u16,
    recording: Arc<Mutex<Option<Vec<Captured>>>>,
}

impl Capture {
    /// Listens on a free loopback port and forwards every connection to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let recording: Arc<Mutex<Option<Vec<Captured>>>> = Arc::new(Mutex::new(None));
        let shared = recording.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        let _ = relay(client, server, shared).await;
                    }
                });
            }
        });
        Ok(Self { port, recording })
    }

    /// Starts recording (what was recorded before is dropped).
    pub fn record(&self) {
        *self.recording.lock().expect("capture lock") = Some(Vec::new());
    }

    /// Stops recording and gives what was recorded.
    pub fn take(&self) -> Vec<Captured> {
        self.recording
            .lock()
            .expect("capture lock")
            .take()
            .unwrap_or_default()
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    recording: Arc<Mutex<Option<Vec<Captured>>>>,
) -> anyhow::Result<()> {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    });
    let mut parser = Frontend::default();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = client_read.read(&mut chunk).await?;
        if n == 0 {
            let _ = server_write.shutdown().await;
            return Ok(());
        }
        server_write.write_all(&chunk[..n]).await?;
        for captured in parser.feed(&chunk[..n])? {
            if let Some(list) = recording.lock().expect("capture lock").as_mut() {
                list.push(captured);
            }
        }
    }
}

/// The frontend side of one connection: its prepared statements and the bytes not yet parsed.
#[derive(Default)]
struct Frontend {
    buffer: Vec<u8>,
    started: bool,
    statements: HashMap<String, (String, Vec<u32>)>,
}

impl Frontend {
    fn feed(&mut self, bytes: &[u8]) -> anyhow::Result<Vec<Captured>> {
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if !self.started {
                // The startup message (or an SSL/GSS request before it) has no type byte.
                let Some(len) = be_u32(&self.buffer, 0) else {
                    break;
                };
                let len = len as usize;
                if self.buffer.len() < len {
                    break;
                }
                let code = be_u32(&self.buffer, 4).unwrap_or(0);
                self.buffer.drain(..len);
                // 80877103: SSLRequest, 80877104: GSSENCRequest; anything else is the startup.
                if code != 80_877_103 && code != 80_877_104 {
                    self.started = true;
                }
                continue;
            }
            let Some(len) = be_u32(&self.buffer, 1) else {
                break;
            };
            let total = 1 + len as usize;
            if self.buffer.len() < total {
                break;
            }
            let kind = self.buffer[0];
            let body: Vec<u8> = self.buffer[5..total].to_vec();
            self.buffer.drain(..total);
            match kind {
                b'Q' => out.push(Captured {
                    sql: cstr(&body, &mut 0)?,
                    params: Vec::new(),
                }),
                b'P' => {
                    let mut at = 0;
                    let name = cstr(&body, &mut at)?;
                    let sql = cstr(&body, &mut at)?;
                    let n = be_i16(&body, &mut at)?;
                    let mut types = Vec::new();
                    for _ in 0..n {
                        types.push(be_i32(&body, &mut at)? as u32);
                    }
                    self.statements.insert(name, (sql, types));
                }
                b'B' => out.push(self.bind(&body)?),
                _ => {}
            }
        }
        Ok(out)
    }

    fn bind(&self, body: &[u8]) -> anyhow::Result<Captured> {
        let mut at = 0;
        let _portal = cstr(body, &mut at)?;
        let statement = cstr(body, &mut at)?;
        let (sql, types) = self
            .statements
            .get(&statement)
            .with_context(|| format!("a Bind of the unknown statement {statement:?}"))?;
        let n_formats = be_i16(body, &mut at)?;
        let mut formats = Vec::new();
        for _ in 0..n_formats {
            formats.push(be_i16(body, &mut at)?);
        }
        let n = be_i16(body, &mut at)? as usize;
        let mut params = Vec::with_capacity(n);
        for i in 0..n {
            let len = be_i32(body, &mut at)?;
            let format = match formats.len() {
                0 => 0,
                1 => formats[0],
                _ => formats[i],
            };
            let oid = types.get(i).copied().unwrap_or(0);
            let type_name = type_name(oid)?;
            if len < 0 {
                params.push((type_name.to_owned(), None));
                continue;
            }
            let value = body
                .get(at..at + len as usize)
                .context("a Bind shorter than it says")?;
            at += len as usize;
            let text = if format == 0 {
                String::from_utf8(value.to_vec())?
            } else {
                binary_to_text(oid, value)?
            };
            params.push((type_name.to_owned(), Some(text)));
        }
        Ok(Captured {
            sql: sql.clone(),
            params,
        })
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_i32(b: &[u8], at: &mut usize) -> anyhow::Result<i32> {
    let v = i32::from_be_bytes(b.get(*at..*at + 4).context("short message")?.try_into()?);
    *at += 4;
    Ok(v)
}

fn be_i16(b: &[u8], at: &mut usize) -> anyhow::Result<i16> {
    let v = i16::from_be_bytes(b.get(*at..*at + 2).context("short message")?.try_into()?);
    *at += 2;
    Ok(v)
}

fn cstr(b: &[u8], at: &mut usize) -> anyhow::Result<String> {
    let end = b[*at..]
        .iter()
        .position(|&c| c == 0)
        .context("an unterminated string")?;
    let s = String::from_utf8(b[*at..*at + end].to_vec())?;
    *at += end + 1;
    Ok(s)
}

fn type_name(oid: u32) -> anyhow::Result<&'static str> {
    Ok(match oid {
        16 => "bool",
        17 => "bytea",
        20 => "int8",
        21 => "int2",
        23 => "int4",
        25 => "text",
        114 => "json",
        700 => "float4",
        701 => "float8",
        1042 => "bpchar",
        1043 => "varchar",
        1082 => "date",
        1114 => "timestamp",
        1184 => "timestamptz",
        2950 => "uuid",
        3802 => "jsonb",
        other => bail!("a parameter of type oid {other}, which this capture does not read"),
    })
}

/// PostgreSQL's binary form of a value, as its text form.
fn binary_to_text(oid: u32, v: &[u8]) -> anyhow::Result<String> {
    let int = |n: usize| -> anyhow::Result<i64> {
        anyhow::ensure!(v.len() == n, "an integer of {} bytes", v.len());
        let mut b = [0u8; 8];
        b[8 - n..].copy_from_slice(v);
        // Sign-extend from n bytes.
        Ok(i64::from_be_bytes(b) << (64 - 8 * n) >> (64 - 8 * n))
    };
    let epoch = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .context("epoch")?;
    Ok(match oid {
        16 => (v.first() == Some(&1)).to_string(),
        20 => int(8)?.to_string(),
        23 => int(4)?.to_string(),
        21 => int(2)?.to_string(),
        25 | 114 | 1042 | 1043 => String::from_utf8(v.to_vec())?,
        3802 => String::from_utf8(v.get(1..).unwrap_or_default().to_vec())?,
        701 => f64::from_be_bytes(v.try_into()?).to_string(),
        700 => f32::from_be_bytes(v.try_into()?).to_string(),
        1114 | 1184 => {
            let at = epoch + chrono::Duration::microseconds(int(8)?);
            format!("{}+00", at.format("%Y-%m-%d %H:%M:%S%.6f"))
        }
        1082 => (epoch.date() + chrono::Duration::days(int(4)?)).to_string(),
        2950 => uuid::Uuid::from_slice(v)?.hyphenated().to_string(),
        17 => v.iter().fold(String::from("\\x"), |mut s, b| {
            s.push_str(&format!("{b:02x}"));
            s
        }),
        other => bail!("no binary reader for oid {other}"),
    })
}

impl Captured {
    /// This statement as a pgbench command: `$n` becomes `(:{prefix}n)::type`, whose value
    /// [`Captured::pgbench_defines`] gives, or `(expr)::type` where `vary` gives a per-transaction
    /// expression for the value.
    pub fn pgbench_line(&self, prefix: &str, vary: &dyn Fn(&str) -> Option<String>) -> String {
        let mut sql = String::with_capacity(self.sql.len() + 64);
        let bytes = self.sql.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                let mut j = i + 1;
                while bytes.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
                let n: usize = self.sql[i + 1..j].parse().unwrap_or(0);
                match self.params.get(n.wrapping_sub(1)) {
                    Some((ty, value)) => {
                        let expr = match value {
                            None => "NULL".to_owned(),
                            Some(v) => vary(v).unwrap_or_else(|| format!(":{prefix}{n}")),
                        };
                        sql.push_str(&format!("({expr})::{ty}"));
                    }
                    None => sql.push_str(&self.sql[i..j]),
                }
                i = j;
            } else {
                let c = self.sql[i..].chars().next().unwrap_or(' ');
                sql.push(c);
                i += c.len_utf8();
            }
        }
        sql.push(';');
        sql
    }

    /// The `-D name=value` definitions of this statement's fixed values for pgbench.
    pub fn pgbench_defines(&self, prefix: &str) -> Vec<String> {
        self.params
            .iter()
            .enumerate()
            .filter_map(|(i, (_, v))| Some(format!("{prefix}{}={}", i + 1, v.as_ref()?)))
            .collect()
    }
}
