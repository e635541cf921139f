//! The ledger forgets a decided grant once the store reports it, and only then.

use super::*;

fn status(grant: Option<serde_json::Value>) -> CloudResourceRequestStatus {
    CloudResourceRequestStatus {
        grant: grant.map(|g| serde_json::from_value(g).unwrap_or_else(|e| panic!("grant: {e}"))),
        ..Default::default()
    }
}

fn decided(ledger: &mut CapacityLedger, uid: &str, grant: serde_json::Value) {
    let grant: ResourceAmounts =
        serde_json::from_value(grant).unwrap_or_else(|e| panic!("grant: {e}"));
    let amounts = Amounts::parse("status.grant", &grant).unwrap_or_default();
    ledger.reserved.insert(uid.into(), amounts);
}

#[test]
fn a_decided_grant_is_forgotten_once_the_store_reports_it() {
    let mut ledger = CapacityLedger::default();
    decided(
        &mut ledger,
        "a",
        serde_json::json!({"cpu": "4", "memory": "8Gi"}),
    );
    ledger.forget_reported("a", None);
    ledger.forget_reported("a", Some(&status(None)));
    assert!(ledger.reserved.contains_key("a"), "nothing reported yet");
    // An older grant (a raise just decided, the store still at the grant before it).
    ledger.forget_reported(
        "a",
        Some(&status(Some(
            serde_json::json!({"cpu": "2", "memory": "8Gi"}),
        ))),
    );
    assert!(
        ledger.reserved.contains_key("a"),
        "another grant is reported"
    );
    // The same amounts, written another way.
    ledger.forget_reported(
        "a",
        Some(&status(Some(
            serde_json::json!({"cpu": "4000m", "memory": "8192Mi"}),
        ))),
    );
    assert!(ledger.reserved.is_empty(), "{:?}", ledger.reserved);
}
