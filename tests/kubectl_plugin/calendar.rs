//! `kubectl govcloud calendar`: counting on the statutory and the cluster's work calendars, and importing a year.

use super::*;

#[tokio::test]
async fn calendar_counts_on_the_statutory_calendar_and_the_clusters_work_calendars() -> Result<()> {
    let cp = installed_admitting().await?;
    let added = plugin(
        cp,
        Identity::Vendor,
        &["calendar", "add", "2026-09-30", "5"],
    )
    .await?
    .ok()?;
    assert!(
        added
            .stdout
            .contains("last working day: 2026-10-13 (Tue)\ndeadline: 2026-10-14 00:00 +08:00\n"),
        "{added:?}"
    );
    let between = plugin(
        cp,
        Identity::Vendor,
        &["calendar", "between", "2026-09-25", "2026-10-14"],
    )
    .await?
    .ok()?;
    assert!(
        between
            .stdout
            .starts_with("9 working days in (2026-09-25, 2026-10-14]"),
        "{between:?}"
    );

    // 2027 has no embedded data until a WorkCalendar brings it: until then it is counted
    // on its provisional calendar (2027-01-01, 元旦, is off by law).
    let gap = ["calendar", "between", "2026-12-31", "2027-01-04"];
    let before = plugin(cp, Identity::Approver, &gap).await?.ok()?;
    assert!(
        before.stdout.starts_with("1 working day in")
            && before.stdout.contains(
                "CalendarIncomplete: no State Council notice loaded for 2027; counted on the provisional calendar"
            ),
        "{before:?}"
    );
    let year: govcloud_operator::api::CalendarYear = serde_json::from_value(serde_json::json!({
        "year": 2027,
        "days": [{"date": "2027-01-01", "name": "元旦", "isOffDay": true}]
    }))?;
    let extra = unique_ns("cn-2027");
    let mut calendar = WorkCalendar::new(
        &extra,
        govcloud_operator::api::WorkCalendarSpec { years: vec![year] },
    );
    calendar.metadata.labels = Some([("govcloud.io/test".to_string(), "true".to_string())].into());
    Api::<WorkCalendar>::all(cp.admin().await?)
        .create(&PostParams::default(), &calendar)
        .await?;
    let after = plugin(cp, Identity::Approver, &gap).await?.ok()?;
    assert!(
        after.stdout.starts_with("1 working day in")
            && !after.stdout.contains("CalendarIncomplete"),
        "{after:?}"
    );
    let offline = plugin(
        cp,
        Identity::Approver,
        &[
            "calendar",
            "--offline",
            "between",
            "2026-12-31",
            "2027-01-04",
        ],
    )
    .await?
    .ok()?;
    assert!(
        offline.stdout.starts_with("1 working day in") && offline.stdout.contains("provisional"),
        "{offline:?}"
    );
    Ok(())
}

/// The holiday-cn file of `year` with `days` (`(date, name, isOffDay)`), in `dir`.
fn holiday_cn_file(
    dir: &Path,
    file: &str,
    year: i32,
    days: &[(&str, &str, bool)],
) -> Result<String> {
    let days: Vec<_> = days
        .iter()
        .map(|(date, name, off)| serde_json::json!({"name": name, "date": date, "isOffDay": off}))
        .collect();
    let text = serde_json::json!({
        "year": year,
        "papers": [format!("https://www.gov.cn/zhengce/content/{year}-notice.htm")],
        "days": days,
    });
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_string_pretty(&text)?)?;
    Ok(path.to_string_lossy().into_owned())
}

