//! The inventory gauges (objects by kind, phase and true condition), recounted from the
//! watch stores every 15 s: no API call, so they cost nothing however many objects exist.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::controller::Context;

/// The types of the conditions in `cs` that are True, borrowed from the stores' objects,
/// not copied: the inventory runs every 15 s over every object (issue 11: at 10,000
/// requests a copy was 10,000 short-lived vectors of strings each time).
fn true_conditions(cs: Option<&[crate::api::Condition]>) -> Vec<&str> {
    cs.unwrap_or_default()
        .iter()
        .filter(|c| c.status == "True")
        .map(|c| c.type_.as_str())
        .collect()
}

pub(super) async fn count_inventory(
    ctx: Arc<Context>,
    wake_policies: crate::controller::Wake<crate::api::GovCloudPolicy>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        // Issue 13: orphan tenant namespaces, as a count and on their policies.
        if ctx.stores_ready() {
            crate::controller::capacity::report_orphans(&ctx, &wake_policies);
        }
        let requests = ctx.stores.requests.state();
        let changes = ctx.stores.changes.state();
        let exits = ctx.stores.exits.state();
        let rows = requests
            .iter()
            .map(|r| {
                let st = r.status.as_ref();
                (
                    "CloudResourceRequest",
                    st.and_then(|s| s.phase).map(|p| p.as_str()),
                    true_conditions(st.map(|s| s.conditions.as_slice())),
                )
            })
            .chain(changes.iter().map(|c| {
                let st = c.status.as_ref();
                (
                    "ResourceChange",
                    st.and_then(|s| s.phase).map(|p| p.as_str()),
                    true_conditions(st.map(|s| s.conditions.as_slice())),
                )
            }))
            .chain(exits.iter().map(|e| {
                let st = e.status.as_ref();
                (
                    "ExitRequest",
                    st.and_then(|s| s.phase).map(|p| p.as_str()),
                    true_conditions(st.map(|s| s.conditions.as_slice())),
                )
            }));
        ctx.metrics.set_inventory(rows);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(15)) => {}
            _ = shutdown.changed() => return,
        }
    }
}
