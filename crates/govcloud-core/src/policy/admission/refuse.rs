//! The refusals: writes RBAC cannot tell apart from allowed ones.

use serde_json::{Map, Value};

use super::{
    Facts, Kind, NamespaceUse, Operation, REQUESTED_BY_ANNOTATION, Refusal,
    TENANT_PROTECTION_FINALIZER, Write, annotation, finalizers, malformed,
};
use crate::api::CloudResourceRequestSpec;

/// Refuses the write when it breaks a rule; the operator's own writes pass.
pub fn validate(w: &Write<'_>, facts: &Facts<'_>) -> Result<(), Refusal> {
    if w.by_operator() {
        return Ok(());
    }
    let new = match (&w.operation, w.new) {
        (Operation::Delete | Operation::Connect, _) => return Ok(()),
        (_, Some(new @ Value::Object(_))) => new,
        (_, Some(_)) => return Err(malformed("the object is not a JSON object")),
        (_, None) => return Err(malformed("the request carries no object")),
    };
    match (&w.operation, w.old) {
        (Operation::Create, _) => {
            if !w.on_status() {
                requester_is_caller(w, new)?;
            }
            spec_rules(w, None, new, facts)
        }
        (Operation::Update, Some(old @ Value::Object(_))) => {
            requester_unchanged(old, new)?;
            finalizer_kept(old, new)?;
            if w.on_status() {
                status_rules(w, old, new, facts)
            } else {
                spec_rules(w, Some(old), new, facts)
            }
        }
        (Operation::Update, _) => Err(malformed("an update without the old object")),
        _ => Ok(()),
    }
}

/// Services with `externalIPs` are refused in managed tenant namespaces (the webhook
/// configuration selects them by label): they would capture any IP's traffic cluster-wide
/// (CVE-2020-8554), and 1.20 has no DenyServiceExternalIPs plugin (issue 13).
pub fn service_external_ips(service: Option<&Value>) -> Result<(), Refusal> {
    let Some(service) = service else {
        return Err(malformed("the request carries no object"));
    };
    match service.pointer("/spec/externalIPs") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(a)) if a.is_empty() => Ok(()),
        Some(_) => Err(Refusal::new(
            "external-ips",
            "Services in tenant namespaces may not set spec.externalIPs (CVE-2020-8554; \
             XB 15.2: zones stay isolated)",
        )),
    }
}

fn requester_is_caller(w: &Write<'_>, new: &Value) -> Result<(), Refusal> {
    let stamp = super::requested_by(w.caller);
    if annotation(new, REQUESTED_BY_ANNOTATION)? == Some(stamp.as_str()) {
        Ok(())
    } else {
        Err(Refusal::new(
            "requested-by",
            format!(
                "annotation {REQUESTED_BY_ANNOTATION} must record the creator \
                 (the mutating webhook stamps it; GY 22)"
            ),
        ))
    }
}

fn requester_unchanged(old: &Value, new: &Value) -> Result<(), Refusal> {
    if annotation(old, REQUESTED_BY_ANNOTATION)? == annotation(new, REQUESTED_BY_ANNOTATION)? {
        Ok(())
    } else {
        Err(Refusal::new(
            "requested-by",
            format!(
                "annotation {REQUESTED_BY_ANNOTATION} records who asked and only the operator \
                 may change or remove it (GY 22)"
            ),
        ))
    }
}

fn finalizer_kept(old: &Value, new: &Value) -> Result<(), Refusal> {
    if finalizers(old)?.contains(&TENANT_PROTECTION_FINALIZER)
        && !finalizers(new)?.contains(&TENANT_PROTECTION_FINALIZER)
    {
        return Err(Refusal::new(
            "tenant-protection",
            format!(
                "only the operator removes finalizer {TENANT_PROTECTION_FINALIZER}: it releases \
                 the tenant namespace first, so nothing stays open unbilled and uncounted \
                 (SH 21, GY 11)"
            ),
        ));
    }
    Ok(())
}

fn status_of(object: &Value) -> Result<Map<String, Value>, Refusal> {
    match object.get("status") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(malformed("status is not an object")),
    }
}

