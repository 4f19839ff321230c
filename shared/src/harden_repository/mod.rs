//! harden-repository: bring cached repositories to the desired state of their profile.
//!
//! Every run reconciles: observe (only what the profile manages) → plan (pure, [`plan`]) →
//! stop here in a dry run → apply only what differs, one write per setting → report each change
//! with its old and new value. A repository already in shape costs reads only, so a second run
//! writes nothing; repositories outside the managed prefixes are never touched.
//!
//! Entry points, shared by the Lambda and the `ptc` command line:
//! - [`run`]: whatever a [`HardenInvocation`] asks for; a sweep short of time returns the
//!   continuation, which [`hand_on`] starts once the run's report, alerts and metrics are done;
//! - [`harden_repositories`]: named repositories (creation events, direct invokes);
//! - [`sweep`]: every managed repository from a cursor, until done or out of time.

pub mod apply;
mod controls;
pub mod desired;
pub mod findings;
pub mod observe;
mod other_writers;
pub mod outcome;
pub mod permissions;
pub mod plan;
mod problems;
pub mod pull_time;
pub mod report;
#[cfg(test)]
mod run_tests;
pub mod scanning;
pub mod sweep;
pub mod templates;
#[cfg(test)]
mod tests;
pub mod usage;
pub mod vulnerabilities;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use futures::stream::{self, StreamExt};
use serde_json::Value;
use tracing::{debug, info, warn};

use crate::config::{Config, HardeningConfig};
use crate::deadline::Deadline;
use crate::domain::scanning::{EffectiveScanning, RegistryScanning};
use crate::domain::{Check, Finding, Repository, Severity};
use crate::env;
use crate::error::Error;
use crate::events::{
    CreatedVia, EventError, FunctionKind, HardenInvocation, HardenRequest, HardenTarget,
    PullThroughCacheAction, Received, RepositoryCreated, SettingChanged, SyncStatus,
};
use crate::harden_repository::scanning::{Covered, ScanCoverage};
use crate::metrics::Metrics;
use crate::ports::AwsError;
use crate::ports::{HandOff, PortSet, Registry};
use crate::ports::{Scanning, MAX_NAMES_PER_BATCH};
use crate::run::{Ran, RunContext};
use other_writers::{forget_replaced, Acceptance, FlapGate};

use desired::{opted_out, tagged_as_cache_created, Coverage, Desired, ManagedPrefixes, Provenance};
use observe::Observation;
use outcome::{ChangedBy, Outcome, SkipReason, Tally};
use report::{HandOffRecord, SweepProgress};

pub use report::{HardenDetails, HardenReport, Trigger};
pub use sweep::{SweepCursor, FINISH_RESERVE, START_RESERVE};

const FUNCTION: FunctionKind = FunctionKind::HardenRepository;

/// What a sweep invocation achieved.
#[derive(Debug)]
pub struct Swept {
    pub report: HardenReport,
    pub metrics: Metrics,
    /// Where the next invocation carries on; `None` when the sweep is complete.
    pub rest: Option<SweepCursor>,
    /// Repositories taken from the listing by this invocation (zero: no progress at all).
    pub n_started: u64,
    /// The listing itself failed (so carrying on at once would fail again).
    pub listing_failed: bool,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub invocation: HardenInvocation,
    /// A sweep short of time may hand the rest on itself (in Lambda); elsewhere the report
    /// carries the payload to continue with.
    pub can_hand_off: bool,
}

