//! The typed problems of hardening: what a plan found that a write does not settle, and the
//! kinds a report groups findings by. `plan` decides them, `findings` words them; neither
//! imports the other's internals. Pure.

use serde_json::Value;

use crate::domain::PublicStatement;

/// Why a finding was raised, so a run with many alike can report them as one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    EncryptionDrift,
    ImmutableTags,
    PublicPolicyRefused,
    PublicPolicyFound,
    /// A policy the repository had is replaced, and rules or statements of it are lost.
    PolicyReplaced,
    /// The profile turns scan on push off, but a registry scanning filter scans it on push.
    ScannedByRegistry,
    /// The per-repository scan on push was written, and the effective scanning read back
    /// did not change (the registry configuration decides).
    ScanSettingIgnored,
    /// A setting was restored `max_restorations` times within the window and changed again:
    /// not restored until the window ends (the window's one critical alert).
    FlapLimitReached,
    /// Changed again after the flap limit was reached: not restored, already alerted.
    FlapLimitHeld,
    /// A change by a caller of `hardening.drift.ignore_callers`: accepted, not restored.
    ChangeAccepted,
    /// A value an ignored caller set, still in place: left as it is.
    ValueAccepted,
}

impl FindingKind {
    /// Findings no run of hardening resolves, so they come back unchanged every time the
    /// repository is looked at: encryption cannot change in place, and an `IMMUTABLE` profile is
    /// the configuration's own choice. (A public policy is never in this set.)
    pub fn resolved_by_hand(&self) -> bool {
        matches!(
            self,
            FindingKind::EncryptionDrift
                | FindingKind::ImmutableTags
                | FindingKind::ScannedByRegistry
                | FindingKind::ScanSettingIgnored
        )
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            FindingKind::EncryptionDrift => "encryption-drift",
            FindingKind::ImmutableTags => "immutable-tags",
            FindingKind::PublicPolicyRefused => "public-policy-refused",
            FindingKind::PublicPolicyFound => "public-policy-found",
            FindingKind::PolicyReplaced => "policy-replaced",
            FindingKind::ScannedByRegistry => "scanned-by-registry",
            FindingKind::ScanSettingIgnored => "scan-setting-ignored",
            FindingKind::FlapLimitReached => "flap-limit-reached",
            FindingKind::FlapLimitHeld => "flap-limit-held",
            FindingKind::ChangeAccepted => "change-accepted",
            FindingKind::ValueAccepted => "value-accepted",
        }
    }
}

/// What planning found that a write does not settle (or must not). Decided by `plan`, without
/// prose; `findings` words each one.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// A policy is replaced wholesale and loses entries someone put there.
    PolicyReplaced {
        /// `lifecycle policy` or `repository policy`.
        what: &'static str,
        /// `rule` or `statement`.
        entry: &'static str,
        removed: Vec<Value>,
    },
    /// The profile turns scan on push off, but a registry filter scans the repository.
    ScannedByRegistry { applied_filters: Vec<String> },
    /// Plain `IMMUTABLE` on a cache repository.
    ImmutableTags,
    /// The profile's repository policy is public and the profile does not allow it.
    PublicPolicyRefused {
        /// Where the policy comes from (`policies/open.json`).
        origin: String,
        statements: Vec<PublicStatement>,
    },
    /// The repository's own policy is public and no profile policy replaces it.
    PublicPolicyFound { statements: Vec<PublicStatement> },
    /// Encryption differs; ECR cannot change it after creation.
    EncryptionDrift { expected: String },
    /// The repository's own scan-on-push flag is set, and ECR reports it not scanned on push
    /// (`scan_frequency`): only the registry scanning configuration can change that.
    OwnFlagNotEffective { scan_frequency: String },
}

impl Problem {
    pub fn kind(&self) -> FindingKind {
        match self {
            Problem::PolicyReplaced { .. } => FindingKind::PolicyReplaced,
            Problem::ScannedByRegistry { .. } => FindingKind::ScannedByRegistry,
            Problem::ImmutableTags => FindingKind::ImmutableTags,
            Problem::PublicPolicyRefused { .. } => FindingKind::PublicPolicyRefused,
            Problem::PublicPolicyFound { .. } => FindingKind::PublicPolicyFound,
            Problem::EncryptionDrift { .. } => FindingKind::EncryptionDrift,
            Problem::OwnFlagNotEffective { .. } => FindingKind::ScanSettingIgnored,
        }
    }
}
