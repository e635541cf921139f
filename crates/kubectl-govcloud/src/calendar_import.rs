//! `kubectl govcloud calendar import`: a holiday-cn year file (the machine-readable form of
//! a State Council notice, RULES.md "Statutory working-day calendar") turned into the
//! WorkCalendar object that carries it into the cluster. Pure: checking the file, merging
//! it into an existing object and recording its source; [`super::calendar_run`] applies it.
//!
//! Decisions:
//! - **Refuse, never repair.** A date that is not `YYYY-MM-DD`, a date more than a year
//!   from the file's year, or a date listed twice is an error naming the entry
//!   (`days[3]`); nothing is applied. The year check is the core's
//!   ([`Calendar::check_year`], the same one the operator applies to WorkCalendars), so
//!   anything imported is used by the operator, not skipped. A date listed twice is refused
//!   here even when both entries agree, because in a notice it is a typo.
//! - **One year replaced, the others kept.** Importing a year into an existing WorkCalendar
//!   replaces that year's entry and keeps every other year (merged by year number).
//! - **The source travels with the data.** The WorkCalendar type has no field for it, so
//!   the file's `papers` (the notice's URLs) and `--source` go into the annotation
//!   `govcloud.io/source-notice-<year>`: one per year, so merging years keeps each year's
//!   notice. A file without `papers` needs `--source`: a calendar whose origin nobody can
//!   check is not one a deadline should count on.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use kube::ResourceExt;
use serde::Deserialize;

use govcloud_core::api::{CalendarYear, CalendarYearDay, WorkCalendar, WorkCalendarSpec};
use govcloud_core::policy::calendar::{Calendar, CalendarDay, CalendarError};

/// The prefix of the annotation recording a year's notice.
pub const SOURCE_ANNOTATION_PREFIX: &str = "govcloud.io/source-notice-";

/// The years the WorkCalendar schema accepts.
const YEARS: std::ops::RangeInclusive<i64> = 1970..=9999;

/// A checked year, ready to be merged into a WorkCalendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The year with its days, as the WorkCalendar stores them.
    pub year: CalendarYear,
    /// The source notice: `--source`, then the file's `papers`, one per line.
    pub notice: String,
}

impl Imported {
    /// How many days off and make-up working days the year lists.
    pub fn counts(&self) -> (usize, usize) {
        let off = self.year.days.iter().filter(|d| d.is_off_day).count();
        (off, self.year.days.len() - off)
    }
}