/// Does what the invocation asks. Run-level failures (the managed prefixes cannot be found, a
/// malformed cursor) are errors; per-repository failures are findings and the run goes on.
/// A sweep that ran out of time reports the payload to continue with; with `can_hand_off`
/// (in Lambda) it is also [`HardenDetails::continuation`], unless carrying on at once would be
/// pointless.
pub async fn run<P: PortSet>(
    context: &RunContext<'_, P>,
    request: Request,
) -> Result<Ran<HardenDetails>, Error> {
    let RunContext {
        ports,
        config,
        deadline,
        own_role_arn,
        prewarm_role_arn,
        ..
    } = *context;
    let Request {
        invocation,
        can_hand_off,
    } = request;
    let invocation = &invocation;
    let dry_run = invocation.dry_run().unwrap_or(config.hardening.dry_run);
    let done = |(report, metrics): (HardenReport, Metrics)| Ran { report, metrics };
    match invocation {
        HardenInvocation::Ignored { reason } => {
            info!(reason = %reason, "event ignored");
            let mut report = HardenReport::new(FUNCTION.as_str(), dry_run);
            let mut metrics = Metrics::new(FUNCTION.as_str());
            Tally::new(dry_run, true).finish(&mut report, &mut metrics);
            report.details.trigger = Some(Trigger::Ignored {
                reason: reason.clone(),
            });
            Ok(done((report, metrics)))
        }
        HardenInvocation::RepositoryCreated(created) => {
            let names = [created.repository_name.clone()];
            let hardener = Hardener::new(ports, config, dry_run, deadline).await?;
            let (mut report, metrics) = hardener
                .harden_names(&names, provenance(created), Tally::new(dry_run, true))
                .await;
            report.details.trigger = Some(Trigger::RepositoryCreated {
                via: created.via,
                repository: created.repository_name.clone(),
                birth: report::birth(&report),
            });
            Ok(done((report, metrics)))
        }
        HardenInvocation::ControlChanged(changed) => {
            controls::controls_changed(ports, config, changed, dry_run, own_role_arn)
                .await
                .map(done)
        }
        HardenInvocation::SettingChanged(changed) => {
            drift(ports, config, changed, dry_run, deadline, own_role_arn)
                .await
                .map(done)
        }
        HardenInvocation::PullThroughCacheAction(action) if action.sync.is_success() => {
            // The template's rule only sends failures; a success that arrives anyway (a rule
            // without the filter) costs no AWS call: creation events and the sweep harden.
            info!(repository = %action.repository_name, "successful sync; nothing to do");
            let mut report = HardenReport::new(FUNCTION.as_str(), dry_run);
            let mut metrics = Metrics::new(FUNCTION.as_str());
            Tally::new(dry_run, true).finish(&mut report, &mut metrics);
            report.details.trigger = Some(sync_trigger(action));
            Ok(done((report, metrics)))
        }
        HardenInvocation::PullThroughCacheAction(action) => {
            let names = [action.repository_name.clone()];
            let pull_failure = pull_failure_finding(action);
            // ECR sends a failed sync on every pull that tries it: findings no hardening can
            // change (encryption, the profile's own choices) wait for the daily sweep instead of
            // coming back with each event.
            let hardener = Hardener::new(ports, config, dry_run, deadline)
                .await?
                .without_repeats();
            let mut tally = Tally::new(dry_run, true);
            if let Some(finding) = pull_failure {
                tally.add_pull_failure(finding);
            }
            // ECR only syncs repositories of its cache.
            let (mut report, metrics) = hardener
                .harden_names(&names, Provenance::CacheCreated, tally)
                .await;
            report.details.trigger = Some(sync_trigger(action));
            Ok(done((report, metrics)))
        }
        HardenInvocation::ImageScanned(scan) => {
            vulnerabilities::image_scanned(ports, config, scan, dry_run)
                .await
                .map(done)
        }
        HardenInvocation::Scheduled(_) => {
            sweep_with_continuation(
                ports,
                config,
                None,
                dry_run,
                (deadline, prewarm_role_arn),
                can_hand_off,
                Trigger::Scheduled { sweep: true },
            )
            .await
        }
        HardenInvocation::Direct(request) => match &request.target {
            HardenTarget::Repositories(names) => {
                if request.cursor.is_some() {
                    return Err(invalid_request(
                        request,
                        "`cursor` continues a sweep; it cannot go with `repositories`",
                    ));
                }
                let (mut report, metrics) =
                    harden_repositories(ports, config, names, dry_run, deadline).await?;
                report.details.trigger = Some(Trigger::Direct {
                    repositories: Some(names.clone()),
                    sweep: None,
                });
                Ok(done((report, metrics)))
            }
            HardenTarget::Usage => usage::summary::run(context, dry_run).await.map(done),
            HardenTarget::Sweep => {
                let cursor = request
                    .cursor
                    .as_ref()
                    .map(SweepCursor::from_value)
                    .transpose()
                    .map_err(|problem| invalid_request(request, &problem))?;
                sweep_with_continuation(
                    ports,
                    config,
                    cursor,
                    dry_run,
                    (deadline, prewarm_role_arn),
                    can_hand_off,
                    Trigger::Direct {
                        repositories: None,
                        sweep: Some(true),
                    },
                )
                .await
            }
        },
    }
}

/// Someone changed a setting of a repository: re-harden it when it is managed (the ownership
/// rules of any named repository apply), and alert on every setting put back. A change made by
/// the function's own role is acknowledged without a call; without that role known, the run
/// finds the repository in shape and writes nothing, so no change loops.
async fn drift(
    ports: &impl PortSet,
    config: &Config,
    changed: &SettingChanged,
    dry_run: bool,
    deadline: Deadline,
    own_role: Option<&str>,
) -> Result<(HardenReport, Metrics), Error> {
    let caller = &changed.caller;
    let trigger = |acknowledged: Option<&str>| Trigger::SettingChanged {
        call: changed.call.as_str().to_owned(),
        setting: changed.call.setting().to_owned(),
        repository: changed.repository_name.clone(),
        changed_by: caller.principal().to_owned(),
        role: caller.role_arn.clone(),
        event_time: changed.event_time.clone(),
        event_id: changed.event_id.clone(),
        acknowledged: acknowledged.map(str::to_owned),
    };
    if own_role.is_some() && caller.role_arn.as_deref() == own_role {
        info!(
            repository = %changed.repository_name,
            call = changed.call.as_str(),
            "change made by this function's own role; nothing to do"
        );
        let mut report = HardenReport::new(FUNCTION.as_str(), dry_run);
        let mut metrics = Metrics::new(FUNCTION.as_str());
        Tally::new(dry_run, true).finish(&mut report, &mut metrics);
        report.details.trigger = Some(trigger(Some(
            "made by this function's own role: the repository is as hardening left it",
        )));
        return Ok((report, metrics));
    }
    info!(
        repository = %changed.repository_name,
        call = changed.call.as_str(),
        changed_by = caller.principal(),
        "setting changed; checking the repository"
    );
    let names = [changed.repository_name.clone()];
    let tally = Tally::new(dry_run, true).alerting_reverts(ChangedBy {
        call: changed.call.as_str(),
        principal: caller.principal().to_owned(),
        event_time: changed.event_time.clone(),
    });
    let ignored = config
        .hardening
        .drift
        .ignored(caller.role_arn.as_deref(), caller.arn.as_deref());
    if let (Some(ignored), None) = (ignored, ports.state()) {
        // Nothing to remember it in: acknowledged without work, and the report says the sweep
        // will not know.
        info!(repository = %changed.repository_name, caller = ignored, "change by an ignored caller; no state table to remember it");
        let mut report = HardenReport::new(FUNCTION.as_str(), dry_run);
        let mut metrics = Metrics::new(FUNCTION.as_str());
        Tally::new(dry_run, true).finish(&mut report, &mut metrics);
        report.push_finding(findings::change_accepted_finding(
            &changed.repository_name,
            changed.call.setting(),
            caller.principal(),
            ignored,
            false,
        ));
        report.details.trigger = Some(trigger(Some(
            "made by a caller of `hardening.drift.ignore_callers`: accepted, not restored",
        )));
        return Ok((report, metrics));
    }
    let event_change = ignored.map(|ignored| {
        (
            changed.call.setting(),
            ignored.to_owned(),
            caller.principal().to_owned(),
        )
    });
    let hardener = Hardener::new(ports, config, dry_run, deadline)
        .await?
        .limiting_restorations(ports, Some(caller.principal().to_owned()))
        .accepting(ports, event_change);
    let (mut report, metrics) = hardener
        .harden_names(&names, Provenance::Unknown, tally)
        .await;
    report.details.trigger = Some(trigger(None));
    flap_limit_off(ports, &mut report);
    Ok((report, metrics))
}

