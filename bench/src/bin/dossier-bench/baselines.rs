//! The baselines: pgbench running the service's captured statements and the minimal transaction on
//! PostgreSQL ([`capture_scripts`], [`pgbench`], the best run kept by [`keep_best`]), and the
//! batched raw insert on SQLite ([`sqlite_batched_insert`]).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::checkpoint;
use bench::cpu::{finished_children_cpu_seconds, micros_per, postgres_cpu_seconds};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use tests::valid_request;

use crate::load::Phase;
use crate::pg_capture;
use crate::server::start_server;

/// The smallest honest transaction a pickup request needs: its dossier row and its first event,
/// committed together. (JSON keeps a space after each colon: pgbench reads `:name` as a variable.)
pub const MINIMAL_TXN_PG: &str = r#"
BEGIN;
INSERT INTO dossiers (code, status, service_mode, procedure_code, agency_code, office_code, applicant_full_name, applicant_phone, applicant_email, applicant_id_number, pickup_line, pickup_ward_code, pickup_province_code, return_line, return_ward_code, return_province_code, documents, with_appointment, fee_exemption, route_class, postage_vnd, admin_fee_vnd, total_vnd, access_token_hash, language, created_at, updated_at) VALUES (substr(md5(random()::text), 1, 11), 'pickup_requested', 'send_and_return', '1.001612', 'UBND-P-HOANKIEM', '100000', 'Nguyễn Văn An', '0912345678', 'an@example.vn', '001090012345', '12 Tràng Tiền', '00070', '01', '12 Tràng Tiền', '00070', '01', '[{"name": "Tờ khai đăng ký", "original": true, "copies": 1}]', false, 'none', 'local', 52000, 8000, 60000, md5(random()::text) || md5(random()::text), 'vi', now(), now()) RETURNING id \gset
INSERT INTO dossier_events (dossier_id, at, kind, source, actor, to_status, recorded_at) VALUES (:id, now(), 'requested', 'api', 'public', 'pickup_requested', now());
COMMIT;
"#;

/// pgbench scripts of the service's own statements, with the variables they read.
pub struct Scripts {
    pub intake: Vec<String>,
    pub intake_defines: Vec<String>,
    /// The tracking read, its code drawn per transaction from [`TRACK_CODES`] (`-D codes=…` rows).
    pub track: String,
    pub track_defines: Vec<String>,
}

/// The table the tracking baseline draws its codes from: the codes the service's tracking phase
/// read, numbered from 1, so that pgbench reads the same dossiers as the service (not the rows the
/// intake baselines wrote, which have no parcels, nor a handful over and over).
pub const TRACK_CODES: &str = "bench_track_codes";

