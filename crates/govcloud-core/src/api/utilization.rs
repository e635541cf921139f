//! A request's utilization in its status (SN 14, GY 10): the last measurement and the
//! optimization notice it led to.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How much of the grant is used (SN 14).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Utilization {
    /// When these figures were measured. They are measured again every evaluation interval
    /// and rewritten only when they change.
    pub taken_at: DateTime<Utc>,
    /// `Prometheus` (usage averaged over the policy window) or `Allocation` (quota used ÷
    /// hard, when Prometheus is not configured or unreachable).
    pub source: String,
    /// Why Prometheus could not be read, when it is configured but failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_error: Option<String>,
    /// The averaging window of the usage figures (the policy's `utilization.window`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Quota used ÷ hard, from the ResourceQuota `govcloud-grant` (always available).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation: Option<UtilizationFigures>,
    /// Usage ÷ grant, averaged over the window, from Prometheus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UtilizationFigures>,
    /// Monitoring starts here: Active + `graceAfterActive` (SN 14: 3 months after go-live).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitored_from: Option<DateTime<Utc>>,
    /// `Low`, `Normal` or `High`; absent during the grace period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The optimization notice for low utilization (GY 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<OptimizationNotice>,
}

/// Utilization ratios per resource (`"0.05"` = 5 %).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UtilizationFigures {
    /// CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// Free storage (a quantity), for the SN 14 storage rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_free: Option<String>,
}

/// An optimization notice (GY 10): the unit optimizes or objects by `respondBy`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OptimizationNotice {
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When the unit must have optimized (a scale-down ResourceChange) or objected.
    pub respond_by: DateTime<Utc>,
    /// The resources found under-used.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The unit's objection (annotation `govcloud.io/objection`), before the bureau.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objection: Option<String>,
    /// How it ended: `Downsized`, `Flagged`, `AutoDownsize`, `Suspended`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}
