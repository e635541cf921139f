//! Which time zone to show an object's times in: its policy's `spec.timeZone`.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use kube::ResourceExt;

use super::format::DEFAULT_ZONE;
use govcloud_core::api::{CloudResourceRequest, GovCloudPolicy};

/// Time zones by policy name, and the policy of requests that name none.
#[derive(Debug, Clone, Default)]
pub struct Zones {
    by_policy: BTreeMap<String, Tz>,
    default_policy: String,
}

impl Zones {
    /// Zones from the policies the cluster has (an unreadable or missing zone is
    /// Asia/Shanghai, as the operator assumes).
    pub fn new(policies: &[GovCloudPolicy], default_policy: &str) -> Self {
        let by_policy = policies
            .iter()
            .map(|p| {
                let zone = p
                    .spec
                    .time_zone
                    .as_deref()
                    .and_then(|z| z.parse().ok())
                    .unwrap_or(DEFAULT_ZONE);
                (p.name_any(), zone)
            })
            .collect();
        Zones {
            by_policy,
            default_policy: default_policy.to_string(),
        }
    }

    /// The zone of policy `name` (the default policy when `None`).
    pub fn of_policy(&self, name: Option<&str>) -> Tz {
        let name = name.unwrap_or(&self.default_policy);
        self.by_policy.get(name).copied().unwrap_or(DEFAULT_ZONE)
    }

    /// The zone of a request's policy.
    pub fn of_request(&self, r: &CloudResourceRequest) -> Tz {
        self.of_policy(r.spec.policy.as_deref())
    }

    /// The zone of the request `name` in `namespace` among `requests` (for a change or an
    /// exit); the default policy's when the request is not there.
    pub fn of_parent(&self, requests: &[CloudResourceRequest], namespace: &str, name: &str) -> Tz {
        find_request(requests, namespace, name)
            .map(|r| self.of_request(r))
            .unwrap_or_else(|| self.of_policy(None))
    }
}

/// The request `name` in `namespace` among `requests`.
pub fn find_request<'a>(
    requests: &'a [CloudResourceRequest],
    namespace: &str,
    name: &str,
) -> Option<&'a CloudResourceRequest> {
    requests
        .iter()
        .find(|r| r.namespace().as_deref() == Some(namespace) && r.name_any() == name)
}