fn status_rules(w: &Write<'_>, old: &Value, new: &Value, facts: &Facts<'_>) -> Result<(), Refusal> {
    let (mut before, mut after) = (status_of(old)?, status_of(new)?);
    let (approval_before, approval_after) = (before.remove("approval"), after.remove("approval"));
    if before != after {
        let mut fields: Vec<&String> = before
            .iter()
            .filter(|(k, v)| after.get(*k) != Some(*v))
            .map(|(k, _)| k)
            .chain(after.keys().filter(|k| !before.contains_key(*k)))
            .collect();
        fields.sort();
        fields.dedup();
        let names: Vec<String> = fields.iter().map(|f| format!("status.{f}")).collect();
        return Err(Refusal::new(
            "operator-status",
            format!(
                "only the operator writes {}; approvers write status.approval alone \
                 (GY 22: the operator's records must be its own)",
                names.join(", ")
            ),
        ));
    }
    let approval_after = match approval_after {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(a)) => a,
        Some(_) => return Err(malformed("status.approval is not an object")),
    };
    let approval_before = approval_before.and_then(|a| a.as_object().cloned());
    let decided = approval_before.as_ref().is_none_or(|b| {
        super::stamp::without_override(b) != super::stamp::without_override(&approval_after)
    });
    if !decided
        && approval_before.as_ref().map(|b| b.get("reclaimOverride"))
            == Some(approval_after.get("reclaimOverride"))
    {
        return Ok(());
    }
    if decided && approval_after.get("reviewer").and_then(Value::as_str) != Some(&w.caller.username)
    {
        return Err(Refusal::new(
            "reviewer",
            "status.approval.reviewer must be the authenticated user (the mutating webhook \
             stamps it; GY 22)",
        ));
    }
    self_approval(w, old, facts)
}

