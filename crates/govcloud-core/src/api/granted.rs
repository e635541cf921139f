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
