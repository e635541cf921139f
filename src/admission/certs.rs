//! The webhook's TLS material, kept in one Secret that every replica shares.
//!
//! The Secret holds a CA (`ca.crt`, `ca.key`) and a serving certificate signed by it
//! (`tls.crt`, `tls.key`). Any replica creates it when absent (a 409 means another replica
//! won: it reads theirs), and renews the serving certificate when less than a third of its
//! lifetime is left, replacing the Secret with a resourceVersion precondition so two
//! replicas renewing at once end with one certificate. The CA is long-lived (10 years),
//! so the webhook configurations' `caBundle` does not change when the serving certificate
//! does. No openssl step for the user.

use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// Keys of the Secret.
pub const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
/// The serving certificate.
pub const TLS_CERT: &str = "tls.crt";
/// The serving key.
pub const TLS_KEY: &str = "tls.key";
/// Annotation: when the serving certificate expires (RFC 3339), so no replica has to parse
/// X.509 to decide on renewal.
pub const NOT_AFTER_ANNOTATION: &str = "govcloud.io/serving-not-after";
/// Annotation: the names the serving certificate was issued for (comma-separated), so a
/// changed `--webhook-hosts` (a renamed Service) gets a new certificate at once.
pub const HOSTS_ANNOTATION: &str = "govcloud.io/serving-hosts";

const CA_NAME: &str = "govcloud-operator webhook CA";
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);

/// What the TLS material must look like.
#[derive(Debug, Clone)]
pub struct CertSpec {
    /// The Secret's namespace and name.
    pub namespace: String,
    /// The Secret's name.
    pub name: String,
    /// Names the serving certificate is valid for.
    pub hosts: Vec<String>,
    /// The serving certificate's lifetime.
    pub lifetime: Duration,
}

/// The PEM texts of a Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Material {
    /// The CA certificate (the `caBundle`).
    pub ca_cert: String,
    /// The serving certificate.
    pub cert: String,
    /// The serving key.
    pub key: String,
    /// When the serving certificate expires.
    pub not_after: Option<DateTime<Utc>>,
    /// The names it was issued for.
    pub hosts: Option<String>,
}

/// Why TLS material could not be made or kept.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen refused the parameters or a key.
    #[error("cannot generate the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The API refused.
    #[error("cannot read or write Secret {0}: {1}")]
    Api(String, #[source] kube::Error),
    /// Other replicas kept changing the Secret; the next round tries again.
    #[error("the Secret kept changing under this replica")]
    Contended,
}

/// Expands a bare Service name to its in-cluster DNS names.
pub fn expand_hosts(hosts: &[String], namespace: &str) -> Vec<String> {
    let mut out = Vec::new();
    for h in hosts.iter().map(|h| h.trim()).filter(|h| !h.is_empty()) {
        if h.parse::<std::net::IpAddr>().is_ok() || h.contains('.') {
            out.push(h.to_string());
        } else {
            out.push(h.to_string());
            out.push(format!("{h}.{namespace}"));
            out.push(format!("{h}.{namespace}.svc"));
            out.push(format!("{h}.{namespace}.svc.cluster.local"));
        }
    }
    out
}

/// The material in a Secret, if it holds all of it.
pub fn material(secret: &Secret) -> Option<Material> {
    let data = secret.data.as_ref()?;
    let text = |k: &str| {
        data.get(k)
            .and_then(|b| String::from_utf8(b.0.clone()).ok())
    };
    Some(Material {
        ca_cert: text(CA_CERT)?,
        cert: text(TLS_CERT)?,
        key: text(TLS_KEY)?,
        not_after: secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(NOT_AFTER_ANNOTATION))
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc)),
        hosts: secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(HOSTS_ANNOTATION))
            .cloned(),
    })
}

/// Whether the serving certificate must be renewed at `now`: less than a third of
/// `lifetime` left (or its expiry unknown), or issued for other names than `hosts`.
pub fn needs_renewal(
    m: &Material,
    hosts: &[String],
    lifetime: Duration,
    now: DateTime<Utc>,
) -> bool {
    let third = chrono::Duration::from_std(lifetime / 3).unwrap_or(chrono::Duration::MAX);
    m.hosts.as_deref() != Some(hosts.join(",").as_str())
        || m.not_after.is_none_or(|end| end - now < third)
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::hours(1);
    p.not_after = now + CA_LIFETIME;
    p
}

/// A new serving certificate for `hosts` signed by the CA key `ca_key` (PEM), valid from a
/// minute ago for `lifetime`.
fn serving(
    ca_key: &str,
    hosts: &[String],
    lifetime: Duration,
) -> Result<(String, String, DateTime<Utc>), rcgen::Error> {
    let ca_key = KeyPair::from_pem(ca_key)?;
    // The leaf names the CA by its subject (the same fixed DN) and key identifier (from
    // the same key), so the CA certificate itself need not be parsed back.
    let issuer = Issuer::new(ca_params(), ca_key);
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        hosts
            .first()
            .cloned()
            .unwrap_or_else(|| "govcloud-operator".into()),
    );
    p.distinguished_name = dn;
    p.subject_alt_names = hosts
        .iter()
        .filter_map(|h| match h.parse::<std::net::IpAddr>() {
            Ok(ip) => Some(SanType::IpAddress(ip)),
            Err(_) => h.clone().try_into().ok().map(SanType::DnsName),
        })
        .collect();
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::minutes(1);
    p.not_after = now + lifetime;
    let key = KeyPair::generate()?;
    let cert = p.signed_by(&key, &issuer)?;
    let not_after = DateTime::from_timestamp(p.not_after.unix_timestamp(), 0).unwrap_or_default();
    Ok((cert.pem(), key.serialize_pem(), not_after))
}

