//! Demo reference data for the embedded default: real agencies and post offices of Hà Nội and
//! TP. Hồ Chí Minh, procedures of the National Administrative Procedure Database with their document
//! lists, this year's public holidays, the major-city table and a tariff. Written only into an empty
//! database, so an operator's own data is never touched.

use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::RouteClass;
use entity::{
    agency, agency_procedure, holiday, item_code_range, major_city, post_office, procedure,
    procedure_document, tariff,
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait};

struct Agency(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);
struct Office(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
    i64,
);
struct Procedure(
    &'static str,
    &'static str,
    i64,
    i32,
    &'static [(&'static str, bool, bool)],
    &'static [&'static str],
);

const AGENCIES: &[Agency] = &[
    Agency(
        "UBND-P-HOANKIEM",
        "Ủy ban nhân dân phường Hoàn Kiếm",
        "01",
        "00070",
        "126 Hàng Trống, phường Hoàn Kiếm, Hà Nội",
    ),
    Agency(
        "UBND-P-BADINH",
        "Ủy ban nhân dân phường Ba Đình",
        "01",
        "00004",
        "Số 2 Đội Cấn, phường Ba Đình, Hà Nội",
    ),
    Agency(
        "SO-TP-HANOI",
        "Sở Tư pháp thành phố Hà Nội",
        "01",
        "09556",
        "221 Trần Phú, phường Hà Đông, Hà Nội",
    ),
    Agency(
        "UBND-P-SAIGON",
        "Ủy ban nhân dân phường Sài Gòn",
        "79",
        "26740",
        "45-47 Lê Duẩn, phường Sài Gòn, TP. Hồ Chí Minh",
    ),
    Agency(
        "SO-TP-HCM",
        "Sở Tư pháp Thành phố Hồ Chí Minh",
        "79",
        "27139",
        "141-143 Pasteur, phường Xuân Hòa, TP. Hồ Chí Minh",
    ),
];

const OFFICES: &[Office] = &[
    Office(
        "100000",
        "Bưu điện Trung tâm Hà Nội",
        "01",
        "00070",
        "75 Đinh Tiên Hoàng, phường Hoàn Kiếm, Hà Nội",
        "EB",
        10_000_000,
        19_999_999,
    ),
    Office(
        "118000",
        "Bưu điện Ba Đình",
        "01",
        "00004",
        "Số 1 Đội Cấn, phường Ba Đình, Hà Nội",
        "EB",
        20_000_000,
        29_999_999,
    ),
    Office(
        "700000",
        "Bưu điện Trung tâm Sài Gòn",
        "79",
        "26740",
        "2 Công xã Paris, phường Sài Gòn, TP. Hồ Chí Minh",
        "EB",
        30_000_000,
        39_999_999,
    ),
];

const PROCEDURES: &[Procedure] = &[
    Procedure(
        "1.001193",
        "Đăng ký khai sinh",
        0,
        1,
        &[
            ("Tờ khai đăng ký khai sinh", true, true),
            ("Giấy chứng sinh", true, true),
        ],
        &["UBND-P-HOANKIEM", "UBND-P-BADINH", "UBND-P-SAIGON"],
    ),
    Procedure(
        "1.001612",
        "Cấp bản sao trích lục hộ tịch",
        8_000,
        1,
        &[
            ("Tờ khai đăng ký", true, true),
            ("Giấy tờ tùy thân (bản sao)", false, false),
        ],
        &["UBND-P-HOANKIEM", "UBND-P-BADINH", "UBND-P-SAIGON"],
    ),
    Procedure(
        "2.001263",
        "Đăng ký việc nuôi con nuôi trong nước",
        400_000,
        30,
        &[
            ("Đơn xin nhận con nuôi", true, true),
            ("Giấy khám sức khỏe của người nhận con nuôi", true, true),
            ("Phiếu lý lịch tư pháp của người nhận con nuôi", true, true),
            ("Văn bản xác nhận tình trạng chỗ ở và thu nhập", true, true),
            (
                "Giấy khai sinh của người được giới thiệu làm con nuôi",
                false,
                true,
            ),
        ],
        &["UBND-P-HOANKIEM", "UBND-P-BADINH", "UBND-P-SAIGON"],
    ),
    Procedure(
        "2.000488",
        "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
        200_000,
        10,
        &[
            ("Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp", true, true),
            ("Bản chụp Căn cước công dân hoặc Hộ chiếu", false, false),
        ],
        &["SO-TP-HANOI", "SO-TP-HCM"],
    ),
];

/// Centrally-run cities of special and type-I class.
const MAJOR_CITIES: &[(&str, &str)] = &[
    ("01", "Hà Nội"),
    ("31", "Hải Phòng"),
    ("46", "Huế"),
    ("48", "Đà Nẵng"),
    ("79", "TP. Hồ Chí Minh"),
    ("92", "Cần Thơ"),
];

/// Postage per leg, VND (one province's published tariff, for scale).
const TARIFFS: &[(RouteClass, i64)] = &[
    (RouteClass::Local, 26_000),
    (RouteClass::IntraProvince, 26_000),
    (RouteClass::InterProvinceMajor, 31_500),
    (RouteClass::InterProvince, 31_500),
];