fn self_approval(w: &Write<'_>, old: &Value, facts: &Facts<'_>) -> Result<(), Refusal> {
    let Some(stamp) = annotation(old, REQUESTED_BY_ANNOTATION)? else {
        // Created before the webhook: nobody is on record as requester.
        return Ok(());
    };
    let requester: Value = serde_json::from_str(stamp)
        .map_err(|_| malformed(format!("annotation {REQUESTED_BY_ANNOTATION} is not JSON")))?;
    let Some(username) = requester.get("username").and_then(Value::as_str) else {
        return Err(malformed(format!(
            "annotation {REQUESTED_BY_ANNOTATION} names no username"
        )));
    };
    if username == w.caller.username {
        return Err(Refusal::new(
            "self-approval",
            format!(
                "{} asked for this {} and may not decide on it (GY 22: resources open only on \
                 the bureau's approval)",
                w.caller.username,
                w.kind.as_str()
            ),
        ));
    }
    let forbid_group = w.kind == Kind::Request
        && facts
            .policy
            .and_then(|p| p.review.as_ref())
            .and_then(|r| r.forbid_same_group)
            .unwrap_or(false);
    if forbid_group {
        let theirs: Vec<&str> = requester
            .get("groups")
            .and_then(Value::as_array)
            .map(|g| g.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(shared) = w
            .caller
            .groups
            .iter()
            .find(|g| !g.starts_with("system:") && theirs.contains(&g.as_str()))
        {
            return Err(Refusal::new(
                "self-approval",
                format!(
                    "{} shares group {shared} with the requester {username}, and policy {} \
                     forbids deciding for one's own group (spec.review.forbidSameGroup; GY 22)",
                    w.caller.username, facts.policy_name
                ),
            ));
        }
    }
    Ok(())
}

fn spec_rules(
    w: &Write<'_>,
    old: Option<&Value>,
    new: &Value,
    facts: &Facts<'_>,
) -> Result<(), Refusal> {
    match w.kind {
        Kind::Change | Kind::Exit => {
            let target = |o: &Value| o.pointer("/spec/request").cloned();
            if let Some(old) = old
                && target(old) != target(new)
            {
                return Err(Refusal::new(
                    "immutable-request",
                    format!(
                        "spec.request of a {} cannot change: file a new one for the other \
                         request (an approval binds to what was reviewed; XB 22.2, XB 39.4)",
                        w.kind.as_str()
                    ),
                ));
            }
            Ok(())
        }
        Kind::Request => request_spec_rules(w, old, new, facts),
    }
}

fn request_spec(object: &Value) -> Result<CloudResourceRequestSpec, Refusal> {
    let spec = object
        .get("spec")
        .ok_or_else(|| malformed("spec is missing"))?;
    serde_json::from_value(spec.clone()).map_err(|e| malformed(format!("spec: {e}")))
}

fn request_spec_rules(
    w: &Write<'_>,
    old: Option<&Value>,
    new: &Value,
    facts: &Facts<'_>,
) -> Result<(), Refusal> {
    let spec = request_spec(new)?;
    let before = old.map(request_spec).transpose()?;
    let granted = old
        .and_then(|o| o.pointer("/status/grant"))
        .is_some_and(|g| !g.is_null());
    if let Some(b) = &before
        && granted
        && b.tenant_namespace != spec.tenant_namespace
    {
        return Err(Refusal::new(
            "tenant-namespace",
            "spec.tenantNamespace of a granted request cannot change: the tenant it names is \
             already provisioned (GY 22, XB 22.2)",
        ));
    }
    if let Some(g) = spec
        .access
        .iter()
        .flat_map(|a| a.groups.iter())
        .find(|g| g.starts_with("system:"))
    {
        return Err(Refusal::new(
            "system-group",
            format!(
                "spec.access.groups may not name {g:?}: system: groups are Kubernetes' own \
                 (e.g. every authenticated user) and tenant access is for the unit's people \
                 (YX 17, XB 36)"
            ),
        ));
    }
    let new_name = spec.tenant_namespace.as_deref();
    if let Some(name) = new_name
        && before.as_ref().map(|b| b.tenant_namespace.as_deref()) != Some(new_name)
    {
        tenant_namespace_rules(w, new, name, facts)?;
    }
    let emergency_touched = before.as_ref().is_none_or(|b| {
        b.emergency != spec.emergency || b.class != spec.class || b.resources != spec.resources
    });
    if spec.emergency && emergency_touched {
        let policy = facts.policy.ok_or_else(|| {
            Refusal::new(
                "emergency",
                format!(
                    "policy {} does not exist, so the emergency fast track cannot be checked \
                     (XB 26)",
                    facts.policy_name
                ),
            )
        })?;
        let limits = crate::policy::emergency::limits(policy).map_err(|es| {
            Refusal::new(
                "emergency",
                format!(
                    "policy {} has invalid emergency rules ({}), so no emergency is admitted \
                     (XB 26)",
                    facts.policy_name,
                    es.iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            )
        })?;
        if let Some(why) = crate::policy::emergency::refusal(&limits, spec.class, &spec.resources) {
            return Err(Refusal::new("emergency", why));
        }
    }
    Ok(())
}

fn tenant_namespace_rules(
    _w: &Write<'_>,
    new: &Value,
    name: &str,
    facts: &Facts<'_>,
) -> Result<(), Refusal> {
    let namespace = new
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("metadata.namespace is missing"))?;
    let request_name = new
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let prefix = facts
        .policy
        .and_then(|p| p.naming.as_ref())
        .and_then(|n| n.tenant_namespace_prefix.as_deref());
    let own = format!("{namespace}-");
    let named_ok = name.starts_with(&own) || prefix.is_some_and(|p| name.starts_with(p));
    if !named_ok {
        let rule = match prefix {
            Some(p) => format!("start with {own:?} or the policy's prefix {p:?}"),
            None => format!("start with {own:?}"),
        };
        return Err(Refusal::new(
            "tenant-namespace",
            format!(
                "spec.tenantNamespace {name:?} must {rule} (spec.naming.tenantNamespacePrefix \
                 of policy {}), so a request cannot claim a namespace other software will use \
                 (YX 17, XB 36)",
                facts.policy_name
            ),
        ));
    }
    match (facts.namespace)(name) {
        NamespaceUse::Absent => Ok(()),
        NamespaceUse::Tenant {
            namespace: ns,
            name: n,
        } if ns == namespace && n == request_name => Ok(()),
        _ => Err(Refusal::new(
            "tenant-namespace",
            format!(
                "spec.tenantNamespace {name:?} names a namespace that exists and is not this \
                 request's tenant (YX 17, XB 36)"
            ),
        )),
    }
}
