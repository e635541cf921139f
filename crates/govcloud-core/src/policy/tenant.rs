//! The tenant namespace: its name, whether the operator may use it, and the objects the
//! operator owns in it (DESIGN.md "What provisioned means").

use std::collections::BTreeMap;
use std::fmt::Write;

use rust_decimal::Decimal;

use super::quantity::{Amounts, ResourceKind};

/// Label marking everything the operator manages.
pub const MANAGED_LABEL: &str = "govcloud.io/managed";
/// Label: the namespace of the owning request.
pub const REQUEST_NAMESPACE_LABEL: &str = "govcloud.io/request-namespace";
/// Label: the name of the owning request.
pub const REQUEST_NAME_LABEL: &str = "govcloud.io/request-name";
/// Label: the network zone.
pub const ZONE_LABEL: &str = "govcloud.io/zone";
/// Label: the granted class.
pub const CLASS_LABEL: &str = "govcloud.io/class";
/// Annotation: the UID of the owning request — a namespace without the matching UID is
/// never touched.
pub const OWNER_UID_ANNOTATION: &str = "govcloud.io/owner-uid";
/// Annotation: a hash of the tenant spec last applied, so an unchanged tenant is not
/// re-applied (a converged cluster sees no writes).
pub const SPEC_HASH_ANNOTATION: &str = "govcloud.io/tenant-hash";
/// Names of the owned objects in the tenant namespace.
pub const QUOTA_NAME: &str = "govcloud-grant";
/// The LimitRange.
pub const LIMIT_RANGE_NAME: &str = "govcloud-defaults";
/// The RoleBinding (and the ClusterRole it binds).
pub const ROLE_BINDING_NAME: &str = "govcloud-tenant";
/// The NetworkPolicy.
pub const NETWORK_POLICY_NAME: &str = "govcloud-isolation";

/// The longest namespace name Kubernetes accepts.
pub const MAX_NAMESPACE_LEN: usize = 63;

/// The default tenant namespace of request `name` in `namespace`: `<namespace>-<name>`,
/// dots turned into dashes. When that exceeds 63 characters it is cut and given a hash of
/// the full name, so two long names never silently clash.
pub fn default_name(namespace: &str, name: &str) -> String {
    let full = format!("{namespace}-{name}").replace('.', "-");
    if full.len() <= MAX_NAMESPACE_LEN {
        return full;
    }
    let hash = fnv1a(full.as_bytes());
    let mut suffix = String::new();
    let _ = write!(suffix, "{:010x}", hash & 0xff_ffff_ffff);
    // Cut on a character boundary: the API server admits only ASCII names, but this
    // function must not panic on whatever it is given (issue 14).
    let mut keep = MAX_NAMESPACE_LEN - suffix.len() - 1;
    while !full.is_char_boundary(keep) {
        keep -= 1;
    }
    let head = full[..keep].trim_end_matches('-');
    format!("{head}-{suffix}")
}

/// FNV-1a: stable across releases and platforms (std's hasher is not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Why a tenant namespace name may not be used, if it may not.
pub fn forbidden_reason(name: &str, operator_namespace: &str) -> Option<String> {
    if name == "default" || name.starts_with("kube-") || name == "kube" {
        return Some(format!("{name:?} is a system namespace"));
    }
    if name == operator_namespace {
        return Some(format!("{name:?} is the operator's own namespace"));
    }
    let valid = !name.is_empty()
        && name.len() <= MAX_NAMESPACE_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !valid {
        return Some(format!(
            "{name:?} is not a valid namespace name (lowercase letters, digits and '-', at most 63)"
        ));
    }
    None
}

/// What the tenant namespace should look like.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSpec {
    /// Namespace name.
    pub namespace: String,
    /// Labels of the Namespace.
    pub labels: BTreeMap<String, String>,
    /// Annotations of the Namespace.
    pub annotations: BTreeMap<String, String>,
    /// ResourceQuota `hard`.
    pub quota: BTreeMap<String, String>,
    /// Groups bound to `govcloud-tenant`.
    pub groups: Vec<String>,
    /// CIDRs the tenant may reach beyond its namespace and DNS (NetworkPolicy egress).
    pub egress: Vec<String>,
}

/// Everything needed to describe a tenant namespace.
pub struct TenantInput<'a> {
    /// Namespace name.
    pub namespace: &'a str,
    /// The request's namespace.
    pub request_namespace: &'a str,
    /// The request's name.
    pub request_name: &'a str,
    /// The request's UID.
    pub request_uid: &'a str,
    /// Zone label value.
    pub zone: &'a str,
    /// Class label value.
    pub class: &'a str,
    /// The grant.
    pub grant: &'a Amounts,
    /// Groups with access.
    pub groups: &'a [String],
    /// The policy whose pool holds the grant (labelled, so an orphan still counts).
    pub pool: &'a str,
    /// The Pod Security level enforced (issue 13).
    pub pod_security: &'a str,
    /// CIDRs reachable beyond the namespace and DNS.
    pub egress: &'a [String],
    /// Quota object counts.
    pub object_counts: &'a BTreeMap<String, i64>,
    /// Closed to new pods (suspended).
    pub closed: bool,
}