/// Hardens the named repositories (those outside the managed prefixes are skipped).
pub async fn harden_repositories(
    ports: &impl PortSet,
    config: &Config,
    names: &[String],
    dry_run: bool,
    deadline: Deadline,
) -> Result<(HardenReport, Metrics), Error> {
    let hardener = Hardener::new(ports, config, dry_run, deadline).await?;
    Ok(hardener
        .harden_names(names, Provenance::Unknown, Tally::new(dry_run, true))
        .await)
}

/// ECR's own `CreateRepository` (a service event invoked by `ecr.amazonaws.com`) is a creation
/// by the pull-through cache; a person's or IaC's call is not.
fn provenance(created: &RepositoryCreated) -> Provenance {
    let by_ecr = created.invoked_by.as_deref() == Some("ecr.amazonaws.com");
    if created.via == CreatedVia::ServiceEvent && by_ecr {
        Provenance::CacheCreated
    } else {
        Provenance::Unknown
    }
}

/// Sweeps every managed repository from `cursor` (the start when `None`) until done or until
/// the deadline's reserve; [`Swept::rest`] says where to carry on. Its first link also excludes
/// the pre-warm role (when known) from pull-time updates ([`pull_time`]).
pub async fn sweep(
    ports: &impl PortSet,
    config: &Config,
    cursor: Option<SweepCursor>,
    dry_run: bool,
    (deadline, prewarm_role): (Deadline, Option<&str>),
) -> Result<Swept, Error> {
    let hardener = Hardener::new(ports, config, dry_run, deadline).await?;
    let mut start = cursor.unwrap_or_default();
    if start.sweep_id.is_none() {
        start.sweep_id = Some(uuid::Uuid::new_v4().to_string());
    }
    // Templates first, once per sweep (its first link): repositories the cache creates while
    // the sweep runs are then born with their profile's settings.
    let templates = if start.link == 0 && start.next_token.is_none() && start.after.is_none() {
        Some(
            crate::harden_repository::templates::reconcile(
                ports,
                &config.hardening,
                &hardener.managed,
                dry_run,
            )
            .await,
        )
    } else {
        None
    };
    // Then the registry scanning configuration, once per sweep: repositories it scans on push
    // need no read of their own. Later links only read it.
    let first_link = templates.is_some();
    let scanning = if first_link {
        let reconciled = crate::harden_repository::scanning::reconcile(
            ports,
            &config.hardening,
            &hardener.managed,
            dry_run,
        )
        .await;
        let in_effect = reconciled.in_effect.clone();
        let pull_time = pull_time::reconcile(ports, config, prewarm_role, dry_run).await;
        (Some((reconciled, pull_time)), in_effect)
    } else {
        (
            None,
            crate::harden_repository::scanning::in_effect(ports, &config.hardening).await,
        )
    };
    let hardener = hardener
        .with_registry_scanning(scanning.1)
        .limiting_restorations(ports, None)
        .accepting(ports, None);
    let mut tally = Tally::new(dry_run, false);
    let progress = sweep::sweep_repositories(
        hardener.registry,
        start.clone(),
        config.hardening.concurrency,
        deadline,
        &mut tally,
        |page| hardener.read_scanning(page),
        |repository| hardener.harden_listed(repository),
    )
    .await;
    if let Some(error) = &progress.listing_error {
        tally.push_finding(
            Finding::new(
                Severity::Critical,
                Check::HardeningFailure,
                "harden-repository/listing",
                "the sweep could not list repositories",
                format!("{error}; repositories from the cursor on were not checked"),
            )
            .with_next_step(
                "allow `ecr:DescribeRepositories` in the function's role; the next scheduled sweep starts over",
            ),
        );
    }
    let mut report = HardenReport::new(FUNCTION.as_str(), dry_run);
    let mut metrics = Metrics::new(FUNCTION.as_str());
    tally.finish(&mut report, &mut metrics);
    hardener.describe_scope(&mut report);
    flap_limit_off(ports, &mut report);
    if let Some(templates) = templates {
        report.details.templates = Some(templates.write_into(&mut report));
    }
    if let Some((reconciled, pull_time)) = scanning.0 {
        report.details.registry_scanning = Some(reconciled.write_into(&mut report));
        pull_time.write_into(&mut report);
    }
    hardener.write_coverage(&mut report);
    report.details.sweep = Some(SweepProgress {
        sweep_id: start.sweep_id.clone(),
        link: start.link,
        started_at: start.to_value(),
        complete: progress.rest.is_none(),
        repositories_started: progress.n_started,
    });
    info!(
        sweep_id = start.sweep_id.as_deref().unwrap_or_default(),
        link = start.link,
        n_started = progress.n_started,
        complete = progress.rest.is_none(),
        "sweep finished its part"
    );
    Ok(Swept {
        report,
        metrics,
        rest: progress.rest,
        n_started: progress.n_started,
        listing_failed: progress.listing_error.is_some(),
    })
}

