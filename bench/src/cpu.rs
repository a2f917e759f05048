//! CPU time read from `/proc`, in seconds: of one process, of this process's finished children, of
//! every PostgreSQL process on the machine, and of the machine.
//!
//! The benchmarks share two cores between the load, the server and PostgreSQL, so a rate alone does
//! not say whose CPU time it paid for; these split it.

/// The kernel's clock ticks per second in `/proc` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// The fields of a `/proc/{pid}/stat` line after the process name (which may hold spaces).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let after_name = stat.get(stat.rfind(')')? + 2..)?;
    Some(after_name.split_whitespace().collect())
}

/// The sum of the `stat` fields at `indexes` (counted after the name), in seconds.
fn ticks(fields: &[&str], indexes: &[usize]) -> Option<f64> {
    let mut sum = 0u64;
    for &i in indexes {
        sum += fields.get(i)?.parse::<u64>().ok()?;
    }
    Some(sum as f64 / TICKS_PER_SECOND)
}

// utime, stime, cutime and cstime are the 14th to 17th fields of the line: the 12th to 15th after
// the name, counted from 1.
const UTIME: usize = 11;
const STIME: usize = 12;
const CUTIME: usize = 13;
const CSTIME: usize = 14;

/// CPU time (user + system) process `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    ticks(&stat_fields(&stat)?, &[UTIME, STIME])
}

/// CPU time of this process's children that have ended and been waited for (a pgbench run, once
/// its output is read).
pub fn finished_children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    ticks(&stat_fields(&stat)?, &[CUTIME, CSTIME])
}

/// CPU time of every PostgreSQL process on the machine, including the backends that have ended (the
/// postmaster counts its children's time once it has waited for them). It only grows, so two
/// readings bracket what PostgreSQL spent between them, whichever connections came and went.
pub fn postgres_cpu_seconds() -> Option<f64> {
    let mut sum = 0.0;
    let mut found = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        // A process that ended since the directory was read has no stat: its time is in its
        // parent's by the next reading.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let is_postgres = stat
            .find('(')
            .is_some_and(|open| stat[open + 1..].starts_with("postgres"));
        if !is_postgres {
            continue;
        }
        if let Some(seconds) =
            stat_fields(&stat).and_then(|f| ticks(&f, &[UTIME, STIME, CUTIME, CSTIME]))
        {
            sum += seconds;
            found = true;
        }
    }
    found.then_some(sum)
}

/// The CPU time between two readings, in µs per one of `count` units of work (requests,
/// transactions); `None` when either reading is missing.
pub fn micros_per(before: Option<f64>, after: Option<f64>, count: f64) -> Option<f64> {
    before
        .zip(after)
        .map(|(before, after)| (after - before) * 1e6 / count.max(1.0))
}

/// The machine's CPU time so far, busy and in all (`/proc/stat`, every core), in clock ticks.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = ticks.iter().sum();
    // idle and iowait are the 4th and 5th.
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_and_the_machine_have_used_cpu() {
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_seconds(std::process::id()).expect("own stat") > 0.0);
        let (busy, total) = machine_ticks().expect("/proc/stat");
        assert!(busy > 0 && total >= busy);
        assert!(finished_children_cpu_seconds().is_some());
    }

    #[test]
    fn a_name_with_spaces_and_parentheses_is_skipped_whole() {
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 7 3 20 0";
        let fields = stat_fields(stat).expect("fields");
        assert_eq!(ticks(&fields, &[UTIME, STIME]), Some(3.0));
        assert_eq!(ticks(&fields, &[CUTIME, CSTIME]), Some(0.1));
    }

    #[test]
    fn cpu_per_unit_needs_both_readings() {
        assert_eq!(micros_per(Some(1.0), Some(1.5), 1000.0), Some(500.0));
        assert_eq!(micros_per(None, Some(1.5), 1000.0), None);
    }
}
