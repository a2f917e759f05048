//! The served OpenAPI document is the contract: its whole text is a reviewed snapshot, and a
//! property-based run of schemathesis over every operation checks that the service answers as the
//! document says (response bodies, status codes, content types, headers, and that every request the
//! document calls valid is accepted and every invalid one refused).
//!
//! When an endpoint is added or changed on purpose, accept the new document with
//! `INSTA_UPDATE=always cargo test -p tests --test api openapi_contract` (or `cargo insta accept`
//! after a failing run) and commit `tests/api/snapshots/`. At a merge, regenerate the snapshot the
//! same way rather than merging its text.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use entity::enums::Role;
use serde_json::Value;
use tests::TestApp;

/// The document as served, without its `servers` entry (it names the test's own port).
async fn served_document(app: &TestApp) -> Value {
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let mut spec: Value = res.json().await.expect("json");
    spec.as_object_mut()
        .expect("the document is an object")
        .remove("servers");
    spec
}

#[tokio::test]
async fn the_served_openapi_document_is_the_reviewed_one() {
    let app = TestApp::spawn().await;
    let spec = served_document(&app).await;
    insta::assert_json_snapshot!("openapi_document", spec);
}

/// Whether the schemathesis run is required (`DOSSIER_SCHEMATHESIS=required`, as CI sets it) or
/// may be skipped when the tool is missing.
fn schemathesis_required() -> bool {
    std::env::var("DOSSIER_SCHEMATHESIS").is_ok_and(|v| v == "required")
}

/// The schemathesis command: `DOSSIER_SCHEMATHESIS_BIN`, else the venv `.ci/run` makes under
/// `target/schemathesis`, else `schemathesis` on the `PATH`.
fn schemathesis_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("DOSSIER_SCHEMATHESIS_BIN") {
        return Some(PathBuf::from(bin));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace above tests/");
    let venv = workspace.join("target/schemathesis/bin/schemathesis");
    if venv.exists() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("schemathesis"))
            .find(|candidate| candidate.exists())
    })
}

/// Examples per operation and phase: the whole run stays within a few minutes per database on a
/// shared two-core machine.
const MAX_EXAMPLES: &str = "12";
/// A run that takes longer than this is a failure of its own (a hang, or far too slow a service).
const RUN_DEADLINE: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_as_the_openapi_document_says() {
    let Some(schemathesis) = schemathesis_binary() else {
        assert!(
            !schemathesis_required(),
            "DOSSIER_SCHEMATHESIS=required but schemathesis is not installed: \
             `python3 -m venv target/schemathesis && target/schemathesis/bin/pip install \
             schemathesis==4.32.5` (as .ci/run does), or set DOSSIER_SCHEMATHESIS_BIN"
        );
        eprintln!(
            "SKIPPED every_operation_answers_as_the_openapi_document_says: schemathesis is not \
             installed (see .ci/run; DOSSIER_SCHEMATHESIS=required makes this a failure)"
        );
        return;
    };
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let mut whole: Vec<&str> = vec!["--checks", "all"];
    let mut refusable: Vec<&str> = vec![
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
    ];
    for path in REFUSABLE_OPERATIONS {
        whole.extend(["--exclude-path", path]);
        refusable.extend(["--include-path", path]);
    }
    let failures = [
        schemathesis_run(&schemathesis, &app, &admin, &whole).await,
        schemathesis_run(&schemathesis, &app, &admin, &refusable).await,
    ];
    let failures: Vec<String> = failures.into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "schemathesis found failures:\n{}",
        failures.join("\n")
    );
}

/// Operations whose requests may keep every rule the document states and still be refused (400 or
/// 422), because the rule involves the reference data or several fields together, which OpenAPI 3.0
/// cannot state. Every other check runs on them; only "valid data is accepted" does not.
/// (A path's other operations, such as the `GET` lists beside the admin writes, run with them.)
const REFUSABLE_OPERATIONS: &[&str] = &[
    // A pickup request: the procedure must be one the agency handles, the documents on its published
    // list, the ward in the province and a post office serving it, the pickup address present for
    // `send`.
    "/api/v1/dossiers",
    // A report's period is `period`, or `from` and `to` together: each is optional on its own.
    "/api/v1/reports/summary",
    "/api/v1/reports/fees",
    // Agencies and post offices: the ward must be a ward of the province on the administrative map.
    "/api/v1/admin/agencies",
    "/api/v1/admin/offices",
    // A procedure names agencies that must exist.
    "/api/v1/admin/procedures",
    // A `postal` key needs an existing office and an `agency` key an existing agency.
    "/api/v1/admin/keys",
    // A webhook belongs to an existing agency, and its URL must be one the service may call.
    "/api/v1/admin/webhooks",
    // A make-up working day must be a Saturday or a Sunday.
    "/api/v1/admin/working-days",
    // A handover names an existing agency and dossiers that are ready to be handed over.
    "/api/v1/handovers",
    // A recipient signing as a proxy must give the written authorisation's reference.
    "/api/v1/dossiers/{code}/delivery/identity",
];

/// One schemathesis run over the operations `filters` select; the failures it printed, if any.
async fn schemathesis_run(
    schemathesis: &Path,
    app: &TestApp,
    admin: &str,
    filters: &[&str],
) -> Option<String> {
    let report_dir = tempfile::tempdir().expect("temp dir");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("api/schemathesis.toml");
    let mut command = tokio::process::Command::new(schemathesis);
    command
        .current_dir(report_dir.path())
        // Parameter values a generator cannot find, each with its reason.
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(app.url("/openapi.json"))
        .args(["--url", &app.base_url])
        .args(filters)
        .args(["--max-examples", MAX_EXAMPLES])
        // The same examples on every run, so a failure reproduces.
        .args(["--generation-deterministic"])
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .arg("--no-color")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(RUN_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis did not finish within {RUN_DEADLINE:?}"))
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    (!output.status.success()).then(|| {
        format!(
            "schemathesis {} ({}):\n{stdout}\n{stderr}",
            filters.join(" "),
            output.status
        )
    })
}
