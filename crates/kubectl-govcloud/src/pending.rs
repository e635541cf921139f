//! `kubectl govcloud pending`: what awaits review (phase `Submitted`) across the three
//! request kinds, overdue first, then by the soonest review deadline.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use kube::ResourceExt;
use serde_json::{Value, json};

use super::format::{due_text, is_overdue, local_time, table};
use super::kind::Kind;
use super::zones::Zones;
use govcloud_core::api::{
    ChangePhase, CloudResourceRequest, ExitPhase, ExitRequest, RequestPhase, ResourceChange,
};

/// One object awaiting review.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// Its kind.
    pub kind: Kind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The applicant unit for a request; the request's name for a change or an exit.
    pub unit: String,
    /// `status.deadlines.reviewBy`, once the operator has computed it.
    pub review_by: Option<DateTime<Utc>>,
    /// The zone its policy counts in.
    pub zone: Tz,
}

/// The objects among those given that await review.
pub fn collect(
    requests: &[CloudResourceRequest],
    changes: &[ResourceChange],
    exits: &[ExitRequest],
    zones: &Zones,
) -> Vec<Pending> {
    let mut out = Vec::new();
    for r in requests {
        let Some(st) = &r.status else { continue };
        if st.phase != Some(RequestPhase::Submitted) {
            continue;
        }
        out.push(Pending {
            kind: Kind::Request,
            namespace: r.namespace().unwrap_or_default(),
            name: r.name_any(),
            unit: r.spec.applicant_unit.clone(),
            review_by: st.deadlines.as_ref().and_then(|d| d.review_by),
            zone: zones.of_request(r),
        });
    }
    for c in changes {
        let Some(st) = &c.status else { continue };
        if st.phase != Some(ChangePhase::Submitted) {
            continue;
        }
        let namespace = c.namespace().unwrap_or_default();
        out.push(Pending {
            kind: Kind::Change,
            zone: zones.of_parent(requests, &namespace, &c.spec.request),
            namespace,
            name: c.name_any(),
            unit: c.spec.request.clone(),
            review_by: st.deadlines.as_ref().and_then(|d| d.review_by),
        });
    }
    for e in exits {
        let Some(st) = &e.status else { continue };
        if st.phase != Some(ExitPhase::Submitted) {
            continue;
        }
        let namespace = e.namespace().unwrap_or_default();
        out.push(Pending {
            kind: Kind::Exit,
            zone: zones.of_parent(requests, &namespace, &e.spec.request),
            namespace,
            name: e.name_any(),
            unit: e.spec.request.clone(),
            review_by: st.deadlines.as_ref().and_then(|d| d.review_by),
        });
    }
    out
}

