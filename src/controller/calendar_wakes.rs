//! Which objects a WorkCalendar event concerns. Every deadline of a request, change or exit
//! is counted on its policy's calendar, and a policy's own validity depends on it: when a
//! WorkCalendar is created, changed or deleted, the objects whose policy uses it are
//! reconciled again (deadlines move, a policy naming a missing calendar becomes valid),
//! and only those. Read from the stores; which policies use which calendar is the core's
//! rule ([`crate::policy::calendars::policies_using`]).

use std::collections::{BTreeSet, HashSet};

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use super::Wake;
use crate::api::{CloudResourceRequest, ExitRequest, GovCloudPolicy, ResourceChange, WorkCalendar};
use crate::policy::calendars::policies_using;

/// The stores a WorkCalendar event is mapped through; cheap to clone (shared stores).
#[derive(Clone)]
pub struct CalendarWakes {
    /// GovCloudPolicy objects.
    pub policies: Store<GovCloudPolicy>,
    /// CloudResourceRequest objects.
    pub requests: Store<CloudResourceRequest>,
    /// ResourceChange objects.
    pub changes: Store<ResourceChange>,
    /// ExitRequest objects.
    pub exits: Store<ExitRequest>,
    /// The policy of requests that name none.
    pub default_policy: String,
}

/// The wake channels of the controllers a deleted calendar concerns.
pub struct Wakers {
    /// The request controller's.
    pub requests: Wake<CloudResourceRequest>,
    /// The change controller's.
    pub changes: Wake<ResourceChange>,
    /// The exit controller's.
    pub exits: Wake<ExitRequest>,
    /// The policy controller's.
    pub policies: Wake<GovCloudPolicy>,
}

impl CalendarWakes {
    /// Wakes the objects counting on deleted WorkCalendar `calendar`. Shared watch streams
    /// carry created and changed objects only, so deletions come through the (bounded)
    /// wake channels instead; a wake that does not fit is left to the requeue ([`Wake`]).
    pub fn deleted(&self, calendar: &str, wakers: &Wakers) {
        for r in self.requests(calendar) {
            let _ = wakers.requests.send(r);
        }
        for c in self.changes(calendar) {
            let _ = wakers.changes.send(c);
        }
        for e in self.exits(calendar) {
            let _ = wakers.exits.send(e);
        }
        for p in self.policies(calendar) {
            let _ = wakers.policies.send(p);
        }
    }

    /// Names of the policies whose calendar is `calendar` (or lays it over cn-statutory).
    fn policy_names(&self, calendar: &str) -> BTreeSet<String> {
        let policies = self.policies.state();
        policies_using(
            policies
                .iter()
                .filter_map(|p| Some((p.metadata.name.as_deref()?, p.spec.calendar.as_deref()))),
            calendar,
        )
    }

    /// A watch mapper for `Controller::watches_shared_stream`: a WorkCalendar event to the
    /// objects `of` names.
    pub fn mapper<K>(
        &self,
        of: fn(&CalendarWakes, &str) -> Vec<ObjectRef<K>>,
    ) -> impl Fn(std::sync::Arc<WorkCalendar>) -> Vec<ObjectRef<K>> + Send + Sync + 'static
    where
        K: kube::runtime::reflector::Lookup + 'static,
    {
        let wakes = self.clone();
        move |calendar| of(&wakes, &calendar.name_any())
    }

    /// The policies to look at again after an event of WorkCalendar `calendar`.
    pub fn policies(&self, calendar: &str) -> Vec<ObjectRef<GovCloudPolicy>> {
        self.policy_names(calendar)
            .iter()
            .map(|n| ObjectRef::new(n))
            .collect()
    }

    /// Requests whose policy uses `calendar`, as (namespace, name).
    fn request_keys(&self, calendar: &str) -> HashSet<(String, String)> {
        let names = self.policy_names(calendar);
        if names.is_empty() {
            return HashSet::new();
        }
        self.requests
            .state()
            .iter()
            .filter(|r| {
                names.contains(r.spec.policy.as_deref().unwrap_or(&self.default_policy))
                    || names.contains(crate::policy::request::frozen::policy_of(
                        &r.spec,
                        r.status.as_ref(),
                        &self.default_policy,
                    ))
            })
            .filter_map(|r| Some((r.metadata.namespace.clone()?, r.name_any())))
            .collect()
    }

    /// The requests to look at again after an event of WorkCalendar `calendar`.
    pub fn requests(&self, calendar: &str) -> Vec<ObjectRef<CloudResourceRequest>> {
        self.request_keys(calendar)
            .into_iter()
            .map(|(ns, name)| ObjectRef::new(&name).within(&ns))
            .collect()
    }

