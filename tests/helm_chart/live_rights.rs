//! What the chart's ServiceAccount may do, asked of the API server with its own token:
//! exactly what the operator needs, nothing cluster-wide it does not.

use super::live_support::*;
use super::*;

/// Every right the chart grants (or must not grant) its ServiceAccount `sa`, checked one
/// by one; `release_ns` is the release's namespace.
pub(super) async fn service_account_rights_are_exactly_the_operators(
    sa: &Client,
    release_ns: &str,
) -> Result<()> {
    let tenant_like = Some("some-tenant");
    for (verb, group, resource, name, ns, allowed) in [
        (
            "get",
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            Some("cloudresourcerequests.govcloud.io"),
            None,
            true,
        ),
        (
            "get",
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            Some("widgets.example.com"),
            None,
            false,
        ),
        (
            "patch",
            "govcloud.io",
            "cloudresourcerequests/status",
            None,
            tenant_like,
            true,
        ),
        (
            "bind",
            "rbac.authorization.k8s.io",
            "clusterroles",
            Some("govcloud-tenant"),
            None,
            true,
        ),
        (
            "bind",
            "rbac.authorization.k8s.io",
            "clusterroles",
            Some("cluster-admin"),
            None,
            false,
        ),
        (
            "bind",
            "rbac.authorization.k8s.io",
            "clusterroles",
            Some("govcloud-approver"),
            None,
            false,
        ),
        (
            "escalate",
            "rbac.authorization.k8s.io",
            "clusterroles",
            None,
            None,
            false,
        ),
        ("impersonate", "", "users", None, None, false),
        (
            "impersonate",
            "",
            "serviceaccounts",
            None,
            tenant_like,
            false,
        ),
        (
            "create",
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            None,
            None,
            false,
        ),
        ("get", "", "secrets", None, Some(release_ns), false),
        ("list", "", "secrets", None, tenant_like, false),
        (
            "update",
            "govcloud.io",
            "cloudresourcerequests",
            None,
            tenant_like,
            false,
        ),
        (
            "delete",
            "govcloud.io",
            "cloudresourcerequests",
            None,
            tenant_like,
            false,
        ),
        (
            "create",
            "govcloud.io",
            "cloudresourcerequests",
            None,
            tenant_like,
            false,
        ),
        (
            "patch",
            "govcloud.io",
            "govcloudpolicies",
            None,
            None,
            false,
        ),
        (
            "create",
            "govcloud.io",
            "govcloudrecords",
            None,
            tenant_like,
            true,
        ),
        (
            "update",
            "govcloud.io",
            "govcloudrecords",
            None,
            tenant_like,
            false,
        ),
        (
            "patch",
            "govcloud.io",
            "govcloudrecords",
            None,
            tenant_like,
            false,
        ),
        ("create", "apps", "deployments", None, tenant_like, false),
        ("delete", "", "pods", None, tenant_like, false),
        ("create", "", "pods", None, tenant_like, false),
        (
            "create",
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            None,
            None,
            false,
        ),
    ] {
        assert_eq!(
            may(sa, verb, group, resource, name, ns).await?,
            allowed,
            "{verb} {group}/{resource} {name:?} in {ns:?}"
        );
    }
    Ok(())
}
