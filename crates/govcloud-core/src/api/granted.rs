//! The rules a granted request lives by, recorded in its status when the grant is
//! recorded (`status.grantedRulesJson`), so that deleting or breaking its GovCloudPolicy does
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

/// The recorded rules as held in memory: one copy shared by every request that
/// recorded the same rules. Issue 11: the rules are the largest part of a decoded request
/// (~1.8 KiB inline, ~35 allocations), and every request granted under one generation of
/// one policy for one class records exactly the same rules; at 10,000 requests a copy each
/// was ~20 MiB of the operator's memory. Serializes and is described exactly as
/// [`GrantedRules`] (serde's and schemars' `Arc` are transparent).
pub type SharedGrantedRules = std::sync::Arc<GrantedRules>;

/// The key of the rules as one JSON text in a request's status.
pub const RULES_TEXT_KEY: &str = "grantedRulesJson";
/// The key of the rules as an object, as releases before [`RULES_TEXT_KEY`] wrote them.
pub const RULES_OBJECT_KEY: &str = "grantedRules";

/// The rules recorded with a grant, as a request's status carries them: one JSON text,
/// `status.grantedRulesJson`.
///
/// Why a text and not an object: as an object the rules were ~60 fields that the API
/// server validates against a third of the CRD's schema, decodes and re-encodes, and
/// tracks one by one in `managedFields`, on every write of the request, though only the
/// operator writes them, once. `benches/write_cost.rs` measured the API server's CPU per
/// write of a request with the rules as an object and as text: 22.5 against 13.0 ms for
/// the status written at activation, 12.6 against 10.2 ms for a later one (README
/// Benchmarks, session 14; issue 11: that CPU is the bound of the throughput targets). As
/// one text they are one field to it.
///
/// Requests granted by earlier releases carry the object, `status.grantedRules`: it is
/// read when the text is absent, and goes at the operator's next status write of that
/// request (the operator owned it, so server-side apply removes what it no longer sends).
/// Flattened into the status, so both keys stay in the CRD's schema.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordedRules(pub Option<SharedGrantedRules>);

impl RecordedRules {
    /// The rules recorded, if any.
    pub fn get(&self) -> Option<&SharedGrantedRules> {
        self.0.as_ref()
    }
}

impl Serialize for RecordedRules {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        let mut map = serializer.serialize_map(None)?;
        if let Some(rules) = &self.0 {
            let text = serde_json::to_string(&**rules).map_err(S::Error::custom)?;
            map.serialize_entry(RULES_TEXT_KEY, &text)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RecordedRules {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = RecordedRules;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a status with grantedRulesJson or grantedRules")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                use serde::de::Error;
                let (mut text, mut object) = (None, None);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match &*key {
                        RULES_TEXT_KEY => text = map.next_value::<Option<String>>()?,
                        RULES_OBJECT_KEY => object = map.next_value::<Option<GrantedRules>>()?,
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                let rules = match text {
                    Some(text) => {
                        Some(serde_json::from_str::<GrantedRules>(&text).map_err(|e| {
                            A::Error::custom(format!(
                                "status.{RULES_TEXT_KEY} is not the rules' JSON: {e}"
                            ))
                        })?)
                    }
                    None => object,
                };
                Ok(RecordedRules(rules.map(share)))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

impl JsonSchema for RecordedRules {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RecordedRules".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut object = generator.subschema_for::<GrantedRules>();
        object.insert(
            "description".into(),
            "The rules recorded with the grant, as releases before grantedRulesJson wrote \
             them. Read when grantedRulesJson is absent; removed by the operator's next \
             status write."
                .into(),
        );
        object.insert("x-kubernetes-map-type".into(), "atomic".into());
        object.insert("nullable".into(), true.into());
        schemars::json_schema!({
            "type": "object",
            "properties": {
                RULES_TEXT_KEY: {
                    "type": "string",
                    "description": "The policy's rules as they were when the grant was \
                        recorded, as one JSON text (written once, by the operator): the \
                        grant goes on by them (expiry, suspension, reclamation) while its \
                        policy is missing or invalid.",
                    "nullable": true
                },
                RULES_OBJECT_KEY: object,
            }
        })
    }
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
        s.granted_rules.get().expect("recorded rules")
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
        // What is written back is what was read (as text: see the next test).
        let written = serde_json::to_value(&a).expect("serializes");
        let back: CloudResourceRequestStatus = serde_json::from_value(written).expect("decodes");
        assert_eq!(rules(&back).policy, "share-a");
    }

    #[test]
    fn the_rules_are_written_as_one_text_and_read_from_either_form() {
        let legacy = status("text-a", 1);
        let written = serde_json::to_value(&legacy).expect("serializes");
        // Written: the text alone, never the object of earlier releases.
        assert!(written.get(super::RULES_OBJECT_KEY).is_none(), "{written}");
        let text = written[super::RULES_TEXT_KEY].as_str().expect("a text");
        let inner: serde_json::Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(inner["policy"], "text-a");
        // Read back from the text: the same rules, shared with the legacy decode.
        let reread: CloudResourceRequestStatus =
            serde_json::from_value(written.clone()).expect("decodes");
        assert_eq!(reread, legacy);
        assert!(Arc::ptr_eq(rules(&reread), rules(&legacy)));
        // Both forms present (someone wrote the old key back): the text wins.
        let mut both = written;
        both[super::RULES_OBJECT_KEY] = serde_json::json!({"policy": "other", "rules": {}});
        let both: CloudResourceRequestStatus = serde_json::from_value(both).expect("decodes");
        assert_eq!(rules(&both).policy, "text-a");
        // Neither: nothing recorded, and nothing written.
        let none: CloudResourceRequestStatus =
            serde_json::from_value(serde_json::json!({"phase": "Active"})).expect("decodes");
        assert_eq!(none.granted_rules.get(), None);
        let out = serde_json::to_value(&none).expect("serializes");
        assert!(
            out.get(super::RULES_TEXT_KEY).is_none() && out.get(super::RULES_OBJECT_KEY).is_none()
        );
    }

    #[test]
    fn a_text_that_is_not_the_rules_is_an_error_naming_the_field() {
        for bad in [
            serde_json::json!("not json"),
            serde_json::json!("{\"rules\": 3}"),
        ] {
            let err = serde_json::from_value::<CloudResourceRequestStatus>(
                serde_json::json!({super::RULES_TEXT_KEY: bad}),
            )
            .expect_err("refused");
            assert!(err.to_string().contains("status.grantedRulesJson"), "{err}");
        }
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
