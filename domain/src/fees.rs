//! What a citizen pays: postage for the legs the post carries, with the exemptions of Decision 45
//! Art. 12, plus the procedure's administrative fee collected on the agency's behalf.
//!
//! All money is whole VND in `i64`; nothing here ever touches floating point.

use entity::enums::FeeExemption;
use serde::{Deserialize, Serialize};

/// The amounts shown on the dossier slip and in the API, in whole VND.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fees {
    /// Postage for all legs, after any exemption.
    pub postage_vnd: i64,
    /// The procedure's administrative fee, collected for the agency (never exempted here).
    pub admin_fee_vnd: i64,
    /// What the citizen pays in all: postage plus administrative fee.
    pub total_vnd: i64,
}

/// The share of postage, in percent, that a citizen with `exemption` still pays.
pub const fn postage_percent_due(exemption: FeeExemption) -> i64 {
    match exemption {
        FeeExemption::None => 100,
        FeeExemption::WarInvalid | FeeExemption::Hero => 50,
        FeeExemption::Revolutionary | FeeExemption::HeroicMother => 0,
    }
}

/// Postage after an exemption: free for pre-1945 revolutionaries and Heroic Mothers, half for heroes
/// and war invalids (an odd đồng is rounded down, in the citizen's favour), full otherwise.
pub fn apply_exemption(postage_vnd: i64, exemption: FeeExemption) -> i64 {
    match postage_percent_due(exemption) {
        100 => postage_vnd,
        0 => 0,
        // Floor division, so that rounding always favours the citizen.
        pct => (postage_vnd * pct).div_euclid(100),
    }
}

/// The fees of a dossier: the exemption applies to the sum of the legs' postage (so that two odd
/// legs are not rounded down twice); the administrative fee is added as it is.
pub fn compute_fees(
    postage_per_leg_vnd: &[i64],
    exemption: FeeExemption,
    admin_fee_vnd: i64,
) -> Fees {
    let postage_vnd = apply_exemption(postage_per_leg_vnd.iter().sum(), exemption);
    Fees {
        postage_vnd,
        admin_fee_vnd,
        total_vnd: postage_vnd + admin_fee_vnd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exemptions() {
        use FeeExemption::*;
        assert_eq!(apply_exemption(26_000, None), 26_000);
        assert_eq!(apply_exemption(26_000, Revolutionary), 0);
        assert_eq!(apply_exemption(26_000, HeroicMother), 0);
        assert_eq!(apply_exemption(26_000, WarInvalid), 13_000);
        assert_eq!(apply_exemption(26_000, Hero), 13_000);
        // Odd amounts round down.
        assert_eq!(apply_exemption(31_501, Hero), 15_750);
        assert_eq!(apply_exemption(1, WarInvalid), 0);
        assert_eq!(apply_exemption(0, Hero), 0);
        for &e in FeeExemption::ALL {
            assert_eq!(apply_exemption(0, e), 0);
            assert!(apply_exemption(31_501, e) <= 31_501);
        }
    }

    #[test]
    fn fees_sum_the_legs_before_the_exemption() {
        use FeeExemption::*;
        let f = compute_fees(&[26_000, 31_500], None, 0);
        assert_eq!(
            f,
            Fees {
                postage_vnd: 57_500,
                admin_fee_vnd: 0,
                total_vnd: 57_500
            }
        );
        // Two odd legs: 50% of 20_003 = 10_001, not 5_000 + 5_000.
        let f = compute_fees(&[10_001, 10_002], WarInvalid, 0);
        assert_eq!(f.postage_vnd, 10_001);
        // The admin fee is not exempted.
        let f = compute_fees(&[26_000], HeroicMother, 50_000);
        assert_eq!(
            f,
            Fees {
                postage_vnd: 0,
                admin_fee_vnd: 50_000,
                total_vnd: 50_000
            }
        );
        let f = compute_fees(&[26_001], Hero, 8_000);
        assert_eq!((f.postage_vnd, f.total_vnd), (13_000, 21_000));
        // No legs (e.g. nothing carried yet).
        assert_eq!(compute_fees(&[], None, 0).total_vnd, 0);
    }

    #[test]
    fn serialises_with_api_field_names() {
        let f = compute_fees(&[26_000], FeeExemption::None, 0);
        assert_eq!(
            serde_json::to_value(f).ok(),
            Some(serde_json::json!({"postage_vnd": 26000, "admin_fee_vnd": 0, "total_vnd": 26000}))
        );
    }
}