/// A sweep, and when it stopped early, the payload to continue with (in the report) and, when
/// carrying on at once makes sense, the continuation to hand on.
async fn sweep_with_continuation(
    ports: &impl PortSet,
    config: &Config,
    cursor: Option<SweepCursor>,
    dry_run: bool,
    (deadline, prewarm_role): (Deadline, Option<&str>),
    can_hand_off: bool,
    trigger: Trigger,
) -> Result<Ran<HardenDetails>, Error> {
    let Swept {
        mut report,
        metrics,
        rest,
        n_started,
        listing_failed,
    } = sweep(ports, config, cursor, dry_run, (deadline, prewarm_role)).await?;
    report.details.trigger = Some(trigger);
    let Some(mut rest) = rest else {
        return Ok(Ran { report, metrics });
    };
    rest.link += 1;
    let continuation = HardenRequest {
        target: HardenTarget::Sweep,
        dry_run: Some(dry_run),
        cursor: Some(rest.to_value()),
    };
    let payload = serde_json::to_value(&continuation).unwrap_or(Value::Null);
    report.details.cursor = Some(rest.to_value());
    report.details.hand_off = Some(HandOffRecord {
        handed_to: None,
        continue_with: payload.clone(),
    });
    // A failed listing would fail again at once; a run that started nothing would hand on
    // forever. Both wait for the next schedule, with the cursor in the report.
    let hand_on_now = can_hand_off && !listing_failed && n_started > 0;
    if !can_hand_off {
        info!(cursor = %rest.to_value(), "sweep stopped early; continue with the reported payload");
    } else if n_started == 0 && !listing_failed {
        report.push_finding(
            Finding::new(
                Severity::Warning,
                Check::HardeningFailure,
                "harden-repository/sweep",
                "the sweep made no progress before the deadline",
                format!(
                    "less than {} s were left when it started, so no repository was started and the rest was not handed on",
                    START_RESERVE.as_secs()
                ),
            )
            .with_next_step(format!(
                "raise the function's timeout well above {} s; continue by hand with the payload `{payload}`",
                START_RESERVE.as_secs()
            )),
        );
    }
    report.details.continuation = hand_on_now.then_some(continuation);
    Ok(Ran { report, metrics })
}

/// Starts the next invocation of a sweep. Called once the run's report, alerts and metrics are
/// finished, as the invocation's last step: nothing after it can fail, so Lambda never retries
/// an invocation that already handed on (a retry would start a second chain and alert twice).
/// Records where it went in `report`; a failure is returned as a finding to alert on.
pub async fn hand_on(
    report: &mut HardenReport,
    continuation: &HardenRequest,
    hand_off: &dyn HandOff,
) -> Option<Finding> {
    let payload = serde_json::to_value(continuation).unwrap_or(Value::Null);
    match hand_off.hand_off(continuation).await {
        Ok(target) => {
            info!(target = %target, continuation = %payload, "sweep handed on");
            report.details.hand_off = Some(HandOffRecord {
                handed_to: Some(target.to_string()),
                continue_with: payload,
            });
            None
        }
        Err(error) => {
            warn!(error = %error, "sweep could not be handed on");
            Some(
                Finding::new(
                    Severity::Critical,
                    Check::HardeningFailure,
                    "harden-repository/sweep",
                    "the sweep could not hand the rest of its work on",
                    format!("{error}; repositories from the cursor on were not checked"),
                )
                .with_next_step("allow `lambda:InvokeFunction` on the function itself in its role")
                .with_next_step(format!("continue by hand with the payload `{payload}`")),
            )
        }
    }
}