    /// The changes (of those requests) to look at again.
    pub fn changes(&self, calendar: &str) -> Vec<ObjectRef<ResourceChange>> {
        let keys = self.request_keys(calendar);
        self.changes
            .state()
            .iter()
            .filter(|c| {
                c.metadata
                    .namespace
                    .as_ref()
                    .is_some_and(|ns| keys.contains(&(ns.clone(), c.spec.request.clone())))
            })
            .map(|c| ObjectRef::from_obj(c.as_ref()))
            .collect()
    }

    /// The exits (of those requests) to look at again.
    pub fn exits(&self, calendar: &str) -> Vec<ObjectRef<ExitRequest>> {
        let keys = self.request_keys(calendar);
        self.exits
            .state()
            .iter()
            .filter(|e| {
                e.metadata
                    .namespace
                    .as_ref()
                    .is_some_and(|ns| keys.contains(&(ns.clone(), e.spec.request.clone())))
            })
            .map(|e| ObjectRef::from_obj(e.as_ref()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GovCloudPolicySpec;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher::Event;

    fn filled<K>(objs: Vec<K>) -> (Store<K>, Writer<K>)
    where
        K: kube::Resource<DynamicType = ()> + Clone + 'static,
    {
        let mut w = Writer::<K>::default();
        for o in objs {
            w.apply_watcher_event(&Event::Apply(o));
        }
        (w.as_reader(), w)
    }

    fn policy(name: &str, calendar: Option<&str>) -> GovCloudPolicy {
        GovCloudPolicy::new(
            name,
            GovCloudPolicySpec {
                calendar: calendar.map(str::to_string),
                ..Default::default()
            },
        )
    }

    fn request(ns: &str, name: &str, policy: Option<&str>) -> CloudResourceRequest {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "CloudResourceRequest",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "policy": policy, "class": "Production", "applicantUnit": "u",
                "system": {"name": "s", "securityLevel": 2, "zone": "EGovExtranet"},
                "resources": {"cpu": "1"}
            }
        }))
        .unwrap_or_else(|e| panic!("request: {e}"))
    }

    fn change(ns: &str, name: &str, request: &str) -> ResourceChange {
        let mut c: ResourceChange = serde_json::from_value(serde_json::json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "ResourceChange",
            "metadata": {"name": name, "namespace": ns}, "spec": {"request": request}
        }))
        .unwrap_or_else(|e| panic!("change: {e}"));
        c.metadata.namespace = Some(ns.into());
        c
    }

    fn exit(ns: &str, name: &str, request: &str) -> ExitRequest {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "ExitRequest",
            "metadata": {"name": name, "namespace": ns}, "spec": {"request": request}
        }))
        .unwrap_or_else(|e| panic!("exit: {e}"))
    }

    fn names<K: kube::runtime::reflector::Lookup>(mut refs: Vec<ObjectRef<K>>) -> Vec<String> {
        refs.sort_by_key(|r| (r.namespace.clone(), r.name.clone()));
        refs.into_iter()
            .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
            .collect()
    }

    #[test]
    fn a_calendar_event_reaches_exactly_the_objects_counting_on_it() {
        let (policies, _p) = filled(vec![
            policy("statutory", None),
            policy("bureau", Some("bureau-cal")),
            policy("district", Some("district-cal")),
        ]);
        let (requests, _r) = filled(vec![
            request("a", "uses-default", None),
            request("a", "uses-bureau", Some("bureau")),
            request("b", "uses-district", Some("district")),
            request("b", "uses-missing", Some("nowhere")),
        ]);
        let (changes, _c) = filled(vec![
            change("a", "grow", "uses-bureau"),
            change("b", "grow", "uses-district"),
            change("b", "orphan", "uses-bureau"),
        ]);
        let (exits, _e) = filled(vec![
            exit("a", "leave", "uses-bureau"),
            exit("b", "leave", "uses-district"),
        ]);
        let wakes = CalendarWakes {
            policies,
            requests,
            changes,
            exits,
            default_policy: "statutory".into(),
        };
        assert_eq!(
            names(wakes.policies("bureau-cal")),
            ["/bureau", "/statutory"]
        );
        assert_eq!(
            names(wakes.requests("bureau-cal")),
            ["a/uses-bureau", "a/uses-default"]
        );
        // b/orphan names a request of namespace b that does not exist: not woken.
        assert_eq!(names(wakes.changes("bureau-cal")), ["a/grow"]);
        assert_eq!(names(wakes.exits("bureau-cal")), ["a/leave"]);
        assert_eq!(
            names(wakes.requests("district-cal")),
            ["a/uses-default", "b/uses-district"]
        );
        assert_eq!(names(wakes.changes("district-cal")), ["b/grow"]);
        assert_eq!(names(wakes.exits("district-cal")), ["b/leave"]);
        // A calendar only cn-statutory lays over: only the statutory policy's objects.
        assert_eq!(names(wakes.requests("cn-2027")), ["a/uses-default"]);
        assert!(wakes.changes("cn-2027").is_empty());
        assert_eq!(names(wakes.policies("cn-2027")), ["/statutory"]);
    }
}
