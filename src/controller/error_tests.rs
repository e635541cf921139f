use super::*;

fn api(code: u16) -> kube::Error {
    kube::Error::Api(
        kube::core::Status::failure(
            "namespaces \"tenant-secret-name\" is forbidden: quota exceeded",
            "Forbidden",
        )
        .with_code(code)
        .boxed(),
    )
}

/// The API server's answer to a create in a namespace being deleted.
fn terminating() -> kube::Error {
    let mut status = kube::core::Status::failure(
        "govcloudrecords.govcloud.io \"x\" is forbidden: unable to create new content in \
         namespace n because it is being terminated",
        "Forbidden",
    )
    .with_code(403);
    status.details = Some(kube::core::response::StatusDetails {
        causes: vec![kube::core::response::StatusCause {
            reason: "NamespaceTerminating".into(),
            message: "namespace n is being terminated".into(),
            field: "metadata.namespace".into(),
        }],
        name: "x".into(),
        group: "govcloud.io".into(),
        kind: "govcloudrecords".into(),
        uid: String::new(),
        retry_after_seconds: 0,
    });
    kube::Error::Api(status.boxed())
}

fn transport() -> kube::Error {
    kube::Error::ReadEvents(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "connection refused",
    ))
}

/// Every step's variant, with the word it is counted under, its Event reason and the
/// words its message must say.
fn steps() -> Vec<(Step, &'static str, &'static str, &'static str)> {
    vec![
        (Error::Observe, "observe", "ObserveFailed", "reading the"),
        (
            Error::Finalizer,
            "finalizer",
            "FinalizerFailed",
            "finalizer of the",
        ),
        (Error::Namespace, "namespace", "NamespaceFailed", "tenant"),
        (
            Error::Quota,
            "quota",
            "QuotaFailed",
            "applying the tenant's",
        ),
        (
            Error::LimitRange,
            "limit-range",
            "LimitRangeFailed",
            "applying the tenant's",
        ),
        (
            Error::RoleBinding,
            "role-binding",
            "RoleBindingFailed",
            "applying the tenant's",
        ),
        (
            Error::NetworkPolicy,
            "network-policy",
            "NetworkPolicyFailed",
            "applying the tenant's",
        ),
        (Error::Scaling, "scaling", "ScalingFailed", "scaling the"),
        (Error::Status, "status", "StatusFailed", "status of the"),
        (Error::Event, "event", "EventFailed", "Event on the"),
        (
            Error::Deletion,
            "deletion",
            "DeletionFailed",
            "deleting the",
        ),
        (
            Error::FileChange,
            "file-change",
            "FileChangeFailed",
            "filing the automatic",
        ),
        (
            Error::Record,
            "record",
            "RecordFailed",
            "recording the step",
        ),
    ]
}

#[test]
fn every_step_is_named_with_its_kind_and_counted_by_fixed_words() {
    let mut seen_steps = std::collections::HashSet::new();
    let mut seen_reasons = std::collections::HashSet::new();
    for (step, word, reason, says) in steps() {
        let err = Err::<(), _>(api(403))
            .during(step, "ResourceQuota")
            .unwrap_err();
        assert_eq!(err.step(), word);
        assert_eq!(err.reason(), reason);
        assert_eq!(err.kind(), Some("ResourceQuota"));
        assert_eq!(err.category(), "forbidden");
        let text = err.to_string();
        assert!(
            text.contains(says)
                && text.contains("ResourceQuota")
                && text.contains("quota exceeded"),
            "the message names the step, the kind and the API's answer: {text}"
        );
        assert!(seen_steps.insert(word), "{word} is used by two steps");
        assert!(seen_reasons.insert(reason), "{reason} is used by two steps");
        // Labels and reasons are fixed words: never the object's name or the API's text.
        for label in [err.step(), err.category(), err.reason()] {
            assert!(
                !label.contains("tenant-secret-name") && !label.contains("quota exceeded"),
                "{label}"
            );
        }
    }
}

#[test]
fn the_category_says_how_the_call_failed() {
    let cases = [
        (api(409), "conflict", false),
        (api(403), "forbidden", true),
        (terminating(), "terminating", false),
        (api(404), "notfound", true),
        (api(500), "apiserver", true),
        (api(422), "apiserver", true),
        (transport(), "transport", false),
    ];
    for (source, category, reported) in cases {
        let err = Error::Status("CloudResourceRequest", source);
        assert_eq!(err.category(), category, "{err}");
        assert_eq!(err.step(), "status");
        assert_eq!(err.reported_on_object(), reported, "{err}");
        assert_eq!(err.routine(), category == "terminating", "{err}");
    }
    let missing = Error::MissingMetadata("metadata.uid");
    assert_eq!(
        (missing.step(), missing.category(), missing.kind()),
        ("metadata", "metadata", None)
    );
    let panic = Error::Panic("index out of bounds".into());
    assert_eq!(
        (panic.step(), panic.category(), panic.reason()),
        ("reconcile", "panic", super::super::guard::PANICKED)
    );
    let serialize = Error::Serialize(serde_json::Error::io(std::io::Error::other("x")));
    assert_eq!(
        (serialize.step(), serialize.category()),
        ("serialize", "serialize")
    );
}