/// Without a state table the flap limit is off: a run that restored something says so once.
fn flap_limit_off(ports: &impl PortSet, report: &mut HardenReport) {
    let restored = report
        .summary
        .get(outcome::SETTINGS_CHANGED)
        .copied()
        .unwrap_or_default();
    if ports.state().is_some() || restored == 0 {
        return;
    }
    info!("no state table (`PTC_STATE_TABLE`): restorations are not limited");
    report.push_finding(
        Finding::new(
            Severity::Info,
            Check::RepositoryHardening,
            "harden-repository/drift",
            "restorations are not limited: no state table",
            format!(
                "without `{}` the function cannot count restorations across invocations, so a setting another writer keeps changing is restored every time (`hardening.drift.max_restorations`)",
                env::PTC_STATE_TABLE
            ),
        )
        .with_next_step(format!(
            "deploy with the stack's state table, or set `{}` to a DynamoDB table with partition key `pk` (string) and TTL attribute `expires_at`",
            env::PTC_STATE_TABLE
        )),
    );
}

/// One run's view of the registry and the configuration.
struct Hardener<'a, P: PortSet> {
    registry: &'a P::Registry,
    config: &'a HardeningConfig,
    managed: ManagedPrefixes,
    dry_run: bool,
    deadline: Deadline,
    /// Report findings only a person can resolve (see [`FindingKind::resolved_by_hand`]);
    /// `false` for runs that recur with every sync of the cache.
    report_unresolvable: bool,
    scanning: ScanningView<'a, P::Scanning>,
    /// `None`: every difference is written (creation events, direct invocations, no table).
    flap: Option<FlapGate<'a, P::State>>,
    /// `None`: no caller is ignored, or no table.
    acceptance: Option<Acceptance<'a, P::State>>,
}

