//! `label-bench`: how fast parcel labels are drawn, against the figures of the postal-operations issue
//! (SVG: at least 2,000 labels a second on one core; one PDF of 500 labels in under 2 s).
//!
//! Everything runs on the calling thread, with labels that differ as real ones do (item code, dossier
//! code, signed QR URL, names). PNG is measured too, for information.
//!
//! ```sh
//! cargo run --release -p bench --bin label-bench
//! cargo run --release -p bench --bin label-bench -- --svg 20000 --sheet 500 --png 50
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Context;
use api::labels::{LabelData, Party, render_pdf_sheet, render_png, render_svg};
use clap::Parser;
use domain::s10::ItemCode;
use entity::enums::LegDirection;

#[derive(Parser, Debug)]
#[command(
    name = "label-bench",
    about = "Measures SVG, PNG and PDF label rendering"
)]
struct Args {
    /// SVG labels to render, one after the other.
    #[arg(long, default_value_t = 10_000)]
    svg: usize,
    /// Labels in the one PDF sheet.
    #[arg(long, default_value_t = 500)]
    sheet: usize,
    /// PNG labels to render (for information).
    #[arg(long, default_value_t = 50)]
    png: usize,
    /// How many times to repeat the PDF sheet; the best and the worst are printed.
    #[arg(long, default_value_t = 3)]
    sheet_runs: usize,
}

const GIVEN_NAMES: &[&str] = &["An", "Bình", "Chi", "Dũng", "Hương", "Khoa", "Linh", "Thảo"];
const FAMILY_NAMES: &[&str] = &["Nguyễn Văn", "Trần Thị", "Lê Hoàng", "Phạm Minh", "Đỗ Ngọc"];
const STREETS: &[&str] = &[
    "Tràng Tiền",
    "Hàng Trống",
    "Đinh Tiên Hoàng",
    "Lê Duẩn",
    "Pasteur",
];

/// The `i`-th label of a realistic run.
fn label(i: usize) -> anyhow::Result<LabelData> {
    let key = b"label-bench signing key, 32 bytes";
    let serial = u32::try_from(10_000_000 + i).context("serial")?;
    let item_code = ItemCode::from_serial("EB", serial, "VN")
        .context("item code")?
        .into_string();
    let token = domain::label_token::sign(key, i64::try_from(i).context("leg id")?);
    let applicant = Party {
        name: format!(
            "{} {}",
            FAMILY_NAMES[i % FAMILY_NAMES.len()],
            GIVEN_NAMES[i % GIVEN_NAMES.len()]
        ),
        address_lines: vec![
            format!("{} {}", 1 + i % 200, STREETS[i % STREETS.len()]),
            "Mã phường/xã 00070 · mã tỉnh/thành 01".to_owned(),
        ],
        phone: Some(format!("09{:08}", i % 100_000_000)),
    };
    let agency = Party {
        name: "Ủy ban nhân dân phường Hoàn Kiếm".to_owned(),
        address_lines: vec!["126 Hàng Trống, phường Hoàn Kiếm, Hà Nội".to_owned()],
        phone: None,
    };
    let inbound = i.is_multiple_of(2);
    Ok(LabelData {
        qr_url: format!("https://dossier.vnpost.vn/l/{token}"),
        item_code,
        dossier_code: format!("7KQ2M-{:05}", i % 100_000),
        direction: if inbound {
            LegDirection::Inbound
        } else {
            LegDirection::Outbound
        },
        procedure_code: "1.001193".to_owned(),
        procedure_name: "Đăng ký khai sinh".to_owned(),
        agency_name: agency.name.clone(),
        sender: if inbound {
            applicant.clone()
        } else {
            agency.clone()
        },
        receiver: if inbound { agency } else { applicant },
    })
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// The service's allocator (the `dossier` binary's), so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let labels = (0..args.svg.max(args.sheet).max(args.png))
        .map(label)
        .collect::<anyhow::Result<Vec<_>>>()?;

    // Warm up: fonts, metrics and allocator.
    for l in labels.iter().take(50) {
        black_box(render_svg(l)?);
    }

    let started = Instant::now();
    let mut bytes = 0usize;
    for l in &labels[..args.svg] {
        bytes += black_box(render_svg(l)?).len();
    }
    let svg_elapsed = started.elapsed();
    println!(
        "svg:  {} labels in {:.3} s = {:.0} labels/s on one thread (mean {:.1} KiB each; target ≥ 2000/s)",
        args.svg,
        svg_elapsed.as_secs_f64(),
        per_second(args.svg, svg_elapsed),
        bytes as f64 / args.svg.max(1) as f64 / 1024.0,
    );

    let started = Instant::now();
    for l in &labels[..args.png] {
        black_box(render_png(l)?);
    }
    let png_elapsed = started.elapsed();
    println!(
        "png:  {} labels in {:.3} s = {:.0} labels/s on one thread (800×1200 px)",
        args.png,
        png_elapsed.as_secs_f64(),
        per_second(args.png, png_elapsed),
    );

    let mut times = Vec::with_capacity(args.sheet_runs);
    let mut size = 0;
    for _ in 0..args.sheet_runs.max(1) {
        let started = Instant::now();
        let pdf = render_pdf_sheet(&labels[..args.sheet])?;
        times.push(started.elapsed());
        size = pdf.len();
    }
    times.sort();
    let (best, worst) = (times[0], times[times.len() - 1]);
    println!(
        "pdf:  one sheet of {} labels in {:.3} s (best of {}; worst {:.3} s), {:.1} KiB; target < 2 s",
        args.sheet,
        best.as_secs_f64(),
        times.len(),
        worst.as_secs_f64(),
        size as f64 / 1024.0,
    );
    Ok(())
}
