//! WorkCalendar: statutory holidays and make-up working days for years the embedded
//! `cn-statutory` data does not cover, or overrides of it (cluster-scoped).

use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Years of the working-day calendar in the holiday-cn day format. A WorkCalendar named
/// in a policy's `calendar` is used on its own; any other WorkCalendar adds to or
/// overrides years of `cn-statutory` (e.g. 2027 once the State Council notice appears).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "govcloud.io",
    version = "v1alpha1",
    kind = "WorkCalendar",
    category = "govcloud",
    derive = "PartialEq",
    doc = "Statutory holidays and make-up working days per year (holiday-cn format), extending or overriding the embedded cn-statutory calendar.",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct WorkCalendarSpec {
    /// One entry per year; a year listed here replaces that year's embedded data.
    #[serde(default)]
    pub years: Vec<CalendarYear>,
}

/// One year of a calendar.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarYear {
    /// The year, e.g. 2027.
    #[schemars(range(min = 1970, max = 9999))]
    pub year: i32,
    /// Days that differ from Monday–Friday: holidays (`isOffDay: true`) and weekend
    /// make-up working days (`isOffDay: false`). Weekend days merely joined to a holiday
    /// need not be listed.
    #[serde(default)]
    pub days: Vec<CalendarYearDay>,
}

/// One day in the holiday-cn format.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarYearDay {
    /// The date, `YYYY-MM-DD`.
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub date: String,
    /// The holiday's name, e.g. `春节`.
    #[serde(default)]
    pub name: String,
    /// `true` for a day off, `false` for a make-up working day.
    pub is_off_day: bool,
}