/// The public holidays of 2026 as announced (weekdays off, including Tết and the days moved for it,
/// such as Friday 2 January), and New Year's Day 2027, which deadlines set this year already cross.
/// No make-up working day is seeded: none could be confirmed from an official source, and an
/// administrator enters them (`POST /api/v1/admin/working-days`) as they are announced.
const HOLIDAYS: &[((i32, u32, u32), &str)] = &[
    ((2026, 1, 1), "Tết Dương lịch"),
    ((2026, 1, 2), "Tết Dương lịch (nghỉ hoán đổi)"),
    ((2026, 2, 16), "Tết Nguyên Đán"),
    ((2026, 2, 17), "Tết Nguyên Đán"),
    ((2026, 2, 18), "Tết Nguyên Đán"),
    ((2026, 2, 19), "Tết Nguyên Đán"),
    ((2026, 2, 20), "Tết Nguyên Đán"),
    ((2026, 4, 27), "Giỗ Tổ Hùng Vương (nghỉ bù)"),
    (
        (2026, 4, 30),
        "Ngày Giải phóng miền Nam, thống nhất đất nước",
    ),
    ((2026, 5, 1), "Ngày Quốc tế Lao động"),
    ((2026, 9, 1), "Quốc khánh"),
    ((2026, 9, 2), "Quốc khánh"),
    ((2027, 1, 1), "Tết Dương lịch"),
];

/// The code of a procedure's document by its place on the list: `1.001193-01`.
pub fn document_code(procedure_code: &str, position: i32) -> String {
    format!("{procedure_code}-{:02}", position + 1)
}

/// Seeds the demo data when no agency exists yet. Returns whether it seeded.
pub async fn seed_demo_if_empty(conn: &impl ConnectionTrait) -> Result<bool, DbErr> {
    if agency::Entity::find().count(conn).await? > 0 {
        return Ok(false);
    }
    let now = Utc::now();
    seed_places(conn, now).await?;
    seed_procedures(conn, now).await?;
    seed_rates_and_calendar(conn, now).await?;
    Ok(true)
}

/// The demo agencies and post offices, each office with its serials.
async fn seed_places(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<(), DbErr> {
    agency::Entity::insert_many(AGENCIES.iter().map(|a| agency::ActiveModel {
        code: Set(a.0.into()),
        name: Set(a.1.into()),
        identifier: Set(None),
        province_code: Set(a.2.into()),
        ward_code: Set(a.3.into()),
        address: Set(a.4.into()),
        email: Set(None),
        portal_unit_code: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }))
    .exec(conn)
    .await?;
    post_office::Entity::insert_many(OFFICES.iter().map(|o| post_office::ActiveModel {
        code: Set(o.0.into()),
        name: Set(o.1.into()),
        province_code: Set(o.2.into()),
        ward_code: Set(o.3.into()),
        address: Set(o.4.into()),
        created_at: Set(now),
        updated_at: Set(now),
    }))
    .exec(conn)
    .await?;
    item_code_range::Entity::insert_many(OFFICES.iter().map(|o| item_code_range::ActiveModel {
        office_code: Set(o.0.into()),
        service_indicator: Set(o.5.into()),
        first_serial: Set(o.6),
        last_serial: Set(o.7),
        next_serial: Set(o.6),
        ..Default::default()
    }))
    .exec(conn)
    .await?;
    Ok(())
}

/// The demo procedures with their document lists and the agencies that handle them.
async fn seed_procedures(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<(), DbErr> {
    procedure::Entity::insert_many(PROCEDURES.iter().map(|p| procedure::ActiveModel {
        code: Set(p.0.into()),
        name: Set(p.1.into()),
        admin_fee_vnd: Set(p.2),
        processing_days: Set(p.3),
        created_at: Set(now),
        updated_at: Set(now),
    }))
    .exec(conn)
    .await?;
    let documents = PROCEDURES.iter().flat_map(|p| {
        p.4.iter()
            .zip(0..)
            .map(
                |((name, original, required), position)| procedure_document::ActiveModel {
                    procedure_code: Set(p.0.into()),
                    position: Set(position),
                    name: Set((*name).into()),
                    original_required: Set(*original),
                    code: Set(document_code(p.0, position)),
                    required: Set(*required),
                    ..Default::default()
                },
            )
    });
    procedure_document::Entity::insert_many(documents)
        .exec(conn)
        .await?;
    let links = PROCEDURES.iter().flat_map(|p| {
        p.5.iter().map(|agency| agency_procedure::ActiveModel {
            agency_code: Set((*agency).into()),
            procedure_code: Set(p.0.into()),
        })
    });
    agency_procedure::Entity::insert_many(links)
        .exec(conn)
        .await?;
    Ok(())
}

/// The major cities, the tariffs and this year's holidays.
async fn seed_rates_and_calendar(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    major_city::Entity::insert_many(MAJOR_CITIES.iter().map(|(code, name)| {
        major_city::ActiveModel {
            province_code: Set((*code).into()),
            name: Set((*name).into()),
        }
    }))
    .exec(conn)
    .await?;
    tariff::Entity::insert_many(TARIFFS.iter().map(|(class, postage)| tariff::ActiveModel {
        route_class: Set(*class),
        postage_vnd: Set(*postage),
        updated_at: Set(now),
    }))
    .exec(conn)
    .await?;
    let holidays = HOLIDAYS.iter().filter_map(|((y, m, d), name)| {
        NaiveDate::from_ymd_opt(*y, *m, *d).map(|date| holiday::ActiveModel {
            date: Set(date),
            name: Set((*name).into()),
        })
    });
    holiday::Entity::insert_many(holidays).exec(conn).await?;
    Ok(())
}
