//! The inventory gauges (objects by kind, phase and true condition), recounted from the
//! watch stores every 15 s: no API call, so they cost nothing however many objects exist.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::controller::Context;

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
        let true_conditions = |cs: &[crate::api::Condition]| {
            cs.iter()
                .filter(|c| c.status == "True")
                .map(|c| c.type_.clone())
                .collect::<Vec<String>>()
        };
        let rows: Vec<(&'static str, Option<&'static str>, Vec<String>)> = requests
            .iter()
            .map(|r| {
                (
                    "CloudResourceRequest",
                    r.status.as_ref().and_then(|s| s.phase).map(|p| p.as_str()),
                    true_conditions(
                        r.status
                            .as_ref()
                            .map(|s| s.conditions.as_slice())
                            .unwrap_or_default(),
                    ),
                )
            })
            .chain(changes.iter().map(|c| {
                (
                    "ResourceChange",
                    c.status.as_ref().and_then(|s| s.phase).map(|p| p.as_str()),
                    true_conditions(
                        c.status
                            .as_ref()
                            .map(|s| s.conditions.as_slice())
                            .unwrap_or_default(),
                    ),
                )
            }))
            .chain(exits.iter().map(|e| {
                (
                    "ExitRequest",
                    e.status.as_ref().and_then(|s| s.phase).map(|p| p.as_str()),
                    true_conditions(
                        e.status
                            .as_ref()
                            .map(|s| s.conditions.as_slice())
                            .unwrap_or_default(),
                    ),
                )
            }))
            .collect();
        ctx.metrics.set_inventory(
            rows.iter()
                .map(|(k, p, cs)| (*k, *p, cs.iter().map(String::as_str).collect())),
        );
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(15)) => {}
            _ = shutdown.changed() => return,
        }
    }
}
