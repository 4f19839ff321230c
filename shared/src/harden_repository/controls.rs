//! A creation template or the registry scanning configuration changed (a CloudTrail record):
//! reconciled at once for the managed prefix it concerns, instead of at the next sweep.

use tracing::info;

use super::report::{HardenReport, Trigger};
use super::{observe, ManagedPrefixes, Tally, FUNCTION};
use crate::config::Config;
use crate::error::Error;
use crate::events::ControlChanged;
use crate::metrics::Metrics;
use crate::ports::PortSet;

/// A creation template or the registry scanning configuration changed: the templates of the
/// managed prefix the record names (and the profile prefixes below it), or the registry
/// scanning configuration, reconciled in the configured mode (`manage` restores, `check`
/// reports). Templates someone else created stay theirs (never written, only reported).
pub(super) async fn controls_changed(
    ports: &impl PortSet,
    config: &Config,
    changed: &ControlChanged,
    dry_run: bool,
    own_role: Option<&str>,
) -> Result<(HardenReport, Metrics), Error> {
    let caller = &changed.record.caller;
    let trigger = |acknowledged: Option<String>| Trigger::ControlChanged {
        call: changed.call.as_str().to_owned(),
        prefix: changed.template_prefix.clone(),
        changed_by: caller.principal().to_owned(),
        role: caller.role_arn.clone(),
        event_time: changed.record.event_time.clone(),
        event_id: changed.record.event_id.clone(),
        acknowledged,
    };
    let mut report = HardenReport::new(FUNCTION.as_str(), dry_run);
    let mut metrics = Metrics::new(FUNCTION.as_str());
    let acknowledge = |mut report: HardenReport, mut metrics: Metrics, why: String| {
        info!(call = changed.call.as_str(), prefix = ?changed.template_prefix, reason = %why, "registry control change acknowledged");
        Tally::new(dry_run, true).finish(&mut report, &mut metrics);
        report.details.trigger = Some(trigger(Some(why)));
        (report, metrics)
    };
    if own_role.is_some() && caller.role_arn.as_deref() == own_role {
        return Ok(acknowledge(
            report,
            metrics,
            "made by this function's own role: it is as hardening left it".to_owned(),
        ));
    }
    let hardening = &config.hardening;
    let mode = match changed.template_prefix {
        Some(_) => hardening.creation_templates,
        None => hardening.registry_scanning,
    };
    if mode == crate::config::TemplateMode::Off {
        let key = match changed.template_prefix {
            Some(_) => "hardening.creation_templates",
            None => "hardening.registry_scanning",
        };
        return Ok(acknowledge(
            report,
            metrics,
            format!("`{key}` is `off`: left alone"),
        ));
    }
    let managed = observe::managed_prefixes(ports.registry(), hardening).await?;
    report.details.managed_prefixes = Some(managed.as_slice().to_vec());
    match &changed.template_prefix {
        Some(prefix) => {
            let kept = crate::harden_repository::templates::desired::desired_templates(
                hardening, &managed,
            )
            .iter()
            .any(|template| template.prefix == prefix);
            if !kept {
                return Ok(acknowledge(
                    report,
                    metrics,
                    format!("`{prefix}` is not the template of a managed prefix: someone else's, left alone"),
                ));
            }
            // Only that prefix (and the profile prefixes below it): the others did not change.
            let narrowed = ManagedPrefixes::resolve(Some(std::slice::from_ref(prefix)), &[]);
            info!(call = changed.call.as_str(), prefix = %prefix, changed_by = caller.principal(), mode = mode.as_str(), "creation template changed; reconciling it");
            let reconciled = crate::harden_repository::templates::reconcile(
                ports, hardening, &narrowed, dry_run,
            )
            .await;
            report.details.templates = Some(reconciled.write_into(&mut report));
        }
        None => {
            info!(
                call = changed.call.as_str(),
                changed_by = caller.principal(),
                mode = mode.as_str(),
                "registry scanning changed; reconciling it"
            );
            let reconciled =
                crate::harden_repository::scanning::reconcile(ports, hardening, &managed, dry_run)
                    .await;
            report.details.registry_scanning = Some(reconciled.write_into(&mut report));
        }
    }
    Tally::new(dry_run, true).finish(&mut report, &mut metrics);
    report.details.trigger = Some(trigger(None));
    Ok((report, metrics))
}