/// What a run knows of scanning: the registry configuration in effect (a sweep), the effective
/// scanning read in batches, and the coverage of the repositories seen.
struct ScanningView<'a, S: Scanning + ?Sized> {
    api: &'a S,
    /// `None`: not known (event paths, `off`, unreadable); every repository is read.
    in_effect: Option<RegistryScanning>,
    read: Mutex<HashMap<String, EffectiveScanning>>,
    coverage: Mutex<ScanCoverage>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<'a, P: PortSet> Hardener<'a, P> {
    async fn new(
        ports: &'a P,
        config: &'a Config,
        dry_run: bool,
        deadline: Deadline,
    ) -> Result<Hardener<'a, P>, Error> {
        let registry = ports.registry();
        let managed = observe::managed_prefixes(registry, &config.hardening).await?;
        Ok(Hardener {
            registry,
            config: &config.hardening,
            managed,
            dry_run,
            deadline,
            report_unresolvable: true,
            flap: None,
            acceptance: None,
            scanning: ScanningView {
                api: ports.scanning(),
                in_effect: None,
                read: Mutex::new(HashMap::new()),
                coverage: Mutex::new(ScanCoverage::default()),
            },
        })
    }

    /// Counts restorations against `hardening.drift` in the state store, when there is one.
    fn limiting_restorations(mut self, ports: &'a P, changed_by: Option<String>) -> Self {
        self.flap = ports.state().map(|state| FlapGate {
            state,
            limit: &self.config.drift,
            changed_by,
        });
        self
    }

    /// Leaves values callers of `hardening.drift.ignore_callers` set, when any are configured
    /// and there is a state table; `event` is the drift event's own change by one of them.
    fn accepting(mut self, ports: &'a P, event: Option<(&'static str, String, String)>) -> Self {
        if self.config.drift.ignore_callers.is_empty() {
            return self;
        }
        self.acceptance = ports.state().map(|state| Acceptance { state, event });
        self
    }

    /// Compares repositories against this registry scanning configuration: those it scans on
    /// push are not read one by one.
    fn with_registry_scanning(mut self, in_effect: Option<RegistryScanning>) -> Self {
        self.scanning.in_effect = in_effect;
        self
    }

    /// Reads, 25 per call, the effective scanning of the page's managed repositories whose
    /// profile manages `scan_on_push` and that no registry filter scans on push. A failed
    /// batch is left to each repository's own read (which reports the failure).
    async fn read_scanning(&self, page: Vec<Repository>) {
        self.read_scanning_of(page.into_iter().map(|repository| repository.name))
            .await;
    }

    /// [`Self::read_scanning`] for named repositories.
    async fn read_scanning_of(&self, names: impl Iterator<Item = String>) {
        let names: Vec<String> = names
            .filter(|name| self.managed.coverage(name) == Coverage::Managed)
            .filter(|name| {
                Desired::for_repository(self.config, name).reads().scanning
                    && self.registry_scanning_of(name).is_none()
            })
            .collect();
        for batch in names.chunks(MAX_NAMES_PER_BATCH) {
            match self.scanning.api.repositories(batch).await {
                Ok(answered) => lock(&self.scanning.read).extend(answered.found),
                Err(error) => {
                    warn!(error = %error, n_repositories = batch.len(), "scanning of a batch could not be read")
                }
            }
        }
    }

    /// What the registry configuration in effect proves: scanned on push by a filter.
    fn registry_scanning_of(&self, name: &str) -> Option<EffectiveScanning> {
        self.scanning
            .in_effect
            .as_ref()
            .and_then(|configuration| EffectiveScanning::from_registry(configuration, name))
    }

    /// The effective scanning of a repository when its profile manages it: proved by the
    /// registry filters in effect, read in its page's batch, or read alone.
    async fn scanning_of(
        &self,
        name: &str,
        reads: desired::Reads,
    ) -> Result<Option<EffectiveScanning>, AwsError> {
        if let Some(effective) = self.registry_scanning_of(name) {
            return Ok(Some(effective));
        }
        if !reads.scanning {
            return Ok(None);
        }
        if let Some(effective) = lock(&self.scanning.read).remove(name) {
            return Ok(Some(effective));
        }
        let mut answered = self
            .scanning
            .api
            .repositories(std::slice::from_ref(&name.to_owned()))
            .await?;
        Ok(answered.found.remove(name))
    }

    /// The `scan_coverage` section (and its finding) of the repositories this run saw.
    fn write_coverage(&self, report: &mut HardenReport) {
        let coverage = std::mem::take(&mut *lock(&self.scanning.coverage));
        report.details.scan_coverage = Some(coverage.write_into(report, self.dry_run));
    }

    /// Leaves out findings hardening can never resolve (reported by the sweep instead).
    fn without_repeats(self) -> Self {
        Hardener {
            report_unresolvable: false,
            ..self
        }
    }

    async fn harden_names(
        &self,
        names: &[String],
        provenance: Provenance,
        mut tally: Tally,
    ) -> (HardenReport, Metrics) {
        // Named repositories' scanning is read 25 per call too.
        self.read_scanning_of(names.iter().cloned()).await;
        let mut outcomes = stream::iter(names.iter().cloned())
            .map(|name| self.harden_named(name, provenance))
            .buffer_unordered(self.config.concurrency.max(1));
        while let Some(outcome) = outcomes.next().await {
            tally.record(outcome);
        }
        drop(outcomes);
        let mut report = HardenReport::new(FUNCTION.as_str(), self.dry_run);
        let mut metrics = Metrics::new(FUNCTION.as_str());
        tally.finish(&mut report, &mut metrics);
        self.describe_scope(&mut report);
        self.write_coverage(&mut report);
        (report, metrics)
    }

    /// The managed prefixes in the report, and why a `ROOT` rule manages nothing.
    fn describe_scope(&self, report: &mut HardenReport) {
        report.details.managed_prefixes = Some(self.managed.as_slice().to_vec());
        if self.managed.root_rule_not_managed() {
            report.details.root_rule = Some(
                "a `ROOT` pull-through cache rule manages no repository unless `hardening.prefixes` names `ROOT`; then only repositories the cache created are written".to_owned(),
            );
        }
    }

    async fn harden_named(&self, name: String, provenance: Provenance) -> Outcome {
        let coverage = self.managed.coverage(&name);
        if coverage == Coverage::NotManaged {
            return skipped(name, SkipReason::OutsideManagedPrefixes);
        }
        let desired = Desired::for_repository(self.config, &name);
        self.within_budget(name.clone(), async {
            match (coverage, provenance) {
                (Coverage::IfCacheCreated, Provenance::Unknown) => {
                    match self.registry.repository(&name).await {
                        Ok(Some(repository)) => {
                            self.harden_if_cache_created(repository, desired).await
                        }
                        Ok(None) => Outcome::Gone { name },
                        Err(error) => self.conclude(name, desired, Err(error)).await,
                    }
                }
                (Coverage::IfCacheCreated, Provenance::CacheCreated) => {
                    info!(repository = %name, "created by the pull-through cache under `ROOT`; marked as the cache's");
                    let desired = desired.marking_origin();
                    let observation =
                        observe::describe(self.registry, &name, desired.reads()).await;
                    self.conclude(name.clone(), desired, observation).await
                }
                _ => {
                    let observation =
                        observe::describe(self.registry, &name, desired.reads()).await;
                    self.conclude(name.clone(), desired, observation).await
                }
            }
        })
        .await
    }

    async fn harden_listed(&self, repository: Repository) -> Outcome {
        let name = repository.name.clone();
        let coverage = self.managed.coverage(&name);
        if coverage == Coverage::NotManaged {
            return skipped(name, SkipReason::OutsideManagedPrefixes);
        }
        let desired = Desired::for_repository(self.config, &name);
        self.within_budget(name.clone(), async {
            if coverage == Coverage::IfCacheCreated {
                return self.harden_if_cache_created(repository, desired).await;
            }
            let observation = observe::observe(self.registry, repository, desired.reads()).await;
            self.conclude(name.clone(), desired, observation).await
        })
        .await
    }

    /// Under an opted-in `ROOT` only: hardens the repository if its tags show the cache created
    /// it, else leaves it alone (an application repository of the same registry).
    async fn harden_if_cache_created(
        &self,
        repository: Repository,
        desired: Desired<'_>,
    ) -> Outcome {
        let name = repository.name.clone();
        let tags = match self.registry.tags(&repository.arn).await {
            Ok(tags) => tags,
            Err(error) if observe::is_gone(&error) => return Outcome::Gone { name },
            Err(error) => return self.conclude(name, desired, Err(error)).await,
        };
        if !tagged_as_cache_created(&tags) {
            return skipped(name, SkipReason::NotCreatedByTheCache);
        }
        let desired = desired.marking_origin();
        let observation =
            observe::observe_knowing_tags(self.registry, repository, desired.reads(), Some(tags))
                .await;
        self.conclude(name, desired, observation).await
    }

    /// Cuts the work on one repository short of the deadline, so the run still reports.
    async fn within_budget(&self, name: String, work: impl Future<Output = Outcome>) -> Outcome {
        match self.deadline.remaining() {
            None => work.await,
            Some(left) => {
                let budget = left.saturating_sub(FINISH_RESERVE);
                match tokio::time::timeout(budget, work).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        warn!(repository = %name, "out of time while hardening");
                        Outcome::OutOfTime { name }
                    }
                }
            }
        }
    }

    async fn conclude(
        &self,
        name: String,
        desired: Desired<'_>,
        observation: Result<Observation, AwsError>,
    ) -> Outcome {
        let profile = desired.profile_name().to_owned();
        // Tags are read when the profile manages them (or to tell the cache's own under `ROOT`);
        // otherwise they are read only before a write, below.
        let mut tags_known = desired.reads().tags;
        let observed = match observation {
            Ok(Observation::Found(observed)) if opted_out(&observed.tags) => {
                return skipped(name, SkipReason::OptedOut);
            }
            Ok(Observation::Found(mut observed)) => {
                tags_known |= !observed.tags.is_empty();
                match self.scanning_of(&name, desired.reads()).await {
                    Ok(scanning) => observed.scanning = scanning,
                    Err(error) if observe::is_gone(&error) => return Outcome::Gone { name },
                    Err(error) => {
                        warn!(repository = %name, error = %error, "scanning could not be read");
                        return Outcome::Failed {
                            name,
                            profile,
                            error,
                        };
                    }
                }
                observed
            }
            Ok(Observation::Gone) => {
                info!(repository = %name, "repository does not exist; nothing to harden");
                return Outcome::Gone { name };
            }
            Err(error) => {
                warn!(repository = %name, error = %error, "repository could not be observed");
                return Outcome::Failed {
                    name,
                    profile,
                    error,
                };
            }
        };
        let mut plan = plan::plan(&desired, &observed);
        if !self.report_unresolvable {
            plan.findings.retain(|(kind, _)| !kind.resolved_by_hand());
        }
        // Only a repository that differs asks the state store: a compliant sweep makes no call.
        if !self.dry_run && !plan.changes.is_empty() {
            let planned: Vec<&'static str> = plan
                .changes
                .iter()
                .map(|change| change.setting.as_str())
                .collect();
            if let Some(acceptance) = &self.acceptance {
                acceptance.apply(&name, &mut plan).await;
            }
            if let (Some(flap), false) = (&self.flap, plan.changes.is_empty()) {
                flap.limit(&name, &mut plan).await;
            }
            forget_replaced(&mut plan, &planned);
        }
        let arn = observed.repository.arn.clone();
        if !tags_known && !plan.changes.is_empty() {
            // One read before the first write, never on a compliant repository: its owners may
            // have opted it out.
            match self.registry.tags(&arn).await {
                Ok(tags) if opted_out(&tags) => return skipped(name, SkipReason::OptedOut),
                Ok(_) => {}
                Err(error) if observe::is_gone(&error) => return Outcome::Gone { name },
                Err(error) => {
                    warn!(repository = %name, error = %error, "tags could not be read before a write");
                    return Outcome::Failed {
                        name,
                        profile,
                        error,
                    };
                }
            }
        }
        let settings: Vec<&str> = plan.changes.iter().map(|c| c.setting.as_str()).collect();
        if plan.is_compliant() {
            debug!(repository = %name, profile = %profile, "compliant");
        } else {
            info!(
                repository = %name,
                profile = %profile,
                dry_run = self.dry_run,
                settings = ?settings,
                n_findings = plan.findings.len(),
                "drift found"
            );
        }
        let applied = if self.dry_run {
            None
        } else if plan.changes.is_empty() {
            Some(Vec::new())
        } else {
            let (applied, gone) = apply::apply(self.registry, &name, &arn, &plan.changes).await;
            for (change, result) in plan.changes.iter().zip(&applied) {
                match result {
                    apply::Applied::Written => info!(
                        repository = %name,
                        setting = change.setting.as_str(),
                        "setting changed"
                    ),
                    apply::Applied::Failed(error) => warn!(
                        repository = %name,
                        setting = change.setting.as_str(),
                        error = %error,
                        "setting could not be changed"
                    ),
                    apply::Applied::NotAttempted => {}
                }
            }
            if gone {
                info!(repository = %name, "repository disappeared while it was being hardened");
                return Outcome::Gone { name };
            }
            Some(applied)
        };
        let verified = self
            .verify_scan_on_push(&name, &desired, &observed, &mut plan, applied.as_deref())
            .await;
        self.record_coverage(
            &name,
            &desired,
            verified.as_ref().or(observed.scanning.as_ref()),
            &plan,
            applied.as_deref(),
        );
        Outcome::Hardened {
            name,
            arn,
            profile,
            plan,
            applied,
        }
    }
}