fn secret_of(
    spec: &CertSpec,
    ca_cert: &str,
    ca_key: &str,
    cert: &str,
    key: &str,
    not_after: DateTime<Utc>,
    resource_version: Option<String>,
) -> Secret {
    let bytes = |s: &str| ByteString(s.as_bytes().to_vec());
    Secret {
        metadata: ObjectMeta {
            name: Some(spec.name.clone()),
            namespace: Some(spec.namespace.clone()),
            resource_version,
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "govcloud-operator".to_string(),
                )]
                .into(),
            ),
            annotations: Some(
                [
                    (NOT_AFTER_ANNOTATION.to_string(), not_after.to_rfc3339()),
                    (HOSTS_ANNOTATION.to_string(), spec.hosts.join(",")),
                ]
                .into(),
            ),
            ..Default::default()
        },
        data: Some(
            [
                (CA_CERT.to_string(), bytes(ca_cert)),
                (CA_KEY.to_string(), bytes(ca_key)),
                (TLS_CERT.to_string(), bytes(cert)),
                (TLS_KEY.to_string(), bytes(key)),
            ]
            .into(),
        ),
        type_: Some("Opaque".into()),
        ..Default::default()
    }
}

/// A Secret with a new CA and a serving certificate signed by it.
fn new_secret(spec: &CertSpec) -> Result<Secret, rcgen::Error> {
    let key = KeyPair::generate()?;
    let ca = ca_params().self_signed(&key)?;
    let ca_key = key.serialize_pem();
    let (cert, tls_key, not_after) = serving(&ca_key, &spec.hosts, spec.lifetime)?;
    Ok(secret_of(
        spec,
        &ca.pem(),
        &ca_key,
        &cert,
        &tls_key,
        not_after,
        None,
    ))
}

/// Makes sure the Secret exists and its serving certificate is not due for renewal;
/// returns the material in force. Safe to run on every replica at once.
pub async fn ensure(client: &Client, spec: &CertSpec) -> Result<Material, CertError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &spec.namespace);
    let api_err = |e| CertError::Api(format!("{}/{}", spec.namespace, spec.name), e);
    for _ in 0..5 {
        let current = api.get_opt(&spec.name).await.map_err(api_err)?;
        let ca_key_of = |s: &Secret| {
            s.data
                .as_ref()
                .and_then(|d| d.get(CA_KEY))
                .and_then(|b| String::from_utf8(b.0.clone()).ok())
        };
        match current {
            None => {
                let s = new_secret(spec)?;
                match api.create(&PostParams::default(), &s).await {
                    Ok(created) => {
                        tracing::info!(secret = %spec.name, "created the webhook's CA and serving certificate");
                        if let Some(m) = material(&created) {
                            return Ok(m);
                        }
                    }
                    // Another replica created it first: use theirs.
                    Err(kube::Error::Api(e)) if e.code == 409 => continue,
                    Err(e) => return Err(api_err(e)),
                }
            }
            Some(s) => {
                let (Some(m), Some(ca_key)) = (material(&s), ca_key_of(&s)) else {
                    // Incomplete (e.g. emptied by hand): start over with a new CA.
                    api.delete(&spec.name, &Default::default())
                        .await
                        .map_err(api_err)?;
                    continue;
                };
                if !needs_renewal(&m, &spec.hosts, spec.lifetime, Utc::now()) {
                    return Ok(m);
                }
                let (cert, tls_key, not_after) = serving(&ca_key, &spec.hosts, spec.lifetime)?;
                let renewed = secret_of(
                    spec,
                    &m.ca_cert,
                    &ca_key,
                    &cert,
                    &tls_key,
                    not_after,
                    s.metadata.resource_version.clone(),
                );
                match api
                    .replace(&spec.name, &PostParams::default(), &renewed)
                    .await
                {
                    Ok(r) => {
                        tracing::info!(secret = %spec.name, not_after = %not_after, "renewed the webhook's serving certificate");
                        if let Some(m) = material(&r) {
                            return Ok(m);
                        }
                    }
                    // Another replica renewed it first: read theirs.
                    Err(kube::Error::Api(e)) if e.code == 409 => continue,
                    Err(e) => return Err(api_err(e)),
                }
            }
        }
    }
    Err(CertError::Contended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renewed_leaf_chains_to_the_same_ca() {
        let key = KeyPair::generate().unwrap();
        let ca = ca_params().self_signed(&key).unwrap();
        let hosts = vec!["127.0.0.1".to_string(), "svc.ns.svc".to_string()];
        let (a, _, end) = serving(&key.serialize_pem(), &hosts, Duration::from_secs(60)).unwrap();
        let (b, _, _) = serving(&key.serialize_pem(), &hosts, Duration::from_secs(60)).unwrap();
        assert_ne!(a, b);
        assert!(end > Utc::now());
        let m = Material {
            ca_cert: ca.pem(),
            cert: a,
            key: String::new(),
            not_after: Some(end),
            hosts: Some(hosts.join(",")),
        };
        assert!(!needs_renewal(
            &m,
            &hosts,
            Duration::from_secs(60),
            Utc::now()
        ));
        assert!(needs_renewal(
            &m,
            &hosts,
            Duration::from_secs(60),
            Utc::now() + chrono::Duration::seconds(45)
        ));
        // A renamed Service needs a certificate for its new name at once.
        assert!(needs_renewal(
            &m,
            &["127.0.0.1".to_string()],
            Duration::from_secs(60),
            Utc::now()
        ));
    }

    #[test]
    fn bare_service_names_expand() {
        let h = expand_hosts(&["webhook".into(), "127.0.0.1".into()], "ns");
        assert!(h.contains(&"webhook.ns.svc".to_string()));
        assert!(h.contains(&"127.0.0.1".to_string()));
    }
}
