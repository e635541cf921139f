//! GovCloudPolicy: one jurisdiction's rules as data (cluster-scoped).
//!
//! Every field is optional so a bureau can write only what differs; the operator fills the
//! rest from documented defaults (`policy::rules`). Durations are strings: `5wd` working
//! days, `30d` natural days, `3mo` calendar months, `90s`/`10m`/`2h` for demos and tests.

use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Condition;

/// Duration strings: `5wd`, `30d`, `3mo`, `90s`, `10m`, `2h`.
const DURATION: &str = r"^[0-9]{1,6}(wd|d|mo|s|m|h)$";
/// Percentages: `15%`, `120%`, `0.5%`.
const PERCENT: &str = r"^[0-9]{1,6}(\.[0-9]{1,4})?%$";
/// Money and unit prices: `100000`, `0.40`.
const MONEY: &str = r"^[0-9]{1,12}(\.[0-9]{1,4})?$";

/// The management rules of one jurisdiction's government cloud. The presets `guiyang`,
/// `yixing`, `suining`, `xishuangbanna` and `shanghai` ship in `examples/policies/`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "govcloud.io",
    version = "v1alpha1",
    kind = "GovCloudPolicy",
    status = "GovCloudPolicyStatus",
    shortname = "gcpol",
    category = "govcloud",
    derive = "PartialEq",
    doc = "The management rules of one jurisdiction's government cloud: review, provisioning and expiry deadlines, class limits, change thresholds, exit, utilization and prices.",
    printcolumn(
        name = "Jurisdiction",
        type_ = "string",
        json_path = ".spec.jurisdiction"
    ),
    printcolumn(name = "Time Zone", type_ = "string", json_path = ".spec.timeZone"),
    printcolumn(
        name = "Valid",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Invalid\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct GovCloudPolicySpec {
    /// The jurisdiction, e.g. `上海市`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    /// IANA time zone in which days are counted. Default `Asia/Shanghai`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The working-day calendar: `cn-statutory` (embedded 2024–2026, extended by
    /// WorkCalendar objects) or the name of a WorkCalendar. Default `cn-statutory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
    /// Review of new requests (XB 20, SN 11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewRules>,
    /// Opening of approved resources (GY 7, SH 19).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<ProvisioningRules>,
    /// Start of deployment after allocation (SN 11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<WithinRule>,
    /// Limits of the time-boxed classes (GY 7, SH 19, SH 22–24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<ClassRules>,
    /// Expiry of time-boxed resources (SH 21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<ExpiryRules>,
    /// Changes to a grant (GY 9, XB 22, SN 15, SH 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangeRules>,
    /// Exit and reclamation (SN 16, GY 11, SH 21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitRules>,
    /// Emergency fast track (XB 26, GY 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<EmergencyRules>,
    /// Naming of tenant namespaces (checked by the admission webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub naming: Option<super::policy_admission::NamingRules>,
    /// Utilization monitoring (SN 14, GY 10, SH 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization: Option<UtilizationRules>,
    /// Catalogue prices per unit per month (SH 15, SH 27, XB 11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Prices>,
    /// The pool's size; grants never exceed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<super::ResourceAmounts>,
    /// How tenant namespaces are hardened: Pod Security level, egress per zone, object
    /// counts in the quota (defaults: `restricted`, own namespace and DNS only, the
    /// default counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenants: Option<super::TenantRules>,
    /// How long the operator keeps the GovCloudRecords of every step (SN 31).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<RecordRules>,
}

/// The operation record (SN 31).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordRules {
    /// Records are removed this long after their step (SN 31: at least one year, the
    /// default `12mo`); calendar months or days, or seconds/minutes/hours for tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub retention: Option<String>,
}

/// Review deadlines.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewRules {
    /// Accept or refuse within (XB 20: 5wd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub accept_within: Option<String>,
    /// Review opinion within, after acceptance (XB 20: 5wd; SN 11: 2wd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub decide_within: Option<String>,
    /// A reviewer sharing a group with the requester may not decide (separation of
    /// duties, GY 22: the approval must be the bureau's, not the applicant's). Checked by
    /// the admission webhook; `system:` groups do not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forbid_same_group: Option<bool>,
}

/// A single deadline.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WithinRule {
    /// The period, e.g. `5wd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub within: Option<String>,
}

