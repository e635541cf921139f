//! What a ResourceChange asks for, and whether its request allows it: parsing the
//! amounts and dates (errors name the field), extensions (SH 23, SH 24) and conversions
//! (SH 19).

use chrono::{DateTime, NaiveDate, Utc};

use super::deadline;
use super::quantity::{Amounts, FieldError, ResourceKind};
use super::rules::Rules;
use crate::api::{CloudResourceRequest, RequestClass, ResourceChangeSpec};

/// Parses what a change asks for. Errors name the field.
pub fn parse(spec: &ResourceChangeSpec) -> Result<(Amounts, Option<NaiveDate>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let resources = match &spec.resources {
        None => Amounts::default(),
        Some(r) => Amounts::parse("spec.resources", r).unwrap_or_else(|e| {
            errors.extend(e);
            Amounts::default()
        }),
    };
    let extend_to = spec.extend_to.as_deref().and_then(|d| {
        NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| {
                errors.push(FieldError::new(
                    "spec.extendTo",
                    format!("{d:?} is not a date (YYYY-MM-DD)"),
                ))
            })
            .ok()
    });
    let asks_nothing = ResourceKind::ALL.iter().all(|k| !resources.has(*k))
        && spec.extend_to.is_none()
        && spec.convert_to.is_none()
        && spec.access_groups.is_none()
        && spec.zone.is_none();
    if asks_nothing && errors.is_empty() {
        errors.push(FieldError::new(
            "spec",
            "changes nothing: give resources, extendTo, convertTo, accessGroups or zone",
        ));
    }
    if errors.is_empty() {
        Ok((resources, extend_to))
    } else {
        Err(errors)
    }
}

/// Why the change cannot apply to `request`: an extension of what has no expiry, not after
/// it, or filed too late (SH 23, SH 24); a conversion the rules do not provide (SH 19).
pub(super) fn request_rejects(
    spec: &ResourceChangeSpec,
    request: &CloudResourceRequest,
    rules: &Rules,
    submitted: DateTime<Utc>,
    extend_to: Option<NaiveDate>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let st = request.status.clone().unwrap_or_default();
    let class = st.granted_class.unwrap_or(request.spec.class);
    if let Some(date) = extend_to {
        let deadlines = st.deadlines.clone().unwrap_or_default();
        match (class.is_time_boxed(), deadlines.expires_at) {
            (false, _) | (_, None) => errors.push(FieldError::new(
                "spec.extendTo",
                format!(
                    "request {:?} ({}) has no expiry to extend",
                    request.metadata.name.clone().unwrap_or_default(),
                    class.as_str()
                ),
            )),
            (true, Some(expires_at)) => {
                if deadline::end_of_day(date, rules.time_zone) <= expires_at {
                    errors.push(FieldError::new(
                        "spec.extendTo",
                        format!(
                            "{date} is not after the current expiry {}",
                            expires_at.to_rfc3339()
                        ),
                    ));
                }
                if let Some(by) = deadlines.extension_request_by.filter(|by| submitted > *by) {
                    errors.push(FieldError::new(
                        "spec.extendTo",
                        format!("filed too late: an extension had to be requested by {} (SH 23, SH 24: at least {} before expiry)", by.to_rfc3339(), rules.class(class).and_then(|c| c.extension_notice_before).map(|d| d.to_string()).unwrap_or_default()),
                    ));
                }
            }
        }
    }
    if let Some(target) = spec.convert_to
        && !(class == RequestClass::Test && target == RequestClass::Production)
    {
        errors.push(FieldError::new("spec.convertTo", format!("{} → {} is not a conversion the rules provide; only Test → Production after validation (SH 19)", class.as_str(), target.as_str())));
    }
    errors
}