/// Fills [`TRACK_CODES`] with `codes`; their number.
pub async fn number_codes(db_url: &str, codes: &[String]) -> anyhow::Result<u64> {
    let db = Database::connect(db_url).await?;
    let backend = db.get_database_backend();
    for sql in [
        format!(
            "CREATE TABLE IF NOT EXISTS {TRACK_CODES} (n int8 PRIMARY KEY, code text NOT NULL)"
        ),
        format!("TRUNCATE {TRACK_CODES}"),
    ] {
        db.execute_raw(Statement::from_string(backend, sql)).await?;
    }
    for (chunk_index, chunk) in codes.chunks(1000).enumerate() {
        let mut sql = format!("INSERT INTO {TRACK_CODES} (n, code) VALUES ");
        for (i, _) in chunk.iter().enumerate() {
            let n = chunk_index * 1000 + i + 1;
            if i > 0 {
                sql.push_str(", ");
            }
            write!(sql, "({n}, ${})", i + 1)?;
        }
        let values = chunk.iter().map(|c| c.clone().into());
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    db.execute_raw(Statement::from_string(
        backend,
        format!("ANALYZE {TRACK_CODES}"),
    ))
    .await?;
    db.close().await?;
    Ok(u64::try_from(codes.len())?)
}

/// Runs a server whose database connection passes through [`pg_capture::Capture`], sends it one
/// pickup request and one tracking read after a warm-up of each, and writes what it sent to
/// PostgreSQL for each as pgbench scripts.
pub async fn capture_scripts(
    server_bin: &std::path::Path,
    db_url: &str,
    env: &[(String, String)],
) -> anyhow::Result<Scripts> {
    let mut url = reqwest::Url::parse(db_url)?;
    let upstream = format!(
        "{}:{}",
        url.host_str().context("no host in the database URL")?,
        url.port().unwrap_or(5432)
    );
    let capture = pg_capture::Capture::start(upstream).await?;
    url.set_port(Some(capture.port))
        .map_err(|()| anyhow::anyhow!("cannot set the port"))?;
    url.query_pairs_mut().append_pair("sslmode", "disable");
    let mut server = start_server(server_bin, url.as_str(), env).await?;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}", server.port);
    let request = |phone: &str| {
        let mut body = valid_request();
        body["applicant"]["phone"] = json!(phone);
        client
            .post(format!("{base}/api/v1/dossiers"))
            .json(&body)
            .send()
    };
    let warm: Value = request("0911111111")
        .await?
        .error_for_status()?
        .json()
        .await?;
    let warm_code = warm["code"].as_str().context("no code")?.to_owned();
    client
        .get(format!("{base}/api/v1/track/{warm_code}"))
        .send()
        .await?
        .error_for_status()?;
    capture.record();
    let made: Value = request("0987654321")
        .await?
        .error_for_status()?
        .json()
        .await?;
    let intake = capture.take();
    let code = made["code"].as_str().context("no code")?.to_owned();
    capture.record();
    client
        .get(format!("{base}/api/v1/track/{code}"))
        .send()
        .await?
        .error_for_status()?;
    let track = capture.take();
    server.child.kill().await.ok();
    anyhow::ensure!(
        !intake.is_empty() && !track.is_empty(),
        "nothing was captured"
    );
    println!("captured for a pickup request:");
    for c in &intake {
        println!("  {}", c.sql.chars().take(160).collect::<String>());
    }
    println!("captured for a tracking read:");
    for c in &track {
        println!("  {}", c.sql.chars().take(160).collect::<String>());
    }

    // Values that must differ per request: the dossier's code, its token's hash, the phone.
    let vary_intake = |v: &str| -> Option<String> {
        if v == code {
            Some("substr(md5(random()::text), 1, 11)".into())
        } else if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some("md5(random()::text) || md5(random()::text)".into())
        } else if v.len() <= 13 && v.ends_with("987654321") {
            let prefix = &v[..v.len() - 9];
            Some(format!(
                "'{prefix}' || lpad(floor(random() * 1000000000)::int8::text, 9, '0')"
            ))
        } else {
            None
        }
    };
    let mut intake_script = String::new();
    let mut intake_defines = Vec::new();
    for (i, c) in intake.iter().enumerate() {
        let prefix = format!("i{i}p");
        intake_script.push_str(&c.pgbench_line(&prefix, &vary_intake));
        intake_script.push('\n');
        intake_defines.extend(
            c.pgbench_defines(&prefix)
                .into_iter()
                .filter(|d| vary_intake(d.split_once('=').map_or("", |(_, v)| v)).is_none()),
        );
    }
    // The tracked code is the one value that changes: each transaction reads one drawn at random
    // from every dossier's (a primary-key read of a small table inside the statement, the same for
    // every transaction).
    let vary_track =
        |v: &str| (v == code).then(|| format!("SELECT code FROM {TRACK_CODES} WHERE n = :track_n"));
    let mut track_script = String::from("\\set track_n random(1, :codes)\n");
    let mut track_defines = Vec::new();
    for (i, c) in track.iter().enumerate() {
        let prefix = format!("t{i}p");
        track_script.push_str(&c.pgbench_line(&prefix, &vary_track));
        track_script.push('\n');
        track_defines.extend(
            c.pgbench_defines(&prefix)
                .into_iter()
                .filter(|d| d.split_once('=').map_or("", |(_, v)| v) != code),
        );
    }
    Ok(Scripts {
        intake: vec![intake_script],
        intake_defines,
        track: track_script,
        track_defines,
    })
}

