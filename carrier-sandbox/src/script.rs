//! What happens to a parcel: its path through VNPost status codes, either the realistic default drawn
//! from the seed (picked up → at the post office → in transit → delivering → delivered, with an
//! occasional failed attempt), or a path a test or demo scripts step by step.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The Vietnamese message VNPost's partner APIs show for a status code (DOMAIN.md); unknown codes get a
/// generic text, as a real carrier adding a code would.
pub fn status_message(code: i32) -> &'static str {
    match code {
        1 => "Đã tạo đơn hàng",
        2 => "Đã giao bưu tá đi nhận",
        5 => "Nhận hàng không thành công",
        6 => "Đã nhận hàng",
        7 => "Đã nhận tại bưu cục",
        10 => "Đang vận chuyển",
        12 => "Đang phát hàng",
        14 => "Phát thành công",
        15 => "Phát không thành công",
        19 => "Hoàn tất",
        22 => "Hủy phát",
        _ => "Cập nhật trạng thái",
    }
}

/// Why a delivery attempt failed, as postmen note it (Postal Law 2010 Art. 17 causes).
const FAILURE_NOTES: [&str; 4] = [
    "Người nhận vắng nhà",
    "Không liên lạc được người nhận",
    "Địa chỉ không chính xác",
    "Người nhận hẹn phát lại",
];

/// Where along the route an event happens; turned into a `posId` per parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The sender's post office.
    Origin,
    /// A sorting hub between the two offices.
    Hub,
    /// The receiver's post office.
    Destination,
}

impl Place {
    /// Where a status code usually happens, for scripted steps that do not say.
    pub fn for_code(code: i32) -> Place {
        match code {
            10 => Place::Hub,
            12 | 14 | 15 | 19 | 22 => Place::Destination,
            _ => Place::Origin,
        }
    }
}

/// One event to come: its code, how long after the previous one, where, and a note.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    /// VNPost status code.
    pub status_code: i32,
    /// Simulated time after the previous step (or after the script starts).
    pub after: Duration,
    /// Where it happens.
    pub place: Place,
    /// The record's `notes`.
    pub notes: String,
}

/// A scripted path, as a test or demo gives it; each step's place follows from its code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Script {
    /// The steps, in order.
    pub steps: Vec<ScriptStep>,
}

/// One scripted step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScriptStep {
    /// VNPost status code; unknown codes are allowed (the worker must keep them).
    pub status_code: i32,
    /// Simulated seconds after the previous step.
    #[serde(default)]
    pub after_secs: u64,
    /// The record's `notes`.
    #[serde(default)]
    pub notes: String,
}

impl Script {
    /// The codes one after another, `every` apart: `Script::every(Duration::from_secs(3600), &[12, 15, 12, 14])`.
    pub fn every(every: Duration, codes: &[i32]) -> Script {
        Script {
            steps: codes
                .iter()
                .map(|&status_code| ScriptStep {
                    status_code,
                    after_secs: every.as_secs(),
                    notes: String::new(),
                })
                .collect(),
        }
    }

    /// The planned steps of this script.
    pub(crate) fn plan(&self) -> Vec<PlannedStep> {
        self.steps
            .iter()
            .map(|s| PlannedStep {
                status_code: s.status_code,
                after: Duration::from_secs(s.after_secs),
                place: Place::for_code(s.status_code),
                notes: if s.notes.is_empty() && s.status_code == 15 {
                    FAILURE_NOTES[0].to_owned()
                } else {
                    s.notes.clone()
                },
            })
            .collect()
    }
}

/// SplitMix64: tiny, fast and stable across versions, so a seed means the same world forever.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator for one purpose (`salt`) under the sandbox seed.
    pub fn new(seed: u64, salt: &str) -> SeededRng {
        // FNV-1a of the salt, so each parcel's path depends only on the seed and its order number.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in salt.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        SeededRng(seed ^ h)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        // 53 random bits make a uniform float in [0, 1).
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < p
    }

    /// One of `items` (which must not be empty for a meaningful pick).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        let len = u64::try_from(items.len()).unwrap_or(u64::MAX);
        items.get(usize::try_from(self.next_u64() % len).unwrap_or(0))
    }
}

/// Minutes as a [`Duration`].
fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// The realistic path of a parcel: picked up within the hour, received at the post office, one or two
/// legs in transit (two between provinces), out for delivery, then delivered — each attempt failing
/// with `failure_rate`, at most twice, the next attempt the following working day.
pub fn default_path(
    rng: &mut SeededRng,
    failure_rate: f64,
    inter_province: bool,
) -> Vec<PlannedStep> {
    let step = |status_code, after, place| PlannedStep {
        status_code,
        after,
        place,
        notes: String::new(),
    };
    let mut path = vec![
        step(6, minutes(rng.between(5, 45)), Place::Origin),
        step(7, minutes(rng.between(30, 150)), Place::Origin),
        step(10, minutes(rng.between(60, 240)), Place::Hub),
    ];
    if inter_province {
        path.push(step(10, minutes(rng.between(360, 1440)), Place::Hub));
    }
    path.push(step(12, minutes(rng.between(120, 720)), Place::Destination));
    for _ in 0..2 {
        if !rng.chance(failure_rate) {
            break;
        }
        let mut failed = step(15, minutes(rng.between(60, 360)), Place::Destination);
        failed.notes = rng
            .pick(&FAILURE_NOTES)
            .copied()
            .unwrap_or_default()
            .to_owned();
        path.push(failed);
        path.push(step(
            12,
            minutes(rng.between(1200, 1800)),
            Place::Destination,
        ));
    }
    path.push(step(14, minutes(rng.between(30, 240)), Place::Destination));
    path
}

/// The 6-digit `posId` of a post office serving a province code (a few real ones, the rest derived).
pub fn post_office(province: &str, place: Place) -> String {
    let base = match province {
        "01" => "10",
        "79" => "70",
        "48" => "55",
        "31" => "18",
        "92" => "90",
        other if other.len() == 2 && other.bytes().all(|b| b.is_ascii_digit()) => other,
        _ => "10",
    };
    match place {
        Place::Hub => format!("{base}0900"),
        Place::Origin | Place::Destination => format!("{base}0000"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_order_give_the_same_path() {
        let a = default_path(&mut SeededRng::new(7, "X-1-O"), 0.5, true);
        let b = default_path(&mut SeededRng::new(7, "X-1-O"), 0.5, true);
        assert_eq!(a, b);
    }

    #[test]
    fn default_paths_start_with_pickup_and_end_delivered() {
        let mut failures = 0;
        for i in 0..500 {
            let path = default_path(&mut SeededRng::new(1, &format!("O-{i}")), 0.3, i % 2 == 0);
            assert_eq!(path.first().map(|s| s.status_code), Some(6));
            assert_eq!(path.last().map(|s| s.status_code), Some(14));
            failures += path.iter().filter(|s| s.status_code == 15).count();
            for pair in path.windows(2) {
                if pair[0].status_code == 15 {
                    assert_eq!(
                        pair[1].status_code, 12,
                        "a failed attempt is followed by a new one"
                    );
                }
            }
        }
        assert!(
            failures > 50,
            "failures happen at roughly the configured rate"
        );
    }

    #[test]
    fn unknown_codes_have_a_generic_message() {
        assert_eq!(status_message(6), "Đã nhận hàng");
        assert_eq!(status_message(99), "Cập nhật trạng thái");
    }
}
