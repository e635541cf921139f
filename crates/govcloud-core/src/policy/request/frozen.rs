//! The grant is frozen when it is recorded: everything that shapes the tenant — amounts,
//! class, duration, access groups, zone, and the policy whose rules and pool hold it — is
//! written into the status, and every later pass builds the tenant from that record only.
//! A spec edited afterwards changes nothing and is named in `UnappliedSpecChange`; only
//! an approved ResourceChange changes a grant (issue 13).

use super::{Checked, Notice};
use crate::api::{CloudResourceRequestSpec, CloudResourceRequestStatus, Zone};
use crate::policy::conditions::{Wanted, types};
use crate::policy::duration::PolicyDuration;
use crate::policy::quantity::Amounts;

/// The policy a request lives by: for a grant, the one recorded with it (its rules and
/// pool hold the grant whatever `spec.policy` says later); before a grant, the one the
/// spec names, or `default`.
pub fn policy_of<'a>(
    spec: &'a CloudResourceRequestSpec,
    status: Option<&'a CloudResourceRequestStatus>,
    default: &'a str,
) -> &'a str {
    let recorded = status.filter(|s| s.grant.is_some()).and_then(|s| {
        s.granted_policy
            .as_deref()
            .or_else(|| s.granted_rules.get().map(|g| g.policy.as_str()))
    });
    recorded.unwrap_or_else(|| spec.policy.as_deref().unwrap_or(default))
}

/// The access groups a spec asks for.
pub fn spec_groups(spec: &CloudResourceRequestSpec) -> Vec<String> {
    spec.access
        .as_ref()
        .map(|a| a.groups.clone())
        .unwrap_or_default()
}

/// Records in `st` what shapes the tenant besides the amounts, class and duration, as
/// approved in `spec`, under policy `policy`.
pub fn record(st: &mut CloudResourceRequestStatus, spec: &CloudResourceRequestSpec, policy: &str) {
    st.granted_access_groups = Some(spec_groups(spec));
    st.granted_zone = Some(spec.system.zone);
    st.granted_policy = Some(policy.to_string());
}

/// A grant made by an earlier release lacks part of the record: it is taken from the spec
/// once, at this pass, and said in an Event — the tenant keeps running as it was built
/// (from that same spec), with no downtime.
pub fn complete(
    st: &mut CloudResourceRequestStatus,
    spec: &CloudResourceRequestSpec,
    policy: &str,
) -> Option<Notice> {
    st.grant.as_ref()?;
    let mut filled = Vec::new();
    if st.granted_class.is_none() {
        st.granted_class = Some(spec.class);
        filled.push("class");
    }
    if st.granted_access_groups.is_none() {
        st.granted_access_groups = Some(spec_groups(spec));
        filled.push("access groups");
    }
    if st.granted_zone.is_none() {
        st.granted_zone = Some(spec.system.zone);
        filled.push("zone");
    }
    if st.granted_policy.is_none() {
        st.granted_policy = Some(policy.to_string());
        filled.push("policy");
    }
    (!filled.is_empty()).then(|| Notice {
        warning: false,
        reason: "GrantRecordCompleted",
        message: format!(
            "the grant was made by an earlier release: its {} recorded from the current spec; from now on only a ResourceChange changes them",
            filled.join(", ")
        ),
    })
}

/// The zone the tenant is built in: the recorded one.
pub fn zone(st: &CloudResourceRequestStatus, spec: &CloudResourceRequestSpec) -> Zone {
    // `complete` runs before any tenant is built; the spec is only a last resort.
    st.granted_zone.unwrap_or(spec.system.zone)
}

/// The groups the tenant RoleBinding binds: the recorded ones.
pub fn groups(st: &CloudResourceRequestStatus, spec: &CloudResourceRequestSpec) -> Vec<String> {
    st.granted_access_groups
        .clone()
        .unwrap_or_else(|| spec_groups(spec))
}

/// The spec fields that differ from the grant, by their path. `spec_policy` is the
/// policy the spec names (the default policy when it names none).
pub fn unapplied_fields(
    st: &CloudResourceRequestStatus,
    spec: &CloudResourceRequestSpec,
    checked: Option<&Checked>,
    spec_policy: &str,
) -> Vec<&'static str> {
    let Some(grant) = &st.grant else {
        return Vec::new();
    };
    let mut fields = Vec::new();
    if let Some(checked) = checked {
        let granted = Amounts::parse("status.grant", grant).unwrap_or_default();
        if granted != checked.requested {
            fields.push("spec.resources");
        }
    }
    let class_differs = st.granted_class.is_some_and(|c| c != spec.class);
    if class_differs {
        fields.push("spec.class");
    }
    // The duration of the class granted; an extension is a ResourceChange, not an edit.
    let parse = |d: Option<&str>| d.and_then(|d| d.parse::<PolicyDuration>().ok());
    if !class_differs
        && spec.class.is_time_boxed()
        && let (Some(asked), Some(granted)) = (
            parse(spec.duration.as_deref()),
            parse(st.granted_duration.as_deref()),
        )
        && asked != granted
    {
        fields.push("spec.duration");
    }
    if st
        .granted_access_groups
        .as_ref()
        .is_some_and(|g| *g != spec_groups(spec))
    {
        fields.push("spec.access.groups");
    }
    if st.granted_zone.is_some_and(|z| z != spec.system.zone) {
        fields.push("spec.system.zone");
    }
    if st
        .granted_policy
        .as_deref()
        .is_some_and(|p| p != spec_policy)
    {
        fields.push("spec.policy");
    }
    fields
}

/// `UnappliedSpecChange` when the spec differs from the grant, naming the fields.
pub fn unapplied(fields: &[&str]) -> Option<Wanted> {
    (!fields.is_empty()).then(|| {
        Wanted::yes(
            types::UNAPPLIED_SPEC_CHANGE,
            "GrantUnchanged",
            format!(
                "the spec was edited after approval ({}); the grant and the tenant are unchanged: file a ResourceChange to change them",
                fields.join(", ")
            ),
        )
    })
}

/// Why the recorded tenant namespace of a grant cannot be the operator's to touch: none
/// recorded, or one no tenant may be (a system namespace, the operator's own). Such a
/// status is not the operator's record (issue 13: a forged `status.tenantNamespace`); the
/// request is Invalid and nothing is deleted.
pub fn forged_tenant(st: &CloudResourceRequestStatus, operator_namespace: &str) -> Option<String> {
    st.grant.as_ref()?;
    let Some(ns) = st.tenant_namespace.as_deref() else {
        return Some("status.tenantNamespace: a grant without a tenant namespace".to_string());
    };
    crate::policy::tenant::forbidden_reason(ns, operator_namespace).map(|why| {
        format!("status.tenantNamespace: {why}: it is never provisioned, suspended or deleted")
    })
}