/// Where the opening deadline of a new request is counted from: `Approval` (default; GY 7)
/// or `Filing` (SH 19 ¶1: review and opening share one window from the request).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ProvisioningFrom {
    /// From the approval: review first, then `within` to open (GY 7: opened within 5 wd
    /// of approval).
    Approval,
    /// From the filing: review and opening share one window of `within` (SH 19 ¶1: test
    /// resources reviewed and opened within 5 wd).
    Filing,
    /// A value written by a newer release (issue 14): the policy is still read, and this
    /// field is refused by name, instead of the whole watch failing to decode.
    #[serde(other, skip_serializing)]
    #[schemars(skip)]
    Unrecognized,
}

/// Opening of approved resources.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningRules {
    /// The period, e.g. `5wd` (GY 7, SH 19 ¶1: 5wd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub within: Option<String>,
    /// Where `within` is counted from: `Approval` (default; GY 7) or `Filing` (SH 19 ¶1:
    /// reviewed and opened within 5 wd of the request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ProvisioningFrom>,
}

/// Limits per time-boxed class. Production has none.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ClassRules {
    /// Test resources (GY 7: free, ≤ 30 d; SH 19: validation within 1 mo).
    #[serde(rename = "Test", default, skip_serializing_if = "Option::is_none")]
    pub test: Option<ClassRule>,
    /// Development resources (SH 22: ≤ 15 % of the project quota, ≤ 3 mo).
    #[serde(
        rename = "Development",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub development: Option<ClassRule>,
    /// Emergency resources (SH 23: ≤ 3 mo, extension ≥ 15 wd before expiry).
    #[serde(rename = "Emergency", default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<ClassRule>,
    /// Temporary resources (SH 24: ≤ 6 mo, extension ≥ 15 wd before expiry).
    #[serde(rename = "Temporary", default, skip_serializing_if = "Option::is_none")]
    pub temporary: Option<ClassRule>,
}

/// The limits of one class.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClassRule {
    /// The longest a grant of this class may last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub max_duration: Option<String>,
    /// The class is not billed (GY 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free: Option<bool>,
    /// The most of the project quota a request of this class may take (SH 22: 15%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = PERCENT))]
    pub max_project_share: Option<String>,
    /// An extension must be requested at least this long before expiry (SH 23, SH 24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub extension_notice_before: Option<String>,
}

/// Expiry of time-boxed grants.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryRules {
    /// The unit is warned this long before expiry (SH 21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub warn_before: Option<String>,
    /// Suspended at expiry, reclaimed after this long (SH 21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub suspend_for: Option<String>,
}

/// The billing period of a cost threshold: `Year` (default; GY 9 names none, GY 15/16 bill
/// and settle per year) or `Month`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum CostPeriod {
    /// Per year: compared with twelve times the added monthly cost (GY 15/16 bill and
    /// settle per year, so GY 9's 100,000 CNY is read as a yearly amount).
    Year,
    /// Per month: compared with the added monthly cost.
    Month,
    /// A value written by a newer release (issue 14): the policy is still read, and this
    /// field is refused by name, instead of the whole watch failing to decode.
    #[serde(other, skip_serializing)]
    #[schemars(skip)]
    Unrecognized,
}

/// A cost threshold: a change reaching either needs a justification (GY 9).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CostThreshold {
    /// Added cost per `period` at or above which (GY 9: 100,000 CNY, no period named;
    /// read as per year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY))]
    pub amount: Option<String>,
    /// The period of `amount`: `Year` (default) or `Month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<CostPeriod>,
    /// Older form of `amount` with `period: Month`: added monthly cost at or above which.
    /// Not together with `amount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY))]
    pub monthly_cost: Option<String>,
    /// Added share of the current cost above which (GY 9: 30%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = PERCENT))]
    pub ratio: Option<String>,
}

/// Rules for ResourceChanges.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRules {
    /// Review within (XB 22.4, SH 20: 5wd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub review_within: Option<String>,
    /// Applied within, after approval (GY 9, SN 15: 5wd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub apply_within: Option<String>,
    /// A Test → Production conversion (`convertTo` adding no resources) is reviewed and
    /// applied within this of its filing (SH 19 ¶2: formal opening within 2 wd of the
    /// unit's notice that validation passed). Absent: `reviewWithin`, then `applyWithin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub conversion_within: Option<String>,
    /// Changes that only reduce the grant are approved by the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_approve_scale_down: Option<bool>,
    /// When a justified adjustment plan is required (GY 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification_above: Option<CostThreshold>,
    /// A new total above this share of the project quota needs escalation (SH 20: 120%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = PERCENT))]
    pub escalate_above_project_quota: Option<String>,
}

