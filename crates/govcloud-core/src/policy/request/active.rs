//! An active grant: deployment and paperwork deadlines, expiry, suspension,
//! reclamation and utilization.

use chrono::{DateTime, Utc};

use super::decision::Verdict;
use super::{Action, Clock, Inputs, Pass, TenantState, deletion_blocked_message};
use crate::api::{CloudResourceRequestStatus, RequestPhase};
use crate::policy::conditions::{self, Wanted, types};
use crate::policy::deadline;
use crate::policy::duration::PolicyDuration;
use crate::policy::hold::{Gaps, Hold, override_notice, reclaim_hold};
use crate::policy::quantity::Amounts;
use crate::policy::rules::Rules;
use crate::policy::tenant::TenantSpec;

#[allow(clippy::too_many_arguments)]
pub(super) fn lifecycle_granted_active(
    i: &Inputs<'_>,
    rules: &Rules,
    st: &mut CloudResourceRequestStatus,
    clock: &mut Clock<'_>,
    verdict: Verdict,
    p: &mut Pass,
    started: DateTime<Utc>,
    tenant_spec: &dyn Fn(bool) -> TenantSpec,
) {
    let now = i.now;
    let namespace = st.tenant_namespace.clone().unwrap_or_default();
    let class = st.granted_class.unwrap_or(i.spec.class);
    let emergency = i.spec.emergency;

    // SN 11: deployment starts within deployment.within of allocation.
    let deploy_by = clock.add(started, rules.deploy_within);
    p.deadlines.deploy_by = Some(deploy_by);
    let deployed_before = conditions::find(&i.status.conditions, types::NOT_DEPLOYED)
        .is_some_and(|c| c.status == "False");
    let deployed = deployed_before || i.has_pods == Some(true);
    if deployed {
        p.wanted.push(Wanted::no(
            types::NOT_DEPLOYED,
            "Deployed",
            "workloads are running in the tenant namespace",
        ));
    } else if now >= deploy_by && i.has_pods == Some(false) {
        p.wanted.push(Wanted::yes(
            types::NOT_DEPLOYED,
            "NoPods",
            format!(
                "no pod in {namespace} by {} (SN 11)",
                deploy_by.to_rfc3339()
            ),
        ));
    } else if now < deploy_by {
        p.upcoming.push(("deployBy", deploy_by));
    }

    // XB 26: emergency paperwork.
    let mut rejected_after_grant = false;
    if emergency {
        let paperwork_by = clock.add(started, rules.paperwork_within);
        p.deadlines.paperwork_by = Some(paperwork_by);
        match verdict {
            Verdict::Rejected => rejected_after_grant = true,
            _ if super::super::emergency::paperwork_complete(st.approval.as_ref()) => {}
            _ => {
                p.wanted.push(Wanted::yes(
                    types::PAPERWORK_PENDING,
                    "AwaitingPaperwork",
                    format!(
                        "opened on the emergency fast track; paperwork due by {} \
                         (status.approval.paperworkComplete; XB 26)",
                        paperwork_by.to_rfc3339()
                    ),
                ));
                if now >= paperwork_by {
                    p.wanted.push(Wanted::yes(
                        types::PAPERWORK_OVERDUE,
                        "PaperworkDeadlinePassed",
                        format!(
                            "no paperwork by {} (XB 26, XB 39.5)",
                            paperwork_by.to_rfc3339()
                        ),
                    ));
                } else {
                    p.upcoming.push(("paperworkBy", paperwork_by));
                }
            }
        }
    } else if verdict == Verdict::Rejected {
        rejected_after_grant = true;
    }

    // Time-boxed classes (GY 7, SH 21–24).
    let mut expired = false;
    let mut reclaim_due = false;
    let mut reclaim_gaps = Gaps::default();
    if class.is_time_boxed()
        && let Some(limits) = rules.class(class)
    {
        {
            let granted: PolicyDuration = st
                .granted_duration
                .as_deref()
                .and_then(|d| d.parse().ok())
                .unwrap_or(limits.max_duration);
            let nominal = clock.counted(started, granted);
            let cap = clock.counted(started, limits.max_duration);
            // Issue 15: the years the reclaim deadline relied on without published data.
            let chosen = if nominal.at <= cap.at { nominal } else { cap };
            clock.note(&mut reclaim_gaps, started, chosen);
            let mut expires_at = chosen.at;
            if let Some(ext) = st
                .extended_to
                .as_deref()
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            {
                // A date the bureau granted: nothing counted.
                expires_at = deadline::end_of_day(ext, rules.time_zone);
                reclaim_gaps = Gaps::default();
            }
            let warn_at = clock.sub(expires_at, rules.warn_before).max(started);
            let reclaim = clock.counted(expires_at, rules.suspend_for);
            clock.note(&mut reclaim_gaps, expires_at, reclaim);
            let reclaim_at = reclaim.at;
            p.deadlines.expires_at = Some(expires_at);
            p.deadlines.warn_at = Some(warn_at);
            p.deadlines.reclaim_at = Some(reclaim_at);
            if let Some(notice) = limits.extension_notice_before {
                let by = clock.sub(expires_at, notice).max(started);
                p.deadlines.extension_request_by = Some(by);
                if now < by {
                    p.upcoming.push(("extensionRequestBy", by));
                }
            }
            expired = now >= expires_at;
            reclaim_due = now >= reclaim_at;
            if !expired {
                if now >= warn_at {
                    p.wanted.push(Wanted::yes(
                        types::EXPIRING_SOON,
                        "ExpiryNear",
                        format!(
                            "{} resources expire at {}; back up data now (SH 21, SH 26)",
                            class.as_str(),
                            expires_at.to_rfc3339()
                        ),
                    ));
                } else {
                    p.upcoming.push(("warnAt", warn_at));
                }
                p.upcoming.push(("expiresAt", expires_at));
            } else if !reclaim_due {
                p.upcoming.push(("reclaimAt", reclaim_at));
            }
        }
    }

    if i.deleting {
        p.wanted.push(Wanted::yes(
            types::DELETION_BLOCKED,
            "ExitRequired",
            deletion_blocked_message(st),
        ));
    }

    // Issue 15: no data wiped on a provisional count; the suspension below still holds.
    // An exit's reclamation is held by the exit itself (policy::exit).
    let hold = match reclaim_due && !i.exit_reclaim {
        true => reclaim_hold(&reclaim_gaps, i.status.approval.as_ref(), &rules.calendar),
        false => Hold::Proceed,
    };
    // Once the namespace is being deleted there is nothing left to hold.
    let hold = match hold {
        Hold::Held(_) if i.status.phase == Some(RequestPhase::Reclaiming) => Hold::Proceed,
        hold => hold,
    };
    p.extra.extend(override_notice(&i.status.conditions, &hold));
    let held = match hold {
        Hold::Proceed => false,
        Hold::Held(w) => {
            p.wanted.push(w);
            true
        }
        Hold::Overridden(w) => {
            p.wanted.push(w);
            false
        }
    };
    if (reclaim_due && !held) || i.exit_reclaim {
        match &i.tenant {
            Some(TenantState::Absent) => {
                st.phase = Some(RequestPhase::Reclaimed);
                if let Some(b) = st.billing.as_mut() {
                    b.stopped_at = Some(now);
                }
                p.wanted.retain(|w| {
                    w.type_ != types::DELETION_BLOCKED && w.type_ != types::NOT_DEPLOYED
                });
                p.wanted.push(Wanted::no(
                    types::READY,
                    "Reclaimed",
                    format!("tenant namespace {namespace} was reclaimed"),
                ));
                p.release_finalizer = i.deleting;
            }
            Some(TenantState::Foreign { .. }) => {
                st.phase = Some(RequestPhase::Reclaiming);
                p.wanted.push(Wanted::yes(
                    types::NAMESPACE_CONFLICT,
                    "NotOwned",
                    format!(
                        "namespace {namespace} is no longer owned by this request; not deleting it"
                    ),
                ));
            }
            None => {
                // Not looked up: nothing is deleted on a name alone (issue 13).
                st.phase = Some(RequestPhase::Reclaiming);
                p.wanted.push(Wanted::no(
                    types::READY,
                    "Reclaiming",
                    format!(
                        "reclaiming {namespace}: waiting to see it carry this request's owner UID"
                    ),
                ));
            }
            Some(TenantState::Owned { .. }) => {
                st.phase = Some(RequestPhase::Reclaiming);
                let why = if i.exit_reclaim {
                    "the exit's transition ended with the backup confirmed"
                } else {
                    "the suspension period after expiry ended (SH 21)"
                };
                p.wanted.push(Wanted::no(
                    types::READY,
                    "Reclaiming",
                    format!("reclaiming {namespace}: {why}"),
                ));
                p.action = Action::Reclaim {
                    namespace: namespace.clone(),
                };
            }
        }
        return;
    }

    // Utilization (SN 14, GY 10, SH 25): measured only while the grant is open.
    let util =
        crate::policy::utilization::evaluate(&crate::policy::utilization::UtilizationInputs {
            rules,
            calendar: i.calendar,
            started,
            grant: &st
                .grant
                .as_ref()
                .and_then(|g| Amounts::parse("status.grant", g).ok())
                .unwrap_or_default(),
            previous: st.utilization.as_ref(),
            measured: if expired || rejected_after_grant {
                None
            } else {
                i.measured
            },
            objection: i.objection,
            last_downsize: p.last_downsize,
            now,
        });
    st.utilization = util.status;
    p.wanted.extend(util.wanted);
    p.extra.extend(util.notices);
    if let Some(at) = util.wake_at {
        p.upcoming.push(("respondBy", at));
    }
    if let (Some(target), Some(notice)) = (
        util.downsize,
        st.utilization.as_ref().and_then(|u| u.notice.as_ref()),
    ) {
        p.downsize = Some((
            format!("{}-auto-downsize-{}", i.name, notice.issued_at.timestamp()),
            target,
        ));
    }
    let neglected = util.suspend;
    p.monitored = !(expired || rejected_after_grant || neglected);

    if expired || rejected_after_grant || neglected {
        st.phase = Some(RequestPhase::Suspended);
        let (reason, why) = if expired {
            (
                "Expired",
                format!(
                    "the {} grant expired; reclaimed after {} unless extended (SH 21)",
                    class.as_str(),
                    rules.suspend_for
                ),
            )
        } else if rejected_after_grant {
            ("Rejected", "the bureau rejected the request after it was opened; data is kept, file an ExitRequest to release it".to_string())
        } else {
            ("UtilizationNoticeIgnored", "an optimization notice for low utilization was ignored: suspended (SH 25); data is kept".to_string())
        };
        p.wanted
            .push(Wanted::yes(types::SUSPENDED, reason, why.clone()));
        p.wanted.push(Wanted::no(types::READY, "Suspended", why));
        if !matches!(i.tenant, Some(TenantState::Foreign { .. })) {
            p.action = Action::Suspend {
                tenant: tenant_spec(true),
            };
        }
        return;
    }

    match &i.tenant {
        Some(TenantState::Foreign { owner_uid }) => {
            p.wanted.push(Wanted::yes(
                types::NAMESPACE_CONFLICT,
                "NotOwned",
                format!("namespace {namespace} is not owned by this request (owner uid: {}); left untouched", owner_uid.clone().unwrap_or_else(|| "none".into())),
            ));
            st.phase = Some(RequestPhase::Active);
        }
        _ => {
            st.phase = Some(RequestPhase::Active);
            let restore = std::mem::take(&mut st.suspended_replicas);
            if matches!(p.action, Action::None) || matches!(p.action, Action::Activate { .. }) {
                p.action = Action::Activate {
                    tenant: tenant_spec(false),
                    restore,
                };
            }
            p.wanted.push(Wanted::yes(
                types::READY,
                "Active",
                format!("tenant namespace {namespace} is active"),
            ));
        }
    }
}
