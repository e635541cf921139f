//! GovCloudPolicy fields read by the admission webhook (issue 12).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How tenant namespaces may be named.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamingRules {
    /// A `spec.tenantNamespace` must start with this prefix or with the request's own
    /// namespace followed by `-`, so an applicant cannot claim a namespace some other
    /// software will later be installed into (e.g. `velero`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 62), regex(pattern = r"^[a-z0-9]([-a-z0-9]*)$"))]
    pub tenant_namespace_prefix: Option<String>,
}
