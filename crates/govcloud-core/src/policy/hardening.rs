//! How a tenant namespace is hardened, from its policy (issue 13): the Pod Security
//! Admission level (default `restricted`, overridable per class), the egress a tenant may
//! have beyond its own namespace and DNS (per zone, XB 15.2), and the object counts of its
//! quota. Pure: resolved from `spec.tenants` with defaults, applied by `policy::tenant`.

use std::collections::BTreeMap;

use super::quantity::FieldError;
use crate::api::{RequestClass, TenantRules, Zone};

/// Label: the Pod Security level enforced in a namespace (Kubernetes 1.23+).
pub const PSA_ENFORCE: &str = "pod-security.kubernetes.io/enforce";
/// Label: the Pod Security level warned about.
pub const PSA_WARN: &str = "pod-security.kubernetes.io/warn";
/// Label: the Pod Security level audited.
pub const PSA_AUDIT: &str = "pod-security.kubernetes.io/audit";
/// The levels Pod Security Admission knows.
pub const LEVELS: [&str; 3] = ["privileged", "baseline", "restricted"];

/// Object counts of every tenant quota unless the policy says otherwise: enough for an
/// ordinary system, bounded so that one tenant cannot flood etcd.
pub const DEFAULT_OBJECT_COUNTS: [(&str, i64); 5] = [
    ("configmaps", 100),
    ("persistentvolumeclaims", 50),
    ("pods", 200),
    ("secrets", 100),
    ("services", 50),
];

const CLASSES: [RequestClass; 5] = [
    RequestClass::Production,
    RequestClass::Test,
    RequestClass::Development,
    RequestClass::Emergency,
    RequestClass::Temporary,
];

/// The resolved hardening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardening {
    /// The level enforced unless a class has its own.
    pub enforce: String,
    /// Per class.
    pub classes: BTreeMap<RequestClass, String>,
    /// CIDRs reachable per zone.
    pub egress: BTreeMap<String, Vec<String>>,
    /// Quota object counts.
    pub object_counts: BTreeMap<String, i64>,
}

impl Default for Hardening {
    fn default() -> Self {
        Hardening {
            enforce: "restricted".into(),
            classes: BTreeMap::new(),
            egress: BTreeMap::new(),
            object_counts: DEFAULT_OBJECT_COUNTS
                .iter()
                .map(|(k, v)| ((*k).to_string(), *v))
                .collect(),
        }
    }
}

impl Hardening {
    /// The Pod Security level of a tenant of `class`.
    pub fn level(&self, class: RequestClass) -> &str {
        self.classes.get(&class).unwrap_or(&self.enforce)
    }

