//! The operator's own API requests as metric labels: the verb and the resource (plural)
//! read from each request's method and path, as fixed words.

use prometheus_client::encoding::EncodeLabelSet;

/// An API request by verb and resource.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerbLabels {
    /// get, list, watch, create, update, patch or delete.
    pub verb: &'static str,
    /// The resource (plural), from the fixed set the operator uses; `other` otherwise.
    pub resource: &'static str,
}

/// The resource (plural) an API path addresses, as a fixed word.
pub fn resource_of(path: &str) -> &'static str {
    const KNOWN: [&str; 18] = [
        "cloudresourcerequests",
        "resourcechanges",
        "exitrequests",
        "govcloudpolicies",
        "workcalendars",
        "namespaces",
        "resourcequotas",
        "limitranges",
        "rolebindings",
        "networkpolicies",
        "pods",
        "deployments",
        "statefulsets",
        "events",
        "leases",
        "customresourcedefinitions",
        "selfsubjectaccessreviews",
        "serviceaccounts",
    ];
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segs.first() {
        Some(&"api") => segs.get(2..).unwrap_or_default(),
        Some(&"apis") => segs.get(3..).unwrap_or_default(),
        _ => &[],
    };
    let rest = if rest.first() == Some(&"namespaces") && rest.len() >= 3 {
        &rest[2..]
    } else {
        rest
    };
    rest.first()
        .and_then(|r| KNOWN.iter().find(|k| *k == r))
        .copied()
        .unwrap_or("other")
}

/// The Kubernetes verb of an HTTP request to the API server.
pub fn verb_of(method: &str, path: &str, query: Option<&str>) -> &'static str {
    match method {
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        "GET"
            if query
                .is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1")) =>
        {
            "watch"
        }
        "GET" => {
            // /api/v1/... or /apis/GROUP/VERSION/...; then [namespaces/NS/]PLURAL[/NAME[/SUB]].
            let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            let rest = match segs.first() {
                Some(&"api") => segs.get(2..).unwrap_or_default(),
                Some(&"apis") => segs.get(3..).unwrap_or_default(),
                _ => return "get",
            };
            let rest = if rest.first() == Some(&"namespaces") && rest.len() >= 3 {
                &rest[2..]
            } else {
                rest
            };
            if rest.len() == 1 { "list" } else { "get" }
        }
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_read_from_method_and_path() {
        assert_eq!(verb_of("GET", "/api/v1/namespaces", None), "list");
        assert_eq!(verb_of("GET", "/api/v1/namespaces/tax", None), "get");
        assert_eq!(
            verb_of("GET", "/api/v1/namespaces/tax/pods", Some("limit=1")),
            "list"
        );
        assert_eq!(
            verb_of(
                "GET",
                "/apis/govcloud.io/v1alpha1/namespaces/u/cloudresourcerequests/x",
                None
            ),
            "get"
        );
        assert_eq!(
            verb_of(
                "GET",
                "/apis/govcloud.io/v1alpha1/cloudresourcerequests",
                Some("watch=true&resourceVersion=5")
            ),
            "watch"
        );
        assert_eq!(
            verb_of(
                "PATCH",
                "/apis/govcloud.io/v1alpha1/namespaces/u/cloudresourcerequests/x/status",
                None
            ),
            "patch"
        );
        assert_eq!(verb_of("POST", "/api/v1/namespaces", None), "create");
    }
}