/// The desired tenant namespace for a grant. Suspension closes the quota to new pods.
pub fn desired(input: TenantInput<'_>) -> TenantSpec {
    let mut labels = BTreeMap::new();
    labels.insert(MANAGED_LABEL.to_string(), "true".to_string());
    labels.insert(
        REQUEST_NAMESPACE_LABEL.to_string(),
        input.request_namespace.to_string(),
    );
    labels.insert(
        REQUEST_NAME_LABEL.to_string(),
        label_value(input.request_name),
    );
    labels.insert(ZONE_LABEL.to_string(), input.zone.to_string());
    labels.insert(CLASS_LABEL.to_string(), input.class.to_string());
    // Issue 13: a tenant whose request is gone still counts against its pool.
    labels.insert(
        super::capacity::POOL_LABEL.to_string(),
        label_value(input.pool),
    );
    // Issue 13: Pod Security Admission from the policy (enforced by Kubernetes 1.23+).
    for key in [
        super::hardening::PSA_ENFORCE,
        super::hardening::PSA_WARN,
        super::hardening::PSA_AUDIT,
    ] {
        labels.insert(key.to_string(), input.pod_security.to_string());
    }
    let mut annotations = BTreeMap::new();
    annotations.insert(
        OWNER_UID_ANNOTATION.to_string(),
        input.request_uid.to_string(),
    );
    annotations.insert(
        super::capacity::GRANT_ANNOTATION.to_string(),
        super::capacity::grant_annotation(input.grant),
    );
    TenantSpec {
        namespace: input.namespace.to_string(),
        labels,
        annotations,
        quota: {
            let mut hard = quota_hard(input.grant, input.closed);
            // Object counts from the policy; a closed quota's `pods: 0` stays.
            for (key, count) in input.object_counts {
                hard.entry(key.clone()).or_insert_with(|| count.to_string());
            }
            hard
        },
        groups: input.groups.to_vec(),
        egress: input.egress.to_vec(),
    }
}

/// Label values are at most 63 characters; longer request names are cut (the owner UID
/// annotation, not the label, is what identifies the owner).
fn label_value(v: &str) -> String {
    let cut: String = v.chars().take(63).collect();
    cut.trim_end_matches(['-', '.', '_']).to_string()
}

impl TenantSpec {
    /// A stable hash of everything applied for this tenant.
    pub fn hash(&self) -> String {
        let mut text = String::new();
        let _ = write!(
            text,
            "{}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.namespace, self.labels, self.annotations, self.quota, self.groups, self.egress
        );
        format!("{:016x}", fnv1a(text.as_bytes()))
    }
}

/// ResourceQuota `hard` for a grant: requests and limits of CPU and memory, storage
/// requests, GPUs, load balancers and node ports (public IPs). A closed quota admits no pods.
pub fn quota_hard(grant: &Amounts, closed: bool) -> BTreeMap<String, String> {
    let mut hard = BTreeMap::new();
    let q = |kind: ResourceKind| super::quantity::format_quantity(kind, grant.get(kind));
    hard.insert("requests.cpu".to_string(), q(ResourceKind::Cpu));
    hard.insert("limits.cpu".to_string(), q(ResourceKind::Cpu));
    hard.insert("requests.memory".to_string(), q(ResourceKind::Memory));
    hard.insert("limits.memory".to_string(), q(ResourceKind::Memory));
    hard.insert("requests.storage".to_string(), q(ResourceKind::Storage));
    hard.insert("requests.nvidia.com/gpu".to_string(), q(ResourceKind::Gpu));
    hard.insert(
        "services.loadbalancers".to_string(),
        q(ResourceKind::LoadBalancers),
    );
    hard.insert("services.nodeports".to_string(), q(ResourceKind::PublicIps));
    if closed {
        hard.insert("pods".to_string(), "0".to_string());
    }
    hard
}

/// The fraction of a quota in use, from a ResourceQuota's `used` and `hard` (allocation
/// utilization); `None` when the hard limit is zero or either is unparsable.
pub fn used_ratio(used: &str, hard: &str) -> Option<Decimal> {
    let u = super::quantity::parse_quantity(used).ok()?;
    let h = super::quantity::parse_quantity(hard).ok()?;
    // Checked: a tiny hard limit under a large use is beyond any ratio (issue 14).
    u.checked_div(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_names_are_namespace_dash_name() {
        assert_eq!(
            default_name("unit-finance", "tax-portal"),
            "unit-finance-tax-portal"
        );
        assert_eq!(default_name("a", "b.c"), "a-b-c");
    }

    #[test]
    fn system_and_operator_namespaces_are_refused() {
        for n in ["kube-system", "kube-public", "default", "govcloud-system"] {
            assert!(forbidden_reason(n, "govcloud-system").is_some(), "{n}");
        }
        assert!(forbidden_reason("Tax_Portal", "govcloud-system").is_some());
        assert!(forbidden_reason("tax-portal", "govcloud-system").is_none());
    }

    proptest! {
        #[test]
        fn long_names_are_shortened_deterministically_and_stay_valid(ns in "[a-z][a-z0-9-]{0,61}[a-z0-9]", name in "[a-z][a-z0-9.-]{0,200}[a-z0-9]") {
            let n = default_name(&ns, &name);
            prop_assert!(n.len() <= MAX_NAMESPACE_LEN);
            prop_assert_eq!(&n, &default_name(&ns, &name));
            prop_assert!(forbidden_reason(&n, "govcloud-system").is_none() || n.starts_with("kube-") || n == "default" || n == "govcloud-system");
        }

        #[test]
        fn distinct_long_names_do_not_clash(a in "[a-z]{70,90}", b in "[a-z]{70,90}") {
            prop_assume!(a != b);
            prop_assert_ne!(default_name("ns", &a), default_name("ns", &b));
        }
    }

    #[test]
    fn a_closed_quota_admits_no_pods() {
        let grant = Amounts::default();
        assert_eq!(
            quota_hard(&grant, true).get("pods").map(String::as_str),
            Some("0")
        );
        assert!(!quota_hard(&grant, false).contains_key("pods"));
    }
}
