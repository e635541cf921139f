//! Text helpers shared by the plugin's commands: local times, "in 2d3h", and aligned
//! tables whose columns stay straight with Chinese unit names.

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;

/// The zone used when a policy names none (or cannot be read): every preset is in it.
pub const DEFAULT_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// A local time for people: `2026-10-14 00:00 +08:00`, with seconds only when they are
/// not zero (test policies count in seconds).
pub fn local_time(t: DateTime<Utc>, zone: Tz) -> String {
    let local = t.with_timezone(&zone);
    if local.second() == 0 {
        local.format("%Y-%m-%d %H:%M %:z").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M:%S %:z").to_string()
    }
}

/// A length of time in its two largest units: `2d3h`, `3h15m`, `5m20s`, `45s`; a lower
/// unit that is zero is left out (`2d`). Negative lengths are shown as their magnitude.
pub fn span(d: TimeDelta) -> String {
    let total = d.num_seconds().unsigned_abs();
    let parts = [
        (total / 86_400, "d"),
        (total % 86_400 / 3_600, "h"),
        (total % 3_600 / 60, "m"),
        (total % 60, "s"),
    ];
    let Some(first) = parts.iter().position(|(n, _)| *n > 0) else {
        return "0s".to_string();
    };
    let mut out = format!("{}{}", parts[first].0, parts[first].1);
    if let Some((n, unit)) = parts.get(first + 1)
        && *n > 0
    {
        out.push_str(&format!("{n}{unit}"));
    }
    out
}

/// Whether a deadline has passed at `now` (a deadline is due at its instant).
pub fn is_overdue(deadline: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    deadline <= now
}

/// The STATUS of a deadline: `OVERDUE` once it has passed, else `in 2d3h`.
pub fn due_text(deadline: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if is_overdue(deadline, now) {
        "OVERDUE".to_string()
    } else {
        format!("in {}", span(deadline - now))
    }
}

/// Columns a string takes in a terminal: East Asian wide and full-width characters take
/// two, combining marks and zero-width characters none, everything else one.
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let u = u32::from(c);
    match u {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// A table as kubectl prints one: a header row, columns separated by three spaces,
/// padded to the widest cell, no trailing blanks.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(display_width(cell));
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("   ");
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths.get(i).copied().unwrap_or(0) - display_width(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn local_times_in_the_policy_zone() {
        let t = at("2026-10-13T16:00:00Z");
        assert_eq!(local_time(t, DEFAULT_ZONE), "2026-10-14 00:00 +08:00");
        assert_eq!(
            local_time(at("2026-10-13T16:00:05Z"), DEFAULT_ZONE),
            "2026-10-14 00:00:05 +08:00"
        );
        assert_eq!(
            local_time(t, chrono_tz::Europe::Berlin),
            "2026-10-13 18:00 +02:00"
        );
    }

    #[test]
    fn spans_show_two_units() {
        let s = |secs: i64| span(TimeDelta::seconds(secs));
        assert_eq!(s(0), "0s");
        assert_eq!(s(45), "45s");
        assert_eq!(s(60), "1m");
        assert_eq!(s(5 * 60 + 20), "5m20s");
        assert_eq!(s(3 * 3600 + 15 * 60 + 59), "3h15m");
        assert_eq!(s(2 * 86_400 + 3 * 3600 + 59 * 60), "2d3h");
        assert_eq!(s(2 * 86_400 + 59 * 60), "2d");
        assert_eq!(s(40 * 86_400), "40d");
        assert_eq!(s(-90), "1m30s");
    }

    #[test]
    fn due_text_says_overdue_or_how_long() {
        let now = at("2026-10-12T08:00:00Z");
        assert_eq!(due_text(at("2026-10-14T11:00:00Z"), now), "in 2d3h");
        assert_eq!(due_text(at("2026-10-12T08:00:30Z"), now), "in 30s");
        assert_eq!(due_text(now, now), "OVERDUE");
        assert_eq!(due_text(at("2026-10-01T00:00:00Z"), now), "OVERDUE");
    }

    #[test]
    fn tables_align_wide_characters() {
        assert_eq!(display_width("市财政局"), 8);
        assert_eq!(display_width("abc"), 3);
        let t = table(
            &["UNIT", "N"],
            &[
                vec!["市财政局".into(), "1".into()],
                vec!["x".into(), "22".into()],
            ],
        );
        assert_eq!(t, "UNIT       N\n市财政局   1\nx          22\n");
    }
}