    /// The CIDRs a tenant in `zone` may reach beyond its namespace and DNS.
    pub fn egress(&self, zone: Zone) -> &[String] {
        self.egress
            .get(zone.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Back to the policy's form (recorded with a grant's rules).
    pub fn to_api(&self) -> TenantRules {
        TenantRules {
            pod_security: Some(crate::api::PodSecurityRules {
                enforce: Some(self.enforce.clone()),
                classes: self
                    .classes
                    .iter()
                    .map(|(c, l)| (c.as_str().to_string(), l.clone()))
                    .collect(),
            }),
            egress: self.egress.clone(),
            object_counts: self.object_counts.clone(),
        }
    }
}

fn level(field: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    if LEVELS.contains(&text) {
        Some(text.to_string())
    } else {
        errors.push(FieldError::new(
            field,
            format!("{text:?} is not a Pod Security level: privileged, baseline or restricted"),
        ));
        None
    }
}

fn valid_cidr(text: &str) -> bool {
    let Some((ip, bits)) = text.split_once('/') else {
        return false;
    };
    match (ip.parse::<std::net::IpAddr>(), bits.parse::<u8>()) {
        (Ok(std::net::IpAddr::V4(_)), Ok(b)) => b <= 32,
        (Ok(std::net::IpAddr::V6(_)), Ok(b)) => b <= 128,
        _ => false,
    }
}

/// Resolves `spec.tenants`; every problem names its field.
pub fn resolve(spec: Option<&TenantRules>) -> Result<Hardening, Vec<FieldError>> {
    let mut out = Hardening::default();
    let Some(spec) = spec else {
        return Ok(out);
    };
    let mut errors = Vec::new();
    if let Some(ps) = &spec.pod_security {
        if let Some(l) = ps
            .enforce
            .as_deref()
            .and_then(|t| level("spec.tenants.podSecurity.enforce", t, &mut errors))
        {
            out.enforce = l;
        }
        for (class, text) in &ps.classes {
            let field = format!("spec.tenants.podSecurity.classes.{class}");
            let Some(c) = CLASSES.iter().find(|c| c.as_str() == class) else {
                errors.push(FieldError::new(field, "not a request class"));
                continue;
            };
            if let Some(l) = level(&field, text, &mut errors) {
                out.classes.insert(*c, l);
            }
        }
    }
    for (zone, cidrs) in &spec.egress {
        let field = format!("spec.tenants.egress.{zone}");
        if ![Zone::EGovExtranet, Zone::Internet]
            .iter()
            .any(|z| z.as_str() == zone)
        {
            errors.push(FieldError::new(
                field,
                "not a zone: EGovExtranet or Internet",
            ));
            continue;
        }
        for cidr in cidrs {
            if !valid_cidr(cidr) {
                errors.push(FieldError::new(
                    field.clone(),
                    format!("{cidr:?} is not a CIDR"),
                ));
            }
        }
        out.egress.insert(zone.clone(), cidrs.clone());
    }
    for (key, count) in &spec.object_counts {
        if *count < 0 {
            errors.push(FieldError::new(
                format!("spec.tenants.objectCounts.{key}"),
                "a count cannot be negative",
            ));
        }
        out.object_counts.insert(key.clone(), *count);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PodSecurityRules;

    #[test]
    fn the_defaults_are_restricted_dns_only_and_bounded_counts() {
        let h = resolve(None).unwrap();
        assert_eq!(h.level(RequestClass::Test), "restricted");
        assert!(h.egress(Zone::Internet).is_empty());
        assert_eq!(h.object_counts.get("secrets"), Some(&100));
        assert_eq!(h.object_counts.get("services"), Some(&50));
    }

    #[test]
    fn the_policy_overrides_per_class_per_zone_and_per_count() {
        let spec = TenantRules {
            pod_security: Some(PodSecurityRules {
                enforce: Some("baseline".into()),
                classes: [("Test".to_string(), "privileged".to_string())].into(),
            }),
            egress: [("Internet".to_string(), vec!["0.0.0.0/0".to_string()])].into(),
            object_counts: [("secrets".to_string(), 10)].into(),
        };
        let h = resolve(Some(&spec)).unwrap();
        assert_eq!(h.level(RequestClass::Production), "baseline");
        assert_eq!(h.level(RequestClass::Test), "privileged");
        assert_eq!(h.egress(Zone::Internet), ["0.0.0.0/0".to_string()]);
        assert!(h.egress(Zone::EGovExtranet).is_empty());
        assert_eq!(h.object_counts.get("secrets"), Some(&10));
        assert_eq!(h.object_counts.get("configmaps"), Some(&100));
        assert_eq!(resolve(Some(&h.to_api())).unwrap(), h, "round trip");
    }

    #[test]
    fn bad_values_name_their_field() {
        let spec = TenantRules {
            pod_security: Some(PodSecurityRules {
                enforce: Some("lax".into()),
                classes: [("Nope".to_string(), "baseline".to_string())].into(),
            }),
            egress: [
                ("Moon".to_string(), vec![]),
                ("Internet".to_string(), vec!["10.0.0.0/99".to_string()]),
            ]
            .into(),
            object_counts: [("secrets".to_string(), -1)].into(),
        };
        let fields: Vec<String> = resolve(Some(&spec))
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        for f in [
            "spec.tenants.podSecurity.enforce",
            "spec.tenants.podSecurity.classes.Nope",
            "spec.tenants.egress.Moon",
            "spec.tenants.egress.Internet",
            "spec.tenants.objectCounts.secrets",
        ] {
            assert!(fields.iter().any(|m| m.contains(f)), "{f} in {fields:?}");
        }
    }
}
