//! The Circular 17 Art. 7 route class of a leg, decided from its two addresses.
//!
//! Since 1 July 2025 addresses have two levels (province, ward/commune), so the class is decided from
//! province and ward codes alone, plus the administrator's table of major (special or type-I) cities.

use entity::enums::RouteClass;

/// The part of an address that decides the route class.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The province (or centrally run city) code, e.g. `01` for Hà Nội.
    pub province_code: &'a str,
    /// The ward or commune code within the province.
    pub ward_code: &'a str,
}

/// The route class between two places, which sets both postage and delivery time:
/// same ward → `local`; same province → `intra_province`; two provinces that are both major cities →
/// `inter_province_major`; any other pair of provinces → `inter_province`.
///
/// Codes are compared after trimming surrounding whitespace; `is_major_city` gets the trimmed
/// province code.
pub fn route_class(
    from: Place<'_>,
    to: Place<'_>,
    is_major_city: impl Fn(&str) -> bool,
) -> RouteClass {
    let (from_province, to_province) = (from.province_code.trim(), to.province_code.trim());
    if from_province == to_province {
        if from.ward_code.trim() == to.ward_code.trim() {
            RouteClass::Local
        } else {
            RouteClass::IntraProvince
        }
    } else if is_major_city(from_province) && is_major_city(to_province) {
        RouteClass::InterProvinceMajor
    } else {
        RouteClass::InterProvince
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p<'a>(province_code: &'a str, ward_code: &'a str) -> Place<'a> {
        Place {
            province_code,
            ward_code,
        }
    }

    /// Hà Nội (01), Hồ Chí Minh City (79) and Đà Nẵng (48) as the administrator's major cities.
    fn major(code: &str) -> bool {
        ["01", "79", "48"].contains(&code)
    }

    #[test]
    fn classes() {
        assert_eq!(
            route_class(p("01", "00070"), p("01", "00070"), major),
            RouteClass::Local
        );
        assert_eq!(
            route_class(p("01", "00070"), p("01", "00004"), major),
            RouteClass::IntraProvince
        );
        assert_eq!(
            route_class(p("01", "00070"), p("79", "26734"), major),
            RouteClass::InterProvinceMajor
        );
        assert_eq!(
            route_class(p("01", "00070"), p("31", "11311"), major),
            RouteClass::InterProvince
        );
        assert_eq!(
            route_class(p("31", "11311"), p("01", "00070"), major),
            RouteClass::InterProvince
        );
        // Same ward code in different provinces is not local.
        assert_eq!(
            route_class(p("01", "00070"), p("79", "00070"), major),
            RouteClass::InterProvinceMajor
        );
        // A non-major province to itself is still local / intra-province.
        assert_eq!(
            route_class(p("31", "1"), p("31", "1"), major),
            RouteClass::Local
        );
        assert_eq!(
            route_class(p("31", "1"), p("31", "2"), major),
            RouteClass::IntraProvince
        );
        // With no major cities, every inter-province route is plain.
        assert_eq!(
            route_class(p("01", "00070"), p("79", "26734"), |_| false),
            RouteClass::InterProvince
        );
        // Whitespace around codes does not matter.
        assert_eq!(
            route_class(p(" 01", "00070 "), p("01", "00070"), major),
            RouteClass::Local
        );
    }

    #[test]
    fn symmetric() {
        let places = [
            p("01", "a"),
            p("01", "b"),
            p("79", "a"),
            p("31", "a"),
            p("31", "c"),
        ];
        for &a in &places {
            for &b in &places {
                assert_eq!(route_class(a, b, major), route_class(b, a, major));
            }
        }
    }
}