/// Overdue first (the longest overdue first), then the soonest deadline; objects without
/// a deadline yet come last. Ties by kind, namespace and name, so the order is stable.
pub fn sort(items: &mut [Pending], now: DateTime<Utc>) {
    items.sort_by(|a, b| {
        let key = |p: &Pending| {
            (
                !p.review_by.is_some_and(|t| is_overdue(t, now)),
                p.review_by.is_none(),
                p.review_by,
            )
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.namespace.cmp(&b.namespace))
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// The table: KIND, NAMESPACE, NAME, UNIT, REVIEW BY, STATUS.
pub fn render_table(items: &[Pending], now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|p| {
            vec![
                p.kind.short().to_string(),
                p.namespace.clone(),
                p.name.clone(),
                p.unit.clone(),
                p.review_by
                    .map_or("-".to_string(), |t| local_time(t, p.zone)),
                p.review_by.map_or("-".to_string(), |t| due_text(t, now)),
            ]
        })
        .collect();
    table(
        &["KIND", "NAMESPACE", "NAME", "UNIT", "REVIEW BY", "STATUS"],
        &rows,
    )
}

/// The same as JSON: a list of objects with RFC 3339 deadlines in the policy's zone.
pub fn to_json(items: &[Pending], now: DateTime<Utc>) -> Value {
    Value::Array(
        items
            .iter()
            .map(|p| {
                json!({
                    "kind": p.kind.kind(),
                    "namespace": p.namespace,
                    "name": p.name,
                    "unit": p.unit,
                    "reviewBy": p.review_by.map(|t| t.with_timezone(&p.zone).to_rfc3339()),
                    "overdue": p.review_by.is_some_and(|t| is_overdue(t, now)),
                    "secondsLeft": p.review_by.map(|t| (t - now).num_seconds()),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::DEFAULT_ZONE;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn item(kind: Kind, name: &str, review_by: Option<&str>) -> Pending {
        Pending {
            kind,
            namespace: "unit-finance".into(),
            name: name.into(),
            unit: "市财政局".into(),
            review_by: review_by.map(at),
            zone: DEFAULT_ZONE,
        }
    }

    #[test]
    fn overdue_first_then_soonest_then_undated() {
        let now = at("2026-10-12T00:00:00Z");
        let mut items = vec![
            item(Kind::Request, "later", Some("2026-10-20T00:00:00Z")),
            item(Kind::Request, "no-deadline", None),
            item(Kind::Change, "soon", Some("2026-10-13T00:00:00Z")),
            item(Kind::Exit, "overdue-recently", Some("2026-10-11T00:00:00Z")),
            item(Kind::Request, "overdue-long", Some("2026-10-01T00:00:00Z")),
            item(Kind::Request, "due-now", Some("2026-10-12T00:00:00Z")),
            item(Kind::Change, "tie", Some("2026-10-20T00:00:00Z")),
        ];
        sort(&mut items, now);
        let names: Vec<&str> = items.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "overdue-long",
                "overdue-recently",
                "due-now",
                "soon",
                "later",
                "tie",
                "no-deadline"
            ]
        );
    }

    fn objects() -> (
        Vec<CloudResourceRequest>,
        Vec<ResourceChange>,
        Vec<ExitRequest>,
    ) {
        let request = |name: &str, phase: &str, policy: &str| {
            serde_json::from_value::<CloudResourceRequest>(json!({
                "apiVersion": "govcloud.io/v1alpha1", "kind": "CloudResourceRequest",
                "metadata": {"name": name, "namespace": "unit-finance"},
                "spec": {"policy": policy, "class": "Production", "applicantUnit": "市财政局",
                         "system": {"name": "s", "securityLevel": 3, "zone": "Internet"},
                         "resources": {"cpu": "8"}},
                "status": {"phase": phase, "deadlines": {"reviewBy": "2026-10-13T16:00:00Z"}}
            }))
            .unwrap()
        };
        let change = serde_json::from_value::<ResourceChange>(json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "ResourceChange",
            "metadata": {"name": "more-cpu", "namespace": "unit-finance"},
            "spec": {"request": "portal"},
            "status": {"phase": "Submitted", "deadlines": {"reviewBy": "2026-10-09T16:00:00Z"}}
        }))
        .unwrap();
        let exit = serde_json::from_value::<ExitRequest>(json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "ExitRequest",
            "metadata": {"name": "bye", "namespace": "unit-finance"},
            "spec": {"request": "portal"},
            "status": {"phase": "Approved"}
        }))
        .unwrap();
        (
            vec![
                request("tax-portal", "Submitted", "berlin"),
                request("portal", "Active", "shanghai"),
            ],
            vec![change],
            vec![exit],
        )
    }

    #[test]
    fn collects_submitted_objects_with_units_and_zones() {
        let (requests, changes, exits) = objects();
        let policy = serde_json::from_value(json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "GovCloudPolicy",
            "metadata": {"name": "berlin"}, "spec": {"timeZone": "Europe/Berlin"}
        }))
        .unwrap();
        let zones = Zones::new(&[policy], "shanghai");
        let mut items = collect(&requests, &changes, &exits, &zones);
        let now = at("2026-10-12T00:00:00Z");
        sort(&mut items, now);
        assert_eq!(items.len(), 2);
        assert_eq!(
            (items[0].kind, items[0].unit.as_str()),
            (Kind::Change, "portal")
        );
        assert_eq!(items[0].zone, DEFAULT_ZONE);
        assert_eq!(
            (items[1].kind, items[1].unit.as_str()),
            (Kind::Request, "市财政局")
        );
        assert_eq!(items[1].zone, chrono_tz::Europe::Berlin);

        let text = render_table(&items, now);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "KIND   NAMESPACE      NAME         UNIT       REVIEW BY                 STATUS"
        );
        assert_eq!(
            lines[1],
            "rchg   unit-finance   more-cpu     portal     2026-10-10 00:00 +08:00   OVERDUE"
        );
        assert_eq!(
            lines[2],
            "crr    unit-finance   tax-portal   市财政局   2026-10-13 18:00 +02:00   in 1d16h"
        );

        let json = to_json(&items, now);
        assert_eq!(json[0]["overdue"], true);
        assert_eq!(json[1]["reviewBy"], "2026-10-13T18:00:00+02:00");
        assert_eq!(json[1]["secondsLeft"], 40 * 3600);
        assert_eq!(json[1]["kind"], "CloudResourceRequest");
    }
}
