//! `report-bench`: how long the summary report (`GET /api/v1/reports/summary`) takes over 1,000,000
//! dossiers on PostgreSQL (the target is under two seconds), without and with the report's index.
//!
//! It makes a fresh database (`dossier_bench_reports` by default; `--reuse` keeps a filled one),
//! migrates it, seeds the demo reference data plus `--agencies` agencies and `--procedures`
//! procedures, and fills it with `INSERT … SELECT generate_series`:
//!
//! - `--dossiers` dossiers created evenly from 2025-01-01 to 2026-11-22 (local time): 70 %
//!   `send_and_return`, 15 % `send`, 15 % `return`; 3 % cancelled before pickup; the rest picked up 2–26
//!   h after the request, carried in 20–120 h, ruled on in 1–11 days, and brought home in 20–120 h, 8 %
//!   of results after one failed notice and 2 % taken back to the agency after two; whatever would end
//!   after the bench's "now" (2026-11-23) is still on its way, at the desk, or not started;
//! - their legs (1.7 per dossier) with start, due (J + 1…4 days by route class) and delivery times;
//! - their timeline: 8 events per dossier (2 for a cancelled one).
//!
//! Then it times the report for a quarter (2026-Q3), two years (2025, the first full year of data, and
//! 2026) and one agency's year, each `--runs` times, first without the
//! report's index (the migration `m20261123_000801`), then with it, and prints each statement's
//! `EXPLAIN (ANALYZE, BUFFERS)` in both states. The report runs exactly as the API runs it
//! (`domain::ops::reports::summary_report` on the service's connection pool).
//!
//! ```sh
//! cargo run --release -p bench --bin report-bench
//! cargo run --release -p bench --bin report-bench -- --reuse --runs 10
//! ```

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::database_url;
use chrono::{DateTime, Utc};
use clap::Parser;
use domain::ops::reports::{
    REPORT_SESSION_POSTGRES, ReportPeriod, report_statements, summary_report,
};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait,
};

#[derive(Parser)]
#[command(about = "Times the summary report over a million dossiers on PostgreSQL")]
struct Args {
    /// PostgreSQL server to make the benchmark database on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_url: String,
    /// The benchmark database's name (dropped and made again unless `--reuse`).
    #[arg(long, default_value = "dossier_bench_reports")]
    database: String,
    /// Keep the database if it already holds `--dossiers` dossiers.
    #[arg(long)]
    reuse: bool,
    /// Dossiers to make.
    #[arg(long, default_value_t = 1_000_000)]
    dossiers: i64,
    /// Agencies besides the demo ones.
    #[arg(long, default_value_t = 60)]
    agencies: i64,
    /// Procedures besides the demo ones.
    #[arg(long, default_value_t = 25)]
    procedures: i64,
    /// Timed runs of each report.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Print the plans (`EXPLAIN (ANALYZE, BUFFERS)`) of the report's statements.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    explain: bool,
}

/// The report's index, as the migration `m20261123_000801` makes it on PostgreSQL. The bench drops
/// it for the "before" figures and makes it again; keep in step with the migration.
const REPORT_INDEXES: &[(&str, &str)] = &[(
    "dossiers_report_created",
    "CREATE INDEX dossiers_report_created ON dossiers \
     (created_at, agency_code, procedure_code, status, result_due_at, id)",
)];

/// The bench's "now": the figures' "overdue now" is as of this instant.
fn bench_now() -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339("2026-11-23T12:00:00+07:00")?.with_timezone(&Utc))
}

async fn exec(db: &DatabaseConnection, sql: &str) -> anyhow::Result<()> {
    db.execute_unprepared(sql)
        .await
        .with_context(|| format!("running: {}", sql.chars().take(120).collect::<String>()))?;
    Ok(())
}

