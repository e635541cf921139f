//! Pool capacity accounting: which requests count against their policy's pool.

use crate::api::CloudResourceRequestStatus;

/// Whether a request holds pool capacity: granted and not yet reclaimed (billing not
/// stopped). Shared by the grant decision, the capacity ledger and its pruning.
pub fn holds_capacity(status: Option<&CloudResourceRequestStatus>) -> bool {
    status.is_some_and(|s| {
        s.grant.is_some() && s.billing.as_ref().and_then(|b| b.stopped_at).is_none()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Billing, ResourceAmounts};

    #[test]
    fn a_grant_holds_capacity_until_billing_stops() {
        assert!(!holds_capacity(None));
        let mut status = CloudResourceRequestStatus::default();
        assert!(!holds_capacity(Some(&status)), "no grant yet");
        status.grant = Some(ResourceAmounts::default());
        assert!(holds_capacity(Some(&status)), "granted");
        status.billing = Some(Billing {
            stopped_at: Some(chrono::Utc::now()),
            ..Default::default()
        });
        assert!(!holds_capacity(Some(&status)), "reclaimed: billing stopped");
    }
}
