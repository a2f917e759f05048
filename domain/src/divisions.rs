//! The administrative map in force since 1 July 2025: 34 provinces and their wards and communes,
//! with the statistics office's codes (see `domain/data/README.md` for the source).
//!
//! The list ships inside the binary and is indexed once, on first use. Every address the service
//! takes is checked against it, and every page, label and e-mail prints its names.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::ops::validation::Checker;

/// The list as shipped: also, byte for byte, the body of `GET /api/v1/divisions`.
pub const DIVISIONS_JSON: &str = include_str!("../data/divisions-2025.json");

#[derive(Deserialize)]
struct ProvinceRow {
    code: String,
    name: String,
    wards: Vec<WardRow>,
}

#[derive(Deserialize)]
struct WardRow {
    code: String,
    name: String,
}

/// A ward or commune and the province it belongs to.
struct Ward {
    name: String,
    province_code: String,
}

struct Index {
    provinces: HashMap<String, String>,
    wards: HashMap<String, Ward>,
}

static INDEX: LazyLock<Index> = LazyLock::new(|| {
    // The file is part of the source tree and checked by a unit test; an unreadable copy would be a
    // build defect, so it leaves the index empty (every address refused) rather than panic.
    let rows: Vec<ProvinceRow> = serde_json::from_str(DIVISIONS_JSON).unwrap_or_default();
    let mut provinces = HashMap::with_capacity(rows.len());
    let mut wards = HashMap::with_capacity(3_400);
    for p in rows {
        for w in p.wards {
            wards.insert(
                w.code,
                Ward {
                    name: w.name,
                    province_code: p.code.clone(),
                },
            );
        }
        provinces.insert(p.code, p.name);
    }
    Index { provinces, wards }
});

/// The official name of a province, e.g. `Thành phố Hà Nội` for `01`.
pub fn province_name(code: &str) -> Option<&'static str> {
    INDEX.provinces.get(code.trim()).map(String::as_str)
}

/// The official name of a ward or commune, e.g. `Phường Hoàn Kiếm` for `00070`.
pub fn ward_name(code: &str) -> Option<&'static str> {
    INDEX.wards.get(code.trim()).map(|w| w.name.as_str())
}

/// The province a ward or commune belongs to.
pub fn ward_province(code: &str) -> Option<&'static str> {
    INDEX
        .wards
        .get(code.trim())
        .map(|w| w.province_code.as_str())
}

/// `ward, province` as a person writes it, e.g. `Phường Hoàn Kiếm, Thành phố Hà Nội`; an unknown
/// code (an address stored before the map was checked) prints as the code itself.
pub fn place_label(province_code: &str, ward_code: &str) -> String {
    format!(
        "{}, {}",
        ward_name(ward_code).unwrap_or(ward_code),
        province_name(province_code).unwrap_or(province_code)
    )
}

/// Checks a province and a ward code against the map: each must be an official code, and the ward
/// must belong to the province (else the ward field fails). Returns both codes when they pass.
pub fn check_place(
    c: &mut Checker,
    province_field: &str,
    ward_field: &str,
    province_code: Option<&str>,
    ward_code: Option<&str>,
) -> (Option<String>, Option<String>) {
    let province = c.digits_code(province_field, province_code, 2);
    let ward = c.digits_code(ward_field, ward_code, 5);
    let province = province.filter(|p| {
        let known = province_name(p).is_some();
        if !known {
            c.fail(
                province_field,
                "is not a province code of the administrative map in force since 1 July 2025",
            );
        }
        known
    });
    let ward = ward.filter(|w| match ward_province(w) {
        None => {
            c.fail(
                ward_field,
                "is not a ward or commune code of the administrative map in force since 1 July 2025",
            );
            false
        }
        Some(owner) => match &province {
            Some(p) if p != owner => {
                c.fail(
                    ward_field,
                    format!(
                        "{} belongs to {}, not to {}",
                        ward_name(w).unwrap_or(w),
                        province_name(owner).unwrap_or(owner),
                        province_name(p).unwrap_or(p)
                    ),
                );
                false
            }
            _ => true,
        },
    });
    (province, ward)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_has_34_provinces_and_3321_wards() {
        assert_eq!(INDEX.provinces.len(), 34);
        assert_eq!(INDEX.wards.len(), 3321);
        assert_eq!(province_name("79"), Some("Thành phố Hồ Chí Minh"));
        assert_eq!(ward_name("09556"), Some("Phường Hà Đông"));
        assert_eq!(ward_province("27139"), Some("79"));
    }

    #[test]
    fn a_ward_of_another_province_fails_on_the_ward() {
        let mut c = Checker::new();
        let (p, w) = check_place(&mut c, "p", "w", Some("79"), Some("00070"));
        assert_eq!(p.as_deref(), Some("79"));
        assert_eq!(w, None);
        assert!(c.has_failed("w") && !c.has_failed("p"));
        let mut c = Checker::new();
        let (p, w) = check_place(&mut c, "p", "w", Some("02"), Some("00688"));
        assert_eq!((p, w), (None, None));
        assert!(c.has_failed("w") && c.has_failed("p"));
    }
}