/// A pgbench run: its rate, and whose CPU it took.
pub struct Baseline {
    pub tps: f64,
    pub clients: usize,
    pub latency_ms: f64,
    /// PostgreSQL's CPU time per transaction, in µs.
    pub pg_cpu_us: Option<f64>,
    /// pgbench's own CPU time per transaction, in µs.
    pub client_cpu_us: Option<f64>,
    /// Transactions run.
    pub transactions: f64,
    /// The relay's CPU time per transaction, in µs, when pgbench ran through one.
    pub relay_cpu_us: Option<f64>,
}

impl Baseline {
    /// Prints one run, named as the service's runs are (`name [N clients]`), with whose CPU it took.
    pub fn print_run(&self, name: &str) {
        let name = format!("{name} [{} clients]", self.clients);
        println!(
            "{name:<58} {:>10.0} tps  avg latency {:>6.2} ms",
            self.tps, self.latency_ms
        );
        if let (Some(pg), Some(client)) = (self.pg_cpu_us, self.client_cpu_us) {
            match self.relay_cpu_us {
                Some(relay) => println!(
                    "  CPU per transaction: PostgreSQL {pg:.0} µs, pgbench {client:.0} µs, relay {relay:.0} µs"
                ),
                None => {
                    println!("  CPU per transaction: PostgreSQL {pg:.0} µs, pgbench {client:.0} µs")
                }
            }
        }
    }

    /// Prints the best run of a baseline.
    pub fn print_best(&self, name: &str) {
        println!(
            "  best of {name}: {:.0} tps at {} clients",
            self.tps, self.clients
        );
    }
}

/// Keeps `run` in `best` when it ran more transactions per second than the one kept.
pub fn keep_best(best: &mut Option<Baseline>, run: Baseline) {
    if best.as_ref().is_none_or(|b| run.tps > b.tps) {
        *best = Some(run);
    }
}