impl<P: PortSet> Hardener<'_, P> {
    /// After the deprecated per-repository scan on push was written, reads the effective
    /// scanning again: whether a repository's own flag still counts beside a registry
    /// configuration is not something AWS documents, so the run says when it did not.
    async fn verify_scan_on_push(
        &self,
        name: &str,
        desired: &Desired<'_>,
        observed: &plan::Observed,
        plan: &mut plan::Plan,
        applied: Option<&[apply::Applied]>,
    ) -> Option<EffectiveScanning> {
        let written = scan_on_push_written(plan, applied)?;
        let mut answered = match self
            .scanning
            .api
            .repositories(std::slice::from_ref(&name.to_owned()))
            .await
        {
            Ok(answered) => answered,
            Err(error) => {
                warn!(repository = %name, error = %error, "scanning could not be read back");
                return None;
            }
        };
        let effective = answered.found.remove(name)?;
        if effective.scanned_on_push() != written {
            plan.findings.push((
                plan::FindingKind::ScanSettingIgnored,
                findings::scan_setting_ignored_finding(desired, &observed.repository, &effective),
            ));
        }
        Some(effective)
    }

    /// How the repository is scanned on push after this run's writes.
    fn record_coverage(
        &self,
        name: &str,
        desired: &Desired<'_>,
        scanning: Option<&EffectiveScanning>,
        plan: &plan::Plan,
        applied: Option<&[apply::Applied]>,
    ) {
        let wanted = desired.profile.scan_on_push;
        let written = scan_on_push_written(plan, applied);
        let covered = match (scanning, written) {
            (Some(effective), _) if effective.by_registry() && effective.scanned_on_push() => {
                Covered::ByRegistry
            }
            // Read back after the write (or not readable: the write is taken at its word).
            (Some(effective), _) if effective.scanned_on_push() => Covered::ByRepositorySetting,
            (Some(effective), _) => Covered::No {
                scan_frequency: effective.scan_frequency.clone(),
            },
            (None, Some(true)) => Covered::ByRepositorySetting,
            (None, Some(false)) => Covered::No {
                scan_frequency: crate::domain::scanning::MANUAL.to_owned(),
            },
            (None, None) => Covered::NotChecked,
        };
        lock(&self.scanning.coverage).record(name, desired.profile_name(), wanted, covered);
    }
}

