//! The stamps: who asked (on create) and who decided (on every new approval).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::{
    Caller, Kind, Operation, REQUESTED_BY_ANNOTATION, Refusal, TENANT_PROTECTION_FINALIZER, Write,
    malformed,
};

/// The `govcloud.io/requested-by` value for `caller`: compact JSON with its username, uid
/// and groups.
pub fn requested_by(caller: &Caller) -> String {
    let mut v = json!({"username": caller.username, "groups": caller.groups});
    if let (Some(uid), Some(m)) = (caller.uid.as_ref(), v.as_object_mut()) {
        m.insert("uid".into(), Value::String(uid.clone()));
    }
    v.to_string()
}

/// The object as it must be stored, when it differs from what was sent:
/// - on CREATE, `govcloud.io/requested-by` is the caller (whatever was sent), and a
///   request carries the tenant-protection finalizer from its first version: the
///   operator then needs no write of its own to add it before the tenant exists (one
///   update and two reviews of every request fewer; issue 11), and still adds it itself
///   to a request created while the webhook was not installed;
/// - on a status write that changes `status.approval` (by anyone but the operator),
///   `reviewer` is the caller's username, `decidedAt` is `now` and `generation` is the
///   object's generation when absent (GY 22: the record of who approved is the real
///   identity); a new `reclaimOverride` gets `by` = the caller likewise.
pub fn mutate(w: &Write<'_>, now: DateTime<Utc>) -> Result<Option<Value>, Refusal> {
    let Some(new) = w.new else {
        return Ok(None);
    };
    match &w.operation {
        Operation::Create if !w.on_status() => {
            let stamp = requested_by(w.caller);
            let stamped = super::annotation(new, REQUESTED_BY_ANNOTATION)? == Some(stamp.as_str());
            let protect = w.kind == Kind::Request
                && !super::finalizers(new)?.contains(&TENANT_PROTECTION_FINALIZER);
            if stamped && !protect {
                return Ok(None);
            }
            let mut out = new.clone();
            let meta = object_at(&mut out, "metadata")?;
            if !stamped {
                let Value::Object(annotations) =
                    slot(meta, "annotations", Value::Object(Map::new()))
                else {
                    return Err(malformed("metadata.annotations is not a map"));
                };
                annotations.insert(REQUESTED_BY_ANNOTATION.into(), Value::String(stamp));
            }
            if protect {
                let Value::Array(finalizers) = slot(meta, "finalizers", Value::Array(Vec::new()))
                else {
                    return Err(malformed("metadata.finalizers is not a list"));
                };
                finalizers.push(Value::String(TENANT_PROTECTION_FINALIZER.into()));
            }
            Ok(Some(out))
        }
        Operation::Update if w.on_status() && !w.by_operator() => stamp_approval(w, new, now),
        _ => Ok(None),
    }
}

fn stamp_approval(
    w: &Write<'_>,
    new: &Value,
    now: DateTime<Utc>,
) -> Result<Option<Value>, Refusal> {
    let approval = match new.pointer("/status/approval") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(a)) => a,
        Some(_) => return Err(malformed("status.approval is not an object")),
    };
    let before = w
        .old
        .and_then(|o| o.pointer("/status/approval"))
        .and_then(Value::as_object);
    let decision_changed = before.is_none_or(|b| without_override(b) != without_override(approval));
    let override_changed = approval
        .get("reclaimOverride")
        .is_some_and(|o| !o.is_null())
        && approval.get("reclaimOverride") != before.and_then(|b| b.get("reclaimOverride"));
    if !decision_changed && !override_changed {
        return Ok(None);
    }
    let mut out = new.clone();
    let generation = new.pointer("/metadata/generation").cloned();
    let Some(Value::Object(a)) = out.pointer_mut("/status/approval") else {
        return Err(malformed("status.approval is not an object"));
    };
    if decision_changed {
        a.insert("reviewer".into(), Value::String(w.caller.username.clone()));
        a.insert(
            "decidedAt".into(),
            Value::String(now.to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
        if a.get("generation").is_none_or(Value::is_null)
            && let Some(g) = generation.filter(Value::is_i64)
        {
            a.insert("generation".into(), g);
        }
    }
    if override_changed && let Some(Value::Object(o)) = a.get_mut("reclaimOverride") {
        o.insert("by".into(), Value::String(w.caller.username.clone()));
    }
    Ok(Some(out))
}

/// The decision itself: everything but `reclaimOverride` and `paperworkComplete` (adding
/// one does not re-decide). A different `reviewer` or `decidedAt` sent by the caller is a
/// change: it is stamped.
pub(crate) fn without_override(a: &Map<String, Value>) -> Map<String, Value> {
    let mut a = a.clone();
    a.remove("reclaimOverride");
    a.remove("paperworkComplete");
    a
}

/// `m[key]`, set to `empty` when absent or null.
fn slot<'a>(m: &'a mut Map<String, Value>, key: &str, empty: Value) -> &'a mut Value {
    let v = m.entry(key).or_insert(Value::Null);
    if v.is_null() {
        *v = empty;
    }
    v
}

fn object_at<'a>(v: &'a mut Value, key: &str) -> Result<&'a mut Map<String, Value>, Refusal> {
    let Value::Object(m) = v else {
        return Err(malformed("the object is not a JSON object"));
    };
    match m.entry(key).or_insert_with(|| Value::Object(Map::new())) {
        Value::Object(inner) => Ok(inner),
        _ => Err(malformed(format!("{key} is not an object"))),
    }
}