async fn scalar_i64(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .context("no row")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// Runs `sql` and says how long it took.
async fn step(db: &DatabaseConnection, what: &str, sql: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    exec(db, sql).await?;
    println!("  {what:<48} {:>7.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Extra agencies and procedures, each agency handling every procedure.
fn reference_sql(agencies: i64, procedures: i64) -> Vec<String> {
    vec![
        format!(
            "INSERT INTO agencies (code, name, identifier, province_code, ward_code, address, email, created_at, updated_at) \
             SELECT 'BENCH-' || lpad(a::text, 3, '0'), 'Ủy ban nhân dân xã Thử Nghiệm số ' || a, NULL, \
                    lpad((1 + a % 34)::text, 2, '0'), lpad((a * 37 % 27000)::text, 5, '0'), \
                    'Số ' || a || ' đường Lê Lợi', NULL, now(), now() \
             FROM generate_series(1, {agencies}) a"
        ),
        format!(
            "INSERT INTO procedures (code, name, admin_fee_vnd, processing_days, created_at, updated_at) \
             SELECT '9.' || lpad(p::text, 6, '0'), 'Thủ tục thử nghiệm số ' || p, (p % 5) * 50000, 1 + p % 15, now(), now() \
             FROM generate_series(1, {procedures}) p"
        ),
        "INSERT INTO agency_procedures (agency_code, procedure_code) \
         SELECT a.code, p.code FROM agencies a CROSS JOIN procedures p \
         WHERE a.code LIKE 'BENCH-%' AND p.code LIKE '9.%'"
            .to_owned(),
    ]
}

/// The plan of every dossier: its mode, fate and times, drawn at random in the proportions of the
/// module's header (each fill draws anew; the proportions, not the rows, are fixed).
fn plan_sql(n: i64) -> String {
    format!(
        "CREATE UNLOGGED TABLE bench_plan AS \
         WITH base AS ( \
           SELECT g, random() AS r_mode, random() AS r_cancel, random() AS r_agency, random() AS r_proc, \
                  random() AS r_pick, random() AS r_in, random() AS r_rule, random() AS r_out, \
                  random() AS r_fail, random() AS r_route, \
                  TIMESTAMPTZ '2025-01-01 00:00:00+07' \
                    + (g - 1) * ((TIMESTAMPTZ '2026-11-23 00:00:00+07' - TIMESTAMPTZ '2025-01-01 00:00:00+07') / {n}) \
                    AS created \
           FROM generate_series(1, {n}) g \
         ), shaped AS ( \
           SELECT g, created, \
                  CASE WHEN r_mode < 0.70 THEN 'send_and_return' WHEN r_mode < 0.85 THEN 'send' ELSE 'return' END AS mode, \
                  r_cancel < 0.03 AS cancelled, \
                  (r_agency * 1000)::int AS agency_pick, (r_proc * 1000)::int AS procedure_pick, \
                  1 + (r_route * 4)::int % 4 AS transit_days, \
                  created + (2 + r_pick * 24) * INTERVAL '1 hour' AS in_start, \
                  (20 + r_in * 100) * INTERVAL '1 hour' AS in_transit, \
                  (1 + r_rule * 10) * INTERVAL '1 day' AS ruling, \
                  (20 + r_out * 100) * INTERVAL '1 hour' AS out_transit, \
                  CASE WHEN r_fail < 0.02 THEN 2 WHEN r_fail < 0.10 THEN 1 ELSE 0 END AS failed \
           FROM base \
         ), inbound AS ( \
           SELECT s.*, \
                  CASE WHEN mode <> 'return' AND NOT cancelled THEN in_start END AS in_started, \
                  CASE WHEN mode <> 'return' AND NOT cancelled AND in_start + in_transit < TIMESTAMPTZ '2026-11-23 12:00:00+07' \
                       THEN in_start + in_transit END AS in_delivered \
           FROM shaped s \
         ), outbound AS ( \
           SELECT i.*, \
                  CASE WHEN mode = 'send' OR cancelled THEN NULL \
                       WHEN mode = 'return' THEN created + ruling \
                       ELSE in_delivered + ruling END AS out_start_planned \
           FROM inbound i \
         ) \
         SELECT o.*, \
                CASE WHEN out_start_planned < TIMESTAMPTZ '2026-11-23 12:00:00+07' THEN out_start_planned END AS out_started, \
                CASE WHEN failed < 2 AND out_start_planned + out_transit + failed * INTERVAL '2 days' < TIMESTAMPTZ '2026-11-23 12:00:00+07' \
                     THEN out_start_planned + out_transit + failed * INTERVAL '2 days' END AS out_delivered, \
                CASE WHEN failed = 2 AND out_start_planned + out_transit + INTERVAL '2 days' < TIMESTAMPTZ '2026-11-23 12:00:00+07' \
                     THEN TRUE ELSE FALSE END AS out_returned \
         FROM outbound o"
    )
}

/// The end (23:59:59 local) of the local date `days` days after the instant `expr`.
fn due(expr: &str, days: &str) -> String {
    format!(
        "((date_trunc('day', ({expr}) AT TIME ZONE 'Asia/Ho_Chi_Minh') + ({days} + 1) * INTERVAL '1 day' - INTERVAL '1 second') \
          AT TIME ZONE 'Asia/Ho_Chi_Minh')"
    )
}

fn dossiers_sql() -> String {
    let result_due = due("in_delivered", "7");
    format!(
        "INSERT INTO dossiers (id, code, status, service_mode, procedure_code, agency_code, office_code, \
           applicant_full_name, applicant_phone, applicant_email, applicant_id_number, \
           pickup_line, pickup_ward_code, pickup_province_code, return_line, return_ward_code, return_province_code, \
           documents, with_appointment, fee_exemption, route_class, postage_vnd, admin_fee_vnd, total_vnd, \
           access_token_hash, filed_at, result_due_at, national_dossier_no, outcome, language, created_at, updated_at) \
         SELECT p.g, 'BENCH' || p.g, \
           CASE \
             WHEN p.cancelled THEN 'cancelled' \
             WHEN p.mode <> 'return' AND p.in_delivered IS NULL THEN 'in_transit' \
             WHEN p.mode = 'send' THEN CASE WHEN p.in_delivered + p.ruling < TIMESTAMPTZ '2026-11-23 12:00:00+07' \
                                            THEN 'collected_in_person' ELSE 'processing' END \
             WHEN p.out_started IS NULL THEN CASE WHEN p.mode = 'return' THEN 'awaiting_result' ELSE 'processing' END \
             WHEN p.out_returned THEN 'returned_to_agency' \
             WHEN p.out_delivered IS NOT NULL THEN 'delivered' \
             WHEN p.failed > 0 THEN 'delivery_failed' \
             ELSE 'result_with_post' \
           END, \
           p.mode, pr.code, ag.code, '100000', \
           'Nguyễn Văn Thử', '0912345678', NULL, '001090012345', \
           '12 Tràng Tiền', '00070', '01', '12 Tràng Tiền', '00070', '01', \
           '[{{\"name\": \"Tờ khai\", \"original\": true, \"copies\": 1}}]', false, 'none', 'intra_province', 26000, 0, 26000, \
           md5('bench' || p.g) || md5('token' || p.g), \
           CASE WHEN p.mode = 'return' THEN p.created ELSE p.in_delivered END, \
           CASE WHEN p.mode = 'return' THEN {created_due} ELSE {result_due} END, \
           NULL, NULL, 'vi', p.created, p.created \
         FROM bench_plan p \
         JOIN (SELECT code, row_number() OVER (ORDER BY code) - 1 AS i, count(*) OVER () AS n FROM agencies) ag \
           ON ag.i = p.agency_pick % ag.n \
         JOIN (SELECT code, row_number() OVER (ORDER BY code) - 1 AS i, count(*) OVER () AS n FROM procedures) pr \
           ON pr.i = p.procedure_pick % pr.n \
         ORDER BY p.g",
        created_due = due("p.created", "7"),
        result_due = result_due.replace("in_delivered", "p.in_delivered"),
    )
}

fn legs_sql() -> Vec<String> {
    let in_due = due("p.in_started", "p.transit_days");
    let out_due = due("p.out_started", "p.transit_days");
    vec![
        format!(
            "INSERT INTO legs (dossier_id, direction, route_class, item_code, status, started_at, due_at, delivered_at, \
               failed_attempts, last_failed_at, created_at, updated_at) \
             SELECT p.g, 'inbound', 'intra_province', CASE WHEN p.in_started IS NOT NULL THEN 'EB' || lpad(p.g::text, 9, '0') || 'VN' END, \
               CASE WHEN p.cancelled THEN 'cancelled' WHEN p.in_delivered IS NOT NULL THEN 'handed_over' ELSE 'in_transit' END, \
               p.in_started, {in_due}, p.in_delivered, 0, NULL, p.created, p.created \
             FROM bench_plan p WHERE p.mode <> 'return' ORDER BY p.g"
        ),
        format!(
            "INSERT INTO legs (dossier_id, direction, route_class, item_code, status, started_at, due_at, delivered_at, \
               failed_attempts, last_failed_at, created_at, updated_at) \
             SELECT p.g, 'outbound', 'intra_province', CASE WHEN p.out_started IS NOT NULL THEN 'EO' || lpad(p.g::text, 9, '0') || 'VN' END, \
               CASE WHEN p.cancelled THEN 'cancelled' WHEN p.out_started IS NULL THEN 'planned' \
                    WHEN p.out_returned THEN 'returned' WHEN p.out_delivered IS NOT NULL THEN 'delivered' \
                    WHEN p.failed > 0 THEN 'delivery_failed' ELSE 'in_transit' END, \
               p.out_started, {out_due}, p.out_delivered, \
               CASE WHEN p.out_started IS NULL THEN 0 ELSE p.failed END, \
               CASE WHEN p.out_started IS NOT NULL AND p.failed > 0 THEN p.out_started + p.out_transit END, \
               p.created, p.created \
             FROM bench_plan p WHERE p.mode <> 'send' ORDER BY p.g"
        ),
    ]
}

fn events_sql() -> String {
    "INSERT INTO dossier_events (dossier_id, at, kind, source, actor, from_status, to_status, leg, location, note, recorded_at) \
     SELECT d.id, d.created_at + k * INTERVAL '9 hours', \
       (ARRAY['requested','pickup_scheduled','picked_up','departed','arrived','received_by_agency','result_ready','delivered'])[k], \
       CASE WHEN k IN (4, 5) THEN 'scan' ELSE 'api' END, 'bench', NULL, NULL, NULL, NULL, NULL, d.created_at + k * INTERVAL '9 hours' \
     FROM dossiers d CROSS JOIN LATERAL generate_series(1, CASE WHEN d.status = 'cancelled' THEN 2 ELSE 8 END) k \
     ORDER BY d.id, k"
        .to_owned()
}

async fn fill(db: &DatabaseConnection, args: &Args) -> anyhow::Result<()> {
    println!("filling {} with {} dossiers:", args.database, args.dossiers);
    for sql in reference_sql(args.agencies, args.procedures) {
        exec(db, &sql).await?;
    }
    step(db, "plan", &plan_sql(args.dossiers)).await?;
    step(db, "dossiers", &dossiers_sql()).await?;
    exec(
        db,
        "SELECT setval(pg_get_serial_sequence('dossiers', 'id'), (SELECT max(id) FROM dossiers))",
    )
    .await?;
    for (i, sql) in legs_sql().iter().enumerate() {
        let what = if i == 0 {
            "legs (inbound)"
        } else {
            "legs (outbound)"
        };
        step(db, what, sql).await?;
    }
    step(db, "timeline events", &events_sql()).await?;
    exec(db, "DROP TABLE bench_plan").await?;
    step(db, "VACUUM ANALYZE", "VACUUM ANALYZE").await?;
    Ok(())
}

async fn describe(db: &DatabaseConnection) -> anyhow::Result<()> {
    let n = |sql: &'static str| scalar_i64(db, sql);
    println!(
        "database: {} dossiers, {} legs, {} events, {} agencies, {} procedures; {} MB",
        n("SELECT count(*) FROM dossiers").await?,
        n("SELECT count(*) FROM legs").await?,
        n("SELECT count(*) FROM dossier_events").await?,
        n("SELECT count(*) FROM agencies").await?,
        n("SELECT count(*) FROM procedures").await?,
        n("SELECT pg_database_size(current_database()) / 1000000").await?,
    );
    Ok(())
}

/// The periods timed: a quarter, and two years (a full one and the current one).
fn periods() -> anyhow::Result<Vec<ReportPeriod>> {
    ["2026-Q3", "2025", "2026"]
        .into_iter()
        .map(|p| ReportPeriod::preset(p).map_err(|e| anyhow::anyhow!("{e}")))
        .collect()
}

/// Times the report of `period` `runs` times and prints min / median / max.
async fn time_report(
    db: &DatabaseConnection,
    period: &ReportPeriod,
    agency: Option<&str>,
    runs: usize,
) -> anyhow::Result<Vec<Duration>> {
    let now = bench_now()?;
    let mut times = Vec::with_capacity(runs);
    let mut dossiers = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let report = summary_report(db, period, agency, now).await?;
        times.push(started.elapsed());
        dossiers = report.dossiers;
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let each: Vec<String> = times.iter().map(|t| format!("{:.0}", ms(*t))).collect();
    times.sort();
    println!(
        "  {:<9} {:<14} {:>7} dossiers   min {:>7.1} ms   median {:>7.1} ms   max {:>7.1} ms   ({} ms)",
        period.preset.as_deref().unwrap_or("?"),
        agency.unwrap_or("all agencies"),
        dossiers,
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        each.join(", "),
    );
    Ok(times)
}

async fn explain(db: &DatabaseConnection, period: &ReportPeriod) -> anyhow::Result<()> {
    // In a transaction with the report's own settings, as the report runs.
    let txn = db.begin().await?;
    txn.execute_unprepared(REPORT_SESSION_POSTGRES).await?;
    for (name, stmt) in report_statements(&txn, period, None, bench_now()?).await? {
        let sql = format!("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {}", stmt.sql);
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                stmt.values.map(|v| v.0).unwrap_or_default(),
            ))
            .await?;
        println!(
            "  --- {name} ({}):",
            period.preset.as_deref().unwrap_or("?")
        );
        for row in rows {
            println!("    {}", row.try_get_by_index::<String>(0)?);
        }
    }
    txn.rollback().await?;
    Ok(())
}

async fn measure(
    db: &DatabaseConnection,
    args: &Args,
    label: &str,
    with_plans: bool,
) -> anyhow::Result<Duration> {
    println!("\n== {label}");
    let periods = periods()?;
    // One untimed run per period first, so that both states start from the same warm cache.
    let now = bench_now()?;
    for period in &periods {
        summary_report(db, period, None, now).await?;
    }
    let mut worst = Duration::ZERO;
    for period in &periods {
        let times = time_report(db, period, None, args.runs).await?;
        worst = worst.max(times[times.len() / 2]);
    }
    time_report(db, &periods[1], Some("BENCH-007"), args.runs).await?;
    if args.explain && with_plans {
        for period in [&periods[0], &periods[1]] {
            explain(db, period).await?;
        }
    }
    Ok(worst)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The service's allocator (the `dossier` binary's), so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args
        .database
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        bail!("--database must be letters, digits and underscores");
    }
    let admin = Database::connect(args.pg_url.as_str())
        .await
        .context("connect to --pg-url")?;
    let url = database_url(&args.pg_url, &args.database);
    let exists = scalar_i64(
        &admin,
        &format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{}'",
            args.database
        ),
    )
    .await?
        > 0;
    let mut fresh = !(args.reuse && exists);
    if !fresh {
        let db = Database::connect(url.as_str()).await?;
        let n = scalar_i64(&db, "SELECT count(*) FROM dossiers")
            .await
            .unwrap_or(0);
        db.close().await?;
        if n != args.dossiers {
            println!(
                "{} holds {n} dossiers, not {}: refilling",
                args.database, args.dossiers
            );
            fresh = true;
        }
    }
    if fresh {
        exec(
            &admin,
            &format!("DROP DATABASE IF EXISTS \"{}\"", args.database),
        )
        .await?;
        exec(&admin, &format!("CREATE DATABASE \"{}\"", args.database)).await?;
    }
    admin.close().await?;

    let store = domain::store::Store::connect(&url, 4).await?;
    let db = store.read.clone();
    // A previous run leaves the report's index made by hand; let the migration make its own.
    for (name, _) in REPORT_INDEXES {
        exec(&db, &format!("DROP INDEX IF EXISTS {name}")).await?;
    }
    api::startup::migrate(&db).await?;
    if fresh {
        domain::ops::seed::seed_demo_if_empty(&db).await?;
        let started = Instant::now();
        fill(&db, &args).await?;
        println!("  filled in {:.0} s", started.elapsed().as_secs_f64());
    }
    describe(&db).await?;
    println!(
        "machine: {} cores, load average {} before the runs",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load()
    );

    for (name, _) in REPORT_INDEXES {
        exec(&db, &format!("DROP INDEX IF EXISTS {name}")).await?;
    }
    exec(&db, "VACUUM ANALYZE dossiers, legs").await?;
    let mut slowest = vec![(
        "none".to_owned(),
        measure(&db, &args, "without the report's index", true).await?,
    )];
    for (i, (name, sql)) in REPORT_INDEXES.iter().enumerate() {
        println!();
        step(&db, &format!("CREATE INDEX {name}"), sql).await?;
        exec(&db, "VACUUM ANALYZE dossiers, legs").await?;
        let last = i + 1 == REPORT_INDEXES.len();
        let worst = measure(&db, &args, &format!("with {name}"), last).await?;
        slowest.push((format!("+ {name}"), worst));
    }

    println!("\nslowest median of the all-agency reports (target < 2000 ms):");
    for (state, worst) in &slowest {
        println!("  {state:<40} {:>8.1} ms", worst.as_secs_f64() * 1000.0);
    }
    println!("load average {} after the runs", load());
    store.close().await?;
    Ok(())
}