#[derive(Deserialize)]
struct RawFile {
    year: i64,
    #[serde(default)]
    papers: Vec<serde_json::Value>,
    days: Vec<RawDay>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDay {
    #[serde(default)]
    name: String,
    date: String,
    is_off_day: bool,
}

/// The object an import of a year names by default: `cn-<year>`.
pub fn default_name(year: i32) -> String {
    format!("cn-{year}")
}

/// The annotation key of `year`'s notice.
pub fn source_key(year: i32) -> String {
    format!("{SOURCE_ANNOTATION_PREFIX}{year}")
}

/// Reads and checks a holiday-cn year file; `source` is recorded before the file's papers.
pub fn parse(text: &str, source: Option<&str>) -> Result<Imported, String> {
    let file: RawFile = serde_json::from_str(text)
        .map_err(|e| format!("not a holiday-cn year file ({{\"year\", \"days\"}}): {e}"))?;
    if !YEARS.contains(&file.year) {
        return Err(format!(
            "year {} is outside {}–{}",
            file.year,
            YEARS.start(),
            YEARS.end()
        ));
    }
    let year = i32::try_from(file.year).map_err(|_| format!("year {} is too large", file.year))?;
    let mut days = Vec::with_capacity(file.days.len());
    let mut first_at: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    for (i, raw) in file.days.iter().enumerate() {
        let entry = format!("days[{i}] ({} {:?})", raw.name, raw.date);
        // chrono also accepts `2027-1-1`; the WorkCalendar schema wants exactly YYYY-MM-DD.
        let date = NaiveDate::parse_from_str(&raw.date, "%Y-%m-%d")
            .ok()
            .filter(|d| d.format("%Y-%m-%d").to_string() == raw.date)
            .ok_or_else(|| format!("{entry}: not a date (YYYY-MM-DD)"))?;
        if let Some(first) = first_at.insert(date, i) {
            return Err(format!(
                "{entry}: {date} is listed twice (also days[{first}])"
            ));
        }
        days.push(CalendarDay {
            name: raw.name.clone(),
            date,
            is_off_day: raw.is_off_day,
        });
    }
    // The operator's own check: what passes here is what it will use.
    Calendar::check_year(year, &days).map_err(|e| {
        let date = match &e {
            CalendarError::DateOutsideYear { date, .. } | CalendarError::Conflict { date, .. } => {
                Some(*date)
            }
            CalendarError::Json(_) => None,
        };
        match date.and_then(|d| first_at.get(&d)) {
            Some(i) => format!("days[{i}]: {e}"),
            None => e.to_string(),
        }
    })?;
    let mut notice: Vec<String> = source
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .into_iter()
        .collect();
    notice.extend(file.papers.iter().map(|p| match p {
        serde_json::Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    }));
    notice.retain(|line| !line.is_empty());
    if notice.is_empty() {
        return Err(format!(
            "the file lists no papers for {year}: name the State Council notice with --source TEXT"
        ));
    }
    Ok(Imported {
        year: CalendarYear {
            year,
            days: days
                .iter()
                .map(|d| CalendarYearDay {
                    date: d.date.format("%Y-%m-%d").to_string(),
                    name: d.name.clone(),
                    is_off_day: d.is_off_day,
                })
                .collect(),
        },
        notice: notice.join("\n"),
    })
}

/// The WorkCalendar to apply: `existing` (if any) with `imported`'s year replaced or added,
/// years sorted, and the notices of the years kept. Carries `existing`'s resourceVersion,
/// so the apply fails rather than overwrite a change made since it was read.
pub fn merge(name: &str, existing: Option<&WorkCalendar>, imported: &Imported) -> WorkCalendar {
    let mut years: BTreeMap<i32, CalendarYear> = existing
        .map(|wc| wc.spec.years.iter().map(|y| (y.year, y.clone())).collect())
        .unwrap_or_default();
    years.insert(imported.year.year, imported.year.clone());
    let mut annotations: BTreeMap<String, String> = existing
        .map(|wc| {
            wc.annotations()
                .iter()
                .filter(|(k, _)| {
                    k.strip_prefix(SOURCE_ANNOTATION_PREFIX)
                        .and_then(|y| y.parse::<i32>().ok())
                        .is_some_and(|y| years.contains_key(&y))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    annotations.insert(source_key(imported.year.year), imported.notice.clone());
    let mut wc = WorkCalendar::new(
        name,
        WorkCalendarSpec {
            years: years.into_values().collect(),
        },
    );
    wc.metadata.annotations = Some(annotations);
    wc.metadata.resource_version = existing.and_then(|e| e.metadata.resource_version.clone());
    wc
}

/// The WorkCalendars laid over `name` for `cn-statutory` (after it in name order) that also
/// list `year`: theirs is the year the operator will use.
pub fn shadowed_by(name: &str, year: i32, all: &[WorkCalendar]) -> Vec<String> {
    let mut later: Vec<String> = all
        .iter()
        .filter(|wc| wc.name_any().as_str() > name)
        .filter(|wc| wc.spec.years.iter().any(|y| y.year == year))
        .map(ResourceExt::name_any)
        .collect();
    later.sort();
    later
}

/// What `import` prints after applying (or, with `dry_run`, instead of applying).
pub fn summary(name: &str, imported: &Imported, dry_run: bool) -> String {
    let (off, work) = imported.counts();
    format!(
        "workcalendar/{name} {}: year {} ({off} days off, {work} make-up working days)\nsource: {}\n",
        if dry_run {
            "would be applied (dry run)"
        } else {
            "applied"
        },
        imported.year.year,
        imported.notice.replace('\n', "; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE_2027: &str = r#"{
        "$schema": "https://raw.githubusercontent.com/NateScarlet/holiday-cn/master/schema.json",
        "$id": "https://raw.githubusercontent.com/NateScarlet/holiday-cn/master/2027.json",
        "year": 2027,
        "papers": ["https://www.gov.cn/zhengce/content/2027-notice.htm"],
        "days": [
            {"name": "元旦", "date": "2026-12-31", "isOffDay": true},
            {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
            {"name": "春节", "date": "2027-02-06", "isOffDay": true},
            {"name": "春节", "date": "2027-02-20", "isOffDay": false}
        ]
    }"#;

    fn file_with_days(days: &str) -> String {
        format!(r#"{{"year": 2027, "papers": ["n"], "days": [{days}]}}"#)
    }

    #[test]
    fn a_holiday_cn_file_becomes_a_year_with_its_notice() {
        let imported = parse(FILE_2027, None).unwrap();
        assert_eq!(imported.year.year, 2027);
        assert_eq!(imported.year.days.len(), 4);
        assert_eq!(
            imported.year.days[3],
            CalendarYearDay {
                date: "2027-02-20".into(),
                name: "春节".into(),
                is_off_day: false
            }
        );
        assert_eq!(
            imported.notice,
            "https://www.gov.cn/zhengce/content/2027-notice.htm"
        );
        assert_eq!(imported.counts(), (3, 1));
        // --source comes first and is kept with the papers.
        let with_source = parse(FILE_2027, Some("国办发明电〔2026〕7号")).unwrap();
        assert_eq!(
            with_source.notice,
            "国办发明电〔2026〕7号\nhttps://www.gov.cn/zhengce/content/2027-notice.htm"
        );
        // The embedded files have no papers: --source is then required.
        let embedded = include_str!("../../govcloud-core/src/policy/data/cn-2026.json");
        assert!(parse(embedded, None).unwrap_err().contains("--source"));
        assert_eq!(
            parse(embedded, Some("国办发明电〔2025〕7号"))
                .unwrap()
                .year
                .days
                .len(),
            39
        );
    }

    #[test]
    fn bad_entries_are_refused_by_position() {
        let cases = [
            (
                r#"{"name": "元旦", "date": "2027-01-01", "isOffDay": true},
                   {"name": "春节", "date": "2027-02-30", "isOffDay": true}"#,
                r#"days[1] (春节 "2027-02-30"): not a date (YYYY-MM-DD)"#,
            ),
            (
                r#"{"name": "元旦", "date": "2027-1-1", "isOffDay": true}"#,
                r#"days[0] (元旦 "2027-1-1"): not a date (YYYY-MM-DD)"#,
            ),
            (
                r#"{"name": "元旦", "date": "2027-01-01", "isOffDay": true},
                   {"name": "元旦", "date": "2027-01-01", "isOffDay": true}"#,
                r#"days[1] (元旦 "2027-01-01"): 2027-01-01 is listed twice (also days[0])"#,
            ),
            (
                r#"{"name": "元旦", "date": "2027-01-01", "isOffDay": true},
                   {"name": "x", "date": "2029-01-01", "isOffDay": true}"#,
                "days[1]: calendar year 2027 lists 2029-01-01, which is not within one year of 2027",
            ),
        ];
        for (days, want) in cases {
            assert_eq!(parse(&file_with_days(days), None).unwrap_err(), want);
        }
        assert!(
            parse(r#"{"year": 2027, "papers": ["n"]}"#, None)
                .unwrap_err()
                .starts_with("not a holiday-cn year file")
        );
        assert!(
            parse(r#"{"year": 1969, "papers": ["n"], "days": []}"#, None)
                .unwrap_err()
                .contains("outside 1970–9999")
        );
        // Negative control: the same shapes, well formed, pass.
        let good = file_with_days(
            r#"{"name": "元旦", "date": "2027-01-01", "isOffDay": true},
               {"name": "元旦", "date": "2026-12-31", "isOffDay": true}"#,
        );
        assert!(parse(&good, None).is_ok());
    }

    #[test]
    fn importing_replaces_one_year_and_keeps_the_others() {
        let imported = parse(FILE_2027, None).unwrap();
        let fresh = merge("cn-2027", None, &imported);
        assert_eq!(fresh.name_any(), "cn-2027");
        assert_eq!(fresh.spec.years, vec![imported.year.clone()]);
        assert_eq!(
            fresh.annotations().get("govcloud.io/source-notice-2027"),
            Some(&imported.notice)
        );
        assert_eq!(fresh.metadata.resource_version, None);
        let applied = serde_json::to_value(&fresh).unwrap();
        assert_eq!(applied["apiVersion"], "govcloud.io/v1alpha1");
        assert_eq!(applied["kind"], "WorkCalendar");

        let mut existing = WorkCalendar::new(
            "extra",
            WorkCalendarSpec {
                years: vec![
                    CalendarYear {
                        year: 2028,
                        days: vec![],
                    },
                    CalendarYear {
                        year: 2027,
                        days: vec![CalendarYearDay {
                            date: "2027-05-06".into(),
                            name: "old".into(),
                            is_off_day: true,
                        }],
                    },
                ],
            },
        );
        existing.metadata.resource_version = Some("42".into());
        existing.metadata.annotations = Some(
            [
                (
                    "govcloud.io/source-notice-2028".to_string(),
                    "n28".to_string(),
                ),
                (
                    "govcloud.io/source-notice-2027".to_string(),
                    "old".to_string(),
                ),
                (
                    "govcloud.io/source-notice-2019".to_string(),
                    "gone".to_string(),
                ),
                ("other".to_string(), "not ours".to_string()),
            ]
            .into(),
        );
        let merged = merge("extra", Some(&existing), &imported);
        let years: Vec<i32> = merged.spec.years.iter().map(|y| y.year).collect();
        assert_eq!(years, [2027, 2028]);
        assert_eq!(merged.spec.years[0], imported.year);
        assert_eq!(merged.metadata.resource_version.as_deref(), Some("42"));
        let notes = merged.annotations();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(notes["govcloud.io/source-notice-2028"], "n28");
        assert_eq!(notes["govcloud.io/source-notice-2027"], imported.notice);
    }

    #[test]
    fn later_work_calendars_shadow_an_import() {
        let year = |y| WorkCalendarSpec {
            years: vec![CalendarYear {
                year: y,
                days: vec![],
            }],
        };
        let all = [
            WorkCalendar::new("a-local", year(2027)),
            WorkCalendar::new("cn-2027", year(2027)),
            WorkCalendar::new("zz-override", year(2027)),
            WorkCalendar::new("zz-other", year(2028)),
        ];
        assert_eq!(shadowed_by("cn-2027", 2027, &all), ["zz-override"]);
        assert!(shadowed_by("zzz", 2027, &all).is_empty());
    }
}
