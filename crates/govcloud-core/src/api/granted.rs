//! The rules a granted request lives by, recorded in its status when the grant is
//! recorded (`status.grantedRules`), so that deleting or breaking its GovCloudPolicy does
//! not stop expiry, suspension and reclamation of what is already granted.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{GovCloudPolicySpec, RequestClass};

/// The rules in force when the grant was recorded: only what decisions after the grant
/// read (deployment, emergency paperwork, the granted class's limits, expiry, changes,
/// exit, utilization and prices), every value written out. Review periods, the pool's
/// capacity and the other classes are not recorded: they matter before a grant, or to the
/// pool, which belongs to the live policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantedRules {
    /// The GovCloudPolicy the rules come from.
    pub policy: String,
    /// That policy's `metadata.generation` when they were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_generation: Option<i64>,
    /// The class whose limits are recorded (the class granted when they were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<RequestClass>,
    /// The rules, in the form of a GovCloudPolicy spec. Used only while the policy is
    /// missing or invalid; while it is valid, its current rules apply.
    pub rules: GovCloudPolicySpec,
}

/// `status.grantedRules` as held in memory: one copy shared by every request that
/// recorded the same rules. Issue 11: the rules are the largest part of a decoded request
/// (~1.8 KiB inline, ~35 allocations), and every request granted under one generation of
/// one policy for one class records exactly the same rules; at 10,000 requests a copy each
/// was ~20 MiB of the operator's memory. Serializes and is described exactly as
/// [`GrantedRules`] (serde's and schemars' `Arc` are transparent).
pub type SharedGrantedRules = std::sync::Arc<GrantedRules>;

/// Deserializes `status.grantedRules` through [`share`].
pub(crate) fn deserialize_shared<'de, D>(
    deserializer: D,
) -> Result<Option<SharedGrantedRules>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Option::<GrantedRules>::deserialize(deserializer)?.map(share))
}

/// The shared copy of `rules`: an equal copy still held by some decoded request if there
/// is one, else `rules` itself, remembered for the next decode. Only weak references are
/// kept here, so rules nobody holds any more are dropped with their last request.
pub fn share(rules: GrantedRules) -> SharedGrantedRules {
    use std::sync::{Arc, Mutex, PoisonError, Weak};
    type Key = (String, Option<i64>, Option<RequestClass>);
    static SHARED: Mutex<Vec<(Key, Weak<GrantedRules>)>> = Mutex::new(Vec::new());

    // A poisoned lock only means another decode panicked mid-way; the list of weak
    // references is still valid.
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    let key = (rules.policy.clone(), rules.policy_generation, rules.class);
    // Few distinct rules are alive at once (policies × generations × classes in use);
    // dead entries go as the list is walked.
    shared.retain(|(_, weak)| weak.strong_count() > 0);
    let found = shared
        .iter()
        .filter(|(k, _)| *k == key)
        .filter_map(|(_, weak)| weak.upgrade())
        .find(|held| **held == rules);
    found.unwrap_or_else(|| {
        let held = Arc::new(rules);
        shared.push((key, Arc::downgrade(&held)));
        held
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::api::{CloudResourceRequestStatus, RequestClass};

    fn status(policy: &str, generation: i64) -> CloudResourceRequestStatus {
        serde_json::from_value(serde_json::json!({
            "grantedRules": {
                "policy": policy,
                "policyGeneration": generation,
                "class": "Production",
                "rules": {"timeZone": "Asia/Shanghai"}
            }
        }))
        .expect("a status")
    }

    fn rules(s: &CloudResourceRequestStatus) -> &Arc<super::GrantedRules> {
        s.granted_rules.as_ref().expect("recorded rules")
    }

    #[test]
    fn requests_recording_the_same_rules_hold_one_copy() {
        let (a, b) = (status("share-a", 1), status("share-a", 1));
        assert!(Arc::ptr_eq(rules(&a), rules(&b)));
        // Another generation, policy or class is another copy.
        for other in [status("share-a", 2), status("share-b", 1)] {
            assert!(!Arc::ptr_eq(rules(&a), rules(&other)));
        }
        let mut test_class = (**rules(&a)).clone();
        test_class.class = Some(RequestClass::Test);
        assert!(!Arc::ptr_eq(rules(&a), &super::share(test_class)));
        // What is written back is what was read.
        assert_eq!(
            serde_json::to_value(&a).expect("serializes")["grantedRules"]["policy"],
            "share-a"
        );
    }

    #[test]
    fn rules_nobody_holds_are_not_kept() {
        let first = status("share-gone", 1);
        let weak = Arc::downgrade(rules(&first));
        drop(first);
        assert_eq!(
            weak.strong_count(),
            0,
            "the table holds only weak references"
        );
        // A later decode still works, with a fresh copy.
        assert_eq!(rules(&status("share-gone", 1)).policy, "share-gone");
    }
}
