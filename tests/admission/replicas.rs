//! Every replica answers; the certificate renews under load; a restart loses nothing.

use super::*;

/// A standby replica (the test's operator holds the Lease) serves the webhook too, and
/// with `--require-admission` is not ready until its configurations trust its CA. Its own
/// configuration selects only ConfigMaps in one probe namespace, which it refuses (it
/// decides on the request kinds only): the refusal text proves the API server reached it.
#[tokio::test]
async fn a_standby_answers_and_is_ready_only_once_registered() -> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let admin = s.cp.admin().await?;
    let name = unique_ns("standby-hook");
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let mut standby = Operator::start(
        s.cp,
        &[
            "--webhook-listen",
            &listen,
            "--webhook-hosts",
            "127.0.0.1",
            "--operator-username",
            OPERATOR_USER,
            "--webhook-secret",
            &name,
            "--webhook-configuration",
            &name,
            "--require-admission",
            "true",
        ],
    )?;
    // Not ready while its configuration does not exist, although it serves.
    wait_until(T, "the standby's webhook certificate", || async {
        Ok(Api::<Secret>::namespaced(admin.clone(), "govcloud-system")
            .get_opt(&name)
            .await?
            .is_some())
    })
    .await?;
    for _ in 0..10 {
        let (code, body) = standby.get("/readyz")?;
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("webhook"), "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let probe = unique_ns("probe");
    let config = format!(
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {{name: {name}}}
webhooks:
  - name: probe.govcloud.io
    clientConfig: {{url: "https://127.0.0.1:{port}/validate"}}
    rules: [{{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"]}}]
    namespaceSelector: {{matchLabels: {{govcloud.io/probe: "{probe}"}}}}
    failurePolicy: Fail
    sideEffects: None
    admissionReviewVersions: ["v1"]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {{name: {name}}}
webhooks:
  - name: probe.govcloud.io
    clientConfig: {{url: "https://127.0.0.1:{port}/mutate"}}
    rules: [{{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"]}}]
    namespaceSelector: {{matchLabels: {{govcloud.io/probe: "{probe}"}}}}
    failurePolicy: Ignore
    sideEffects: None
    admissionReviewVersions: ["v1"]
"#
    );
    apply_yaml(&admin, &config, None).await?;
    let result = async {
        wait_until(T, "the standby ready once registered", || async {
            Ok(standby
                .get("/readyz")
                .map(|(c, _)| c == 200)
                .unwrap_or(false))
        })
        .await?;
        let (_, body) = standby.get("/readyz")?;
        assert!(body.contains("standby"), "a standby: {body}");
        let mut ns = k8s_openapi::api::core::v1::Namespace::default();
        ns.metadata.name = Some(probe.clone());
        ns.metadata.labels = Some([("govcloud.io/probe".to_string(), probe.clone())].into());
        Api::<k8s_openapi::api::core::v1::Namespace>::all(admin.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        let cm: k8s_openapi::api::core::v1::ConfigMap =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "probe"}}))?;
        let text = denial(
            Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(admin.clone(), &probe)
                .create(&PostParams::default(), &cm)
                .await,
            "does not decide on /configmaps",
        )?;
        assert!(text.contains("probe.govcloud.io"), "{text}");
        anyhow::Ok(())
    }
    .await;
    for plural in [
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
    ] {
        let kind = if plural.starts_with('v') {
            "ValidatingWebhookConfiguration"
        } else {
            "MutatingWebhookConfiguration"
        };
        let ar = kube::api::ApiResource {
            group: "admissionregistration.k8s.io".into(),
            version: "v1".into(),
            api_version: "admissionregistration.k8s.io/v1".into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        let _ = Api::<kube::api::DynamicObject>::all_with(admin.clone(), &ar)
            .delete(&name, &Default::default())
            .await;
    }
    standby.kill();
    result.map_err(|e| anyhow!("{e}\n{}", standby.log_tail()))
}

/// The certificate the webhook serves now, checked against the CA in the Secret (so the
/// API server's view: it chains to the caBundle and names 127.0.0.1).
async fn served_certificate(s: &Setup) -> Result<Vec<u8>> {
    let admin = s.cp.admin().await?;
    let secret = Api::<Secret>::namespaced(admin, "govcloud-system")
        .get("govcloud-operator-webhook-tls")
        .await?;
    let ca = secret
        .data
        .as_ref()
        .and_then(|d| d.get("ca.crt"))
        .context("no ca.crt")?
        .0
        .clone();
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(c?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", s.webhook_port)).await?;
    let name =
        rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into());
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .context("no peer certificate")
}

#[tokio::test]
async fn the_serving_certificate_is_renewed_and_writes_keep_working() -> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let first = served_certificate(s).await?;
    // 30 s certificates are renewed when 10 s are left.
    wait_until(T, "a renewed serving certificate", || async {
        Ok(served_certificate(s).await? != first)
    })
    .await
    .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    let (_, ns) = namespace_with_policy(s, "renewed").await?;
    file(
        &s.cp.vendor().await?,
        &ns,
        "after",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_restarted_operator_converges_with_nothing_lost() -> Result<()> {
    let s = setup().await?;
    let _alone = EXCLUSIVE.write().await;
    let (admin, ns) = namespace_with_policy(s, "restart").await?;
    let vendor = s.cp.vendor().await?;
    file(
        &vendor,
        &ns,
        "before",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    approve(s, &ns, "before", "").await?;
    {
        let mut op = s.operator.lock().map_err(|_| anyhow!("poisoned"))?;
        op.kill();
    }
    // While the webhook is down, writes in its scope fail closed.
    let down = Api::<CloudResourceRequest>::namespaced(vendor.clone(), &ns)
        .create(
            &PostParams::default(),
            &CloudResourceRequest::new("during", request_spec(&ns, RequestClass::Production, "1")),
        )
        .await;
    assert!(
        down.is_err(),
        "a write passed while the webhook was down: {down:?}"
    );
    let port = {
        let mut op = s.operator.lock().map_err(|_| anyhow!("poisoned"))?;
        op.restart()?;
        op.port
    };
    wait_until(T, "the restarted operator ready", || async move {
        Ok(readyz(port).unwrap_or(false))
    })
    .await?;
    // The decision taken before the restart is acted on; a write after it passes again.
    let r = wait_phase(&admin, &ns, "before", RequestPhase::Active, T)
        .await
        .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    assert_eq!(
        r.status
            .and_then(|st| st.approval)
            .and_then(|a| a.reviewer)
            .as_deref(),
        Some("approver")
    );
    wait_for(T, "a write after the restart", || async {
        Ok(file(
            &vendor,
            &ns,
            "after",
            request_spec(&ns, RequestClass::Production, "1"),
        )
        .await
        .ok())
    })
    .await?;
    Ok(())
}

fn readyz(port: u16) -> Result<bool> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.0 200"))
}