fn skipped(name: String, reason: SkipReason) -> Outcome {
    if reason == SkipReason::OptedOut {
        info!(repository = %name, reason = reason.describe(), "opted out; left as it is");
        return Outcome::Skipped { name, reason };
    }
    debug!(repository = %name, reason = reason.describe(), "not ours; skipped");
    Outcome::Skipped { name, reason }
}

/// A failed pull-through sync (`sync-status` other than `SUCCESS`): the image could not be
/// fetched from the upstream, so whoever pulls it gets an error or a stale copy.
/// The trigger of a pull-through cache sync event.
fn sync_trigger(action: &PullThroughCacheAction) -> Trigger {
    Trigger::PullThroughCacheAction {
        repository: action.repository_name.clone(),
        sync: action.sync.clone(),
        image_tag: action.image_tag.clone(),
    }
}

fn pull_failure_finding(action: &PullThroughCacheAction) -> Option<Finding> {
    let SyncStatus::Failed {
        status,
        failure_code,
        failure_reason,
    } = &action.sync
    else {
        return None;
    };
    let name = &action.repository_name;
    let image = match (&action.image_tag, &action.image_digest) {
        (Some(tag), _) => format!("{name}:{tag}"),
        (None, Some(digest)) => format!("{name}@{digest}"),
        (None, None) => name.clone(),
    };
    let code = failure_code.as_deref().unwrap_or(status);
    let reason = failure_reason.as_deref().unwrap_or("ECR gave no reason");
    let upstream = &action.upstream_registry_url;
    let prefix = &action.ecr_repository_prefix;
    // `arn:aws:ecr:<region>:<account>:repository/<name>`: the region the rule lives in.
    let region = action
        .repository_arn
        .as_deref()
        .and_then(|arn| arn.split(':').nth(3))
        .filter(|region| !region.is_empty());
    let mut finding = Finding::new(
        Severity::Warning,
        Check::UpstreamPull,
        name,
        format!("upstream pull failed for `{image}` from `{upstream}`"),
        format!(
            "ECR could not sync `{image}` through cache rule `{prefix}` from `{upstream}`: {}: {reason}; pulls of it fail, or get the copy cached before",
            // The event's failure code, as ECR wrote it (an outside value, so a code span
            // that holds whatever it holds).
            crate::domain::markdown::code(code)
        ),
    )
    .with_next_steps([
        format!(
            "validate the rule: `{}`",
            crate::remedies::validate_rule_command(prefix, region)
        ),
        format!("check that the image exists upstream and that the rule's credential can read it (path under `{upstream}` as `{name}` maps it)"),
    ]);
    if let Some(arn) = &action.repository_arn {
        finding = finding.with_resource_arn(arn);
    }
    Some(finding)
}

fn invalid_request(request: &HardenRequest, problem: &str) -> Error {
    let mut keys = vec![match request.target {
        HardenTarget::Repositories(_) => "repositories".to_owned(),
        HardenTarget::Sweep => "sweep".to_owned(),
        HardenTarget::Usage => "usage".to_owned(),
    }];
    if request.cursor.is_some() {
        keys.push("cursor".to_owned());
    }
    let n_keys = keys.len();
    Error::InvalidEvent(EventError::InvalidRequest {
        function: FUNCTION,
        received: Received::Object { keys, n_keys },
        problem: problem.to_owned(),
    })
}

/// The scan-on-push value this run wrote, if it wrote one.
fn scan_on_push_written(plan: &plan::Plan, applied: Option<&[apply::Applied]>) -> Option<bool> {
    plan.changes
        .iter()
        .zip(applied.unwrap_or_default())
        .find_map(|(change, result)| match (&change.write, result) {
            (plan::Write::ScanOnPush(value), apply::Applied::Written) => Some(*value),
            _ => None,
        })
}