/// Rules for ExitRequests.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExitRules {
    /// Review within (SH 21: 10wd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub review_within: Option<String>,
    /// Transition after approval, to migrate off and back up (SN 16: 3mo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub transition: Option<String>,
    /// The exit must be filed within this of the last use (SN 16: 1mo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub submit_within: Option<String>,
    /// Where `reclaimBy` is counted from: `TransitionEnd` (default: `reviewWithin` after
    /// the transition, SN 16) or `Filing` (review and reclamation share one window of
    /// `reviewWithin` from the filing: GY 11, SH 21 ¶1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaim_from: Option<ReclaimFrom>,
}

/// Where an exit's `reclaimBy` is counted from: `TransitionEnd` (default; SN 16) or `Filing`
/// (GY 11: released and billing stopped within 5 wd of receiving the exit request; SH 21 ¶1:
/// reviewed and reclaimed within 10 wd; needs `transition: 0d`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ReclaimFrom {
    /// `reviewWithin` after the transition ends (SN 16: transition, then reclamation).
    TransitionEnd,
    /// `reviewWithin` after the filing: one window for review and reclamation (GY 11: data
    /// backed up, resources released and billing stopped within 5 wd of receiving the exit
    /// request; SH 21 ¶1: reviewed and reclaimed within 10 wd). Needs `transition: 0d`.
    Filing,
    /// A value written by a newer release (issue 14): the policy is still read, and this
    /// field is refused by name, instead of the whole watch failing to decode.
    #[serde(other, skip_serializing)]
    #[schemars(skip)]
    Unrecognized,
}

/// Emergency fast track.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyRules {
    /// The paperwork is due within this of opening (XB 26, XB 39.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub paperwork_within: Option<String>,
    /// The classes that may use the fast track (XB 26, GY 12). Absent: every class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_classes: Option<Vec<super::RequestClass>>,
    /// The largest emergency request (XB 26: what the emergency needs, no more); keys left
    /// out are not capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<super::ResourceAmounts>,
    /// The one decision an emergency waits for is due within this of filing (XB 26: the
    /// consent comes before the opening, so it must be fast). Absent: the normal review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub review_within: Option<String>,
}

/// What happens when an optimization notice is ignored.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum OnIgnored {
    /// Mark the request `BudgetExcluded`: its cost leaves central funding (GY 10).
    Flag,
    /// File an automatic ResourceChange down to the observed peak plus headroom (SN 14).
    Downsize,
    /// Suspend, then reclaim (SH 25).
    Reclaim,
    /// A value written by a newer release (issue 14): the policy is still read, and this
    /// field is refused by name, instead of the whole watch failing to decode.
    #[serde(other, skip_serializing)]
    #[schemars(skip)]
    Unrecognized,
}

/// Utilization thresholds per resource.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UtilizationThresholds {
    /// Average CPU use (SN 14: low < 10%, high > 60%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = PERCENT))]
    pub cpu: Option<String>,
    /// Average memory use (SN 14: low < 30%, high > 80%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = PERCENT))]
    pub memory: Option<String>,
    /// Storage use (SN 14: low < 40%, high ≥ 80% with less than `largeFree` free).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = PERCENT))]
    pub storage: Option<String>,
    /// Low only: storage below this share also counts as low when more than `largeFree`
    /// is free (SN 14: < 60% with more than 1 TB free).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = PERCENT))]
    pub storage_with_large_free: Option<String>,
}

/// Utilization monitoring.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UtilizationRules {
    /// Monitoring starts this long after the request became Active (SN 14: 3mo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub grace_after_active: Option<String>,
    /// Averaging window (SN 14: monthly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub window: Option<String>,
    /// The unit optimizes or objects within this of a notice (GY 10: 5wd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub respond_within: Option<String>,
    /// What an ignored notice leads to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_ignored: Option<OnIgnored>,
    /// Below these is low utilization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<UtilizationThresholds>,
    /// Above these is high utilization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<UtilizationThresholds>,
    /// Free storage counted as "large" in the storage rules (SN 14: 1 TB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_free: Option<k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>,
}

/// Catalogue prices per unit per month.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Prices {
    /// Currency code, e.g. `CNY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Per vCPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY))]
    pub cpu: Option<String>,
    /// Per GiB of memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY))]
    pub memory: Option<String>,
    /// Per GiB of storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY))]
    pub storage: Option<String>,
    /// Per GPU card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY))]
    pub gpu: Option<String>,
    /// Per load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY))]
    pub load_balancers: Option<String>,
    /// Per public IP.
    #[serde(default, rename = "publicIPs", skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY))]
    pub public_ips: Option<String>,
}

/// The operator's verdict on a policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GovCloudPolicyStatus {
    /// `Invalid` (with the field named) when a value cannot be used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