#[tokio::test]
async fn calendar_import_loads_a_year_that_the_statutory_calendar_then_counts_on() -> Result<()> {
    let cp = installed_admitting().await?;
    let admin = cp.admin().await?;
    let calendars = Api::<WorkCalendar>::all(admin.clone());
    let dir = tempfile::tempdir()?;
    // A year far from the other test's 2027, so the two can run side by side; the default
    // WorkCalendar name is cn-YEAR.
    let name = "cn-2031".to_string();
    let shown = plugin(cp, Identity::Approver, &["calendar", "show", "2031"])
        .await?
        .ok()?;
    let row = |out: &str, date: &str| {
        out.lines()
            .find(|l| l.starts_with(date))
            .map(str::to_string)
            .unwrap_or_default()
    };
    let new_year = row(&shown.stdout, "2031-01-01");
    assert!(
        shown.stdout.starts_with("2031: PROVISIONAL")
            && shown.stdout.contains("calendar import FILE")
            && new_year.starts_with("2031-01-01   Wed   off ")
            && new_year.ends_with("provisional (law; no State Council notice loaded)"),
        "{shown:?}"
    );
    let week = ["calendar", "between", "2031-01-01", "2031-01-06"];
    let provisional = plugin(cp, Identity::Approver, &week).await?.ok()?;
    assert!(
        provisional
            .stdout
            .contains("no State Council notice loaded for 2031"),
        "{provisional:?}"
    );

    // A bad file: refused with the entry named, exit 2, nothing applied.
    let bad = holiday_cn_file(
        dir.path(),
        "bad.json",
        2031,
        &[("2031-01-01", "元旦", true), ("2031-02-30", "春节", true)],
    )?;
    let refused = plugin(cp, Identity::Admin, &["calendar", "import", &bad]).await?;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains(r#"days[1] (春节 "2031-02-30"): not a date"#),
        "{refused:?}"
    );
    assert!(calendars.get_opt(&name).await?.is_none());

    // Approvers read calendars but do not write them: forbidden, exit 3.
    let good = holiday_cn_file(
        dir.path(),
        "2031.json",
        2031,
        &[
            ("2031-01-01", "元旦", true),
            ("2031-01-02", "元旦", true),
            ("2031-01-04", "元旦", false),
        ],
    )?;
    let import = ["calendar", "import", good.as_str()];
    let forbidden = plugin(cp, Identity::Approver, &import).await?;
    assert_eq!(forbidden.code, 3, "{forbidden:?}");
    assert!(calendars.get_opt(&name).await?.is_none());

    // --dry-run prints the object and applies nothing.
    let mut dry = import.to_vec();
    dry.push("--dry-run");
    let dry = plugin(cp, Identity::Admin, &dry).await?.ok()?;
    assert!(
        dry.stdout.contains("kind: WorkCalendar") && dry.stdout.contains("- year: 2031"),
        "{dry:?}"
    );
    assert!(calendars.get_opt(&name).await?.is_none());

    let applied = plugin(cp, Identity::Admin, &import).await?.ok()?;
    assert!(
        applied.stdout.starts_with(&format!(
            "workcalendar/{name} applied: year 2031 (2 days off, 1 make-up working days)"
        )),
        "{applied:?}"
    );
    let wc = calendars.get(&name).await?;
    let years: Vec<i32> = wc.spec.years.iter().map(|y| y.year).collect();
    assert_eq!(years, [2031]);
    assert_eq!(wc.spec.years[0].days.len(), 3);
    assert_eq!(
        wc.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("govcloud.io/source-notice-2031"))
            .map(String::as_str),
        Some("https://www.gov.cn/zhengce/content/2031-notice.htm")
    );
    // cn-statutory counts on it: (2031-01-01, 2031-01-06] has 01-03 (Fri), the make-up
    // Saturday 01-04 and 01-06 (Mon), and the year is no longer incomplete.
    let between = plugin(cp, Identity::Approver, &week).await?.ok()?;
    assert!(
        between.stdout.starts_with("3 working days") && !between.stdout.contains("Incomplete"),
        "{between:?}"
    );
    let shown = plugin(cp, Identity::Approver, &["calendar", "show", "2031"])
        .await?
        .ok()?;
    let make_up = row(&shown.stdout, "2031-01-04");
    assert!(
        shown
            .stdout
            .starts_with("2031: published (WorkCalendar cn-2031;")
            && make_up.starts_with("2031-01-04   Sat   working ")
            && make_up.ends_with("published (WorkCalendar cn-2031)")
            && !shown.stdout.contains("provisional"),
        "{shown:?}"
    );

    // Another year into the same object, then 2031 again: 2031 replaced, 2032 kept.
    let y2032 = holiday_cn_file(
        dir.path(),
        "2032.json",
        2032,
        &[("2032-01-01", "元旦", true)],
    )?;
    plugin(
        cp,
        Identity::Admin,
        &[
            "calendar",
            "import",
            &y2032,
            "--name",
            &name,
            "--source",
            "国办发明电〔2031〕1号",
        ],
    )
    .await?
    .ok()?;
    let again = holiday_cn_file(
        dir.path(),
        "2031b.json",
        2031,
        &[("2031-01-01", "元旦", true)],
    )?;
    plugin(cp, Identity::Admin, &["calendar", "import", &again])
        .await?
        .ok()?;
    let wc = calendars.get(&name).await?;
    let years: Vec<(i32, usize)> = wc
        .spec
        .years
        .iter()
        .map(|y| (y.year, y.days.len()))
        .collect();
    assert_eq!(years, [(2031, 1), (2032, 1)]);
    let notes = wc.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        notes
            .get("govcloud.io/source-notice-2032")
            .map(String::as_str),
        Some("国办发明电〔2031〕1号\nhttps://www.gov.cn/zhengce/content/2032-notice.htm")
    );
    assert!(notes.contains_key("govcloud.io/source-notice-2031"));
    calendars
        .delete(&name, &kube::api::DeleteParams::default())
        .await?;
    Ok(())
}