/// One pgbench run of `scripts` (`-M prepared`, no per-transaction log) from `clients` clients.
pub async fn pgbench(
    db_url: &str,
    scripts: &[String],
    defines: &[String],
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Baseline> {
    checkpoint(db_url).await?;
    let dir = tempfile::tempdir()?;
    let mut command = tokio::process::Command::new("pgbench");
    command.args([
        "-n",
        "-M",
        "prepared",
        "-c",
        &clients.to_string(),
        "-j",
        "2",
        "-T",
        &seconds.to_string(),
    ]);
    for (i, script) in scripts.iter().enumerate() {
        let path = dir.path().join(format!("script{i}.sql"));
        std::fs::write(&path, script)?;
        command.arg("-f").arg(path);
    }
    for define in defines {
        command.arg("-D").arg(define);
    }
    let pg_before = postgres_cpu_seconds();
    let client_before = finished_children_cpu_seconds();
    let out = command
        .arg(db_url)
        .output()
        .await
        .context("run pgbench (Debian package postgresql-client)")?;
    // The backends pgbench used end with it; their time is counted once the postmaster has
    // collected them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pg_after = postgres_cpu_seconds();
    let client_after = finished_children_cpu_seconds();
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("aborted") {
        bail!(
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let value_after = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split('=').nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let tps = value_after("tps").context("pgbench printed no tps")?;
    let transactions = text
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .context("pgbench printed no number of transactions")?;
    Ok(Baseline {
        tps,
        clients,
        latency_ms: value_after("latency average").unwrap_or(0.0),
        pg_cpu_us: micros_per(pg_before, pg_after, transactions),
        client_cpu_us: micros_per(client_before, client_after, transactions),
        transactions,
        relay_cpu_us: None,
    })
}

/// The service's SQLite writes without the service: its three statements per dossier (the dossier
/// with its phone's count, the two parcels, the first event reading the webhooks and outlets), 64
/// dossiers per transaction as its writer batches them, over one connection of the same driver.
pub async fn sqlite_batched_insert(db_url: &str, seconds: u64) -> anyhow::Result<Phase> {
    let store = domain_store(db_url).await?;
    let backend = store.get_database_backend();
    // Codes and phones of their own in every round.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let started = Instant::now();
    let mut n: u64 = 0;
    let mut latencies_us = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        let t = Instant::now();
        let txn = sea_orm::TransactionTrait::begin(&store).await?;
        for _ in 0..64 {
            let k = NEXT.fetch_add(1, Ordering::Relaxed);
            let code = format!("R{k:010}");
            let phone = format!("08{:08}", k % 100_000_000);
            let row = txn
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    "INSERT INTO dossiers (code, status, service_mode, procedure_code, agency_code, office_code, applicant_full_name, applicant_phone, applicant_email, applicant_id_number, pickup_line, pickup_ward_code, pickup_province_code, return_line, return_ward_code, return_province_code, documents, with_appointment, fee_exemption, route_class, postage_vnd, admin_fee_vnd, total_vnd, access_token_hash, language, created_at, updated_at) SELECT ?, 'pickup_requested', 'send_and_return', '1.001612', 'UBND-P-HOANKIEM', '100000', 'Nguyễn Văn An', ?, 'an@example.vn', '001090012345', '12 Tràng Tiền', '00070', '01', '12 Tràng Tiền', '00070', '01', '[{\"code\":\"1.001612-01\",\"name\":\"Tờ khai đăng ký\",\"original\":true,\"copies\":1}]', false, 'none', 'local', 52000, 8000, 60000, ?, 'vi', ?, ? WHERE (SELECT COUNT(*) FROM dossiers WHERE applicant_phone = ? AND status IN ('pickup_requested', 'pickup_scheduled', 'pickup_failed')) < ? RETURNING id",
                    [
                        code.clone().into(),
                        phone.clone().into(),
                        format!("hash-{code}").into(),
                        chrono::Utc::now().into(),
                        chrono::Utc::now().into(),
                        phone.into(),
                        1_000_000_000i64.into(),
                    ],
                ))
                .await?
                .context("the dossier was not inserted")?;
            let id: i64 = row.try_get("", "id")?;
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO legs (dossier_id, direction, route_class, status, failed_attempts, created_at, updated_at) VALUES (?, 'inbound', 'local', 'planned', 0, ?, ?), (?, 'outbound', 'local', 'planned', 0, ?, ?)",
                [
                    id.into(),
                    chrono::Utc::now().into(),
                    chrono::Utc::now().into(),
                    id.into(),
                    chrono::Utc::now().into(),
                    chrono::Utc::now().into(),
                ],
            ))
            .await?;
            txn.query_one_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO dossier_events (dossier_id, at, kind, source, actor, to_status, recorded_at) VALUES (?, ?, 'requested', 'api', 'public', 'pickup_requested', ?) RETURNING *, EXISTS (SELECT 1 FROM webhooks WHERE active = 1 AND agency_code = ?) AS agency_has_webhook, EXISTS (SELECT 1 FROM integration_states WHERE name IN ('outlets.phone', 'outlets.portal') AND value = 'on') AS outlets_on",
                [
                    id.into(),
                    chrono::Utc::now().into(),
                    chrono::Utc::now().into(),
                    "UBND-P-HOANKIEM".into(),
                ],
            ))
            .await?;
            n += 1;
        }
        txn.commit().await?;
        latencies_us.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Ok(Phase {
        name: "SQLite raw, 64 per transaction".into(),
        requests: n,
        errors: 0,
        elapsed,
        latencies_us,
    })
}

/// One SQLite connection with the service's pragmas (WAL, synchronous=NORMAL).
pub async fn domain_store(db_url: &str) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let mut options = sea_orm::ConnectOptions::new(db_url.to_owned());
    options
        .max_connections(1)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
        });
    Ok(Database::connect(options).await?)
}
