//! Keeps the `caBundle` of the operator's Validating- and MutatingWebhookConfiguration on
//! the CA in the webhook Secret, and reports whether both exist and trust it (for
//! `--require-admission`).
//!
//! The configurations themselves (rules, failurePolicy, Service or URL) come from the
//! chart or `scripts/run`; the operator only fills in the CA, which it alone knows. Every
//! replica does this, with resourceVersion preconditions, so they agree.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use kube::api::PostParams;
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

/// How often the configurations are looked at when nothing changes (a configuration
/// applied later, or its caBundle reset by a `helm upgrade`, is caught within this).
const EVERY: Duration = Duration::from_secs(5);

/// Runs until `stop`.
pub async fn keep(
    client: Client,
    name: String,
    mut ca: watch::Receiver<String>,
    registered: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let bundle = ca.borrow_and_update().clone();
        if !bundle.is_empty() {
            let v = sync::<ValidatingWebhookConfiguration>(&client, &name, &bundle, |c| {
                c.webhooks
                    .iter_mut()
                    .flatten()
                    .map(|w| &mut w.client_config)
                    .collect()
            })
            .await;
            let m = sync::<MutatingWebhookConfiguration>(&client, &name, &bundle, |c| {
                c.webhooks
                    .iter_mut()
                    .flatten()
                    .map(|w| &mut w.client_config)
                    .collect()
            })
            .await;
            registered.store(v && m, Ordering::Release);
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = ca.changed() => {}
            _ = super::stopped(&mut stop) => return,
        }
    }
}

/// Sets every webhook's caBundle in configuration `name` of kind `K` to `bundle`; whether
/// it exists, has webhooks, and trusts the bundle afterwards.
async fn sync<K>(
    client: &Client,
    name: &str,
    bundle: &str,
    configs: impl Fn(&mut K) -> Vec<&mut WebhookClientConfig>,
) -> bool
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let api: Api<K> = Api::all(client.clone());
    let want = ByteString(bundle.as_bytes().to_vec());
    let mut config = match api.get_opt(name).await {
        Ok(Some(c)) => c,
        Ok(None) => return false,
        Err(e) => {
            tracing::debug!(kind = %K::kind(&()), %name, error = %e, "cannot read the webhook configuration");
            return false;
        }
    };
    let mut stale = false;
    let mut any = false;
    for c in configs(&mut config) {
        any = true;
        if c.ca_bundle.as_ref() != Some(&want) {
            c.ca_bundle = Some(want.clone());
            stale = true;
        }
    }
    if !stale {
        return any;
    }
    // The resourceVersion read above is the precondition: a concurrent edit wins and the
    // next round looks again.
    match api.replace(name, &PostParams::default(), &config).await {
        Ok(_) => {
            tracing::info!(kind = %K::kind(&()), %name, "webhook configuration now trusts this CA");
            any
        }
        Err(e) => {
            tracing::debug!(kind = %K::kind(&()), %name, error = %e, "cannot update the caBundle; retrying");
            false
        }
    }
}
