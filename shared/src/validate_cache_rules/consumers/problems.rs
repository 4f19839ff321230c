//! What the consumer doctor can find wrong, as data: the [`ConsumerProblem`]s of a run (one per
//! broken policy, unreadable input or unchecked source registry), the [`RoleProblem`]s of a
//! rule's custom role, and the [`Reason`] a check of a cell is `unknown` or `missing`.
//! `assess` and `upstream_role` decide them; `findings` words them.

use super::facts::{MissingGrant, PolicySource};
use crate::domain::iam::TrustProblem;
use crate::domain::Severity;

/// What keeps first pulls from working, or leaves them unknown: one problem per broken policy
/// (the rules' own cells for the registry policy, one per profile for the repository policy,
/// one per principal for its IAM policies), decided by `assess::judge` without prose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerProblem {
    /// `GetRegistryPolicy` failed: the error.
    RegistryPolicyUnread { error: String },
    /// The registry permissions policy cannot be evaluated: where it is malformed.
    RegistryPolicyMalformed { problems: Vec<String> },
    /// The registry permissions policy (or its absence) keeps first pulls from working.
    RegistryPolicyRefuses {
        /// The registry has no permissions policy at all.
        absent: bool,
        /// The consumers and rule prefixes whose first pull fails.
        failing: Vec<ConsumerPrefix>,
        /// What to grant, one per prefix whose consumers lack a grant no `Deny` takes away.
        grants: Vec<RegistryGrant>,
        /// The `Deny` statements that take a grant away, as met (repeats included).
        denials: Vec<Denial>,
    },
    /// The repository policy of a profile keeps consumers from pulling.
    RepositoryPolicyRefuses {
        /// The profile's name: its prefix, or `default`.
        profile: String,
        failing: Vec<ConsumerPrefix>,
        /// Where the failing repositories' policy comes from ([`PolicySource::describe`]),
        /// sorted, without repeats.
        sources: Vec<String>,
        /// The principals that lack a grant no `Deny` takes away, as a policy names them,
        /// sorted, without repeats.
        principals: Vec<String>,
        /// The `Deny` statements that take a grant away, as met (repeats included).
        denials: Vec<Denial>,
    },
    /// The IAM policies of a principal of the registry's account keep its first pulls from
    /// working (with the resource policies: either may grant, a `Deny` in either takes away).
    IdentityRefuses {
        consumer: String,
        /// The prefixes whose first pull fails, one per failing cell.
        prefixes: Vec<String>,
        /// The repository actions no policy grants, in the order met.
        actions: Vec<String>,
        /// The repositories they are needed on (`repository/<prefix>/*`).
        resources: Vec<String>,
        /// `ecr:GetAuthorizationToken` is not granted.
        token: bool,
        /// The `Deny` statements that take a grant away, as met (repeats included).
        denials: Vec<Denial>,
    },
    /// Some IAM simulations could not run: those principals stay `unknown`.
    SimulationsFailed { failures: Vec<SimulationFailure> },
    /// The source registry of an ECR-to-ECR rule must let the cache in; its registry policy
    /// lives in another account and is not read.
    SourceRegistryUnchecked {
        rule: String,
        /// `<account>.dkr.ecr.<region>.amazonaws.com`
        host: String,
        account: String,
        region: String,
        /// Who pulls from it: the rule's custom role, or the cache's account.
        principal: String,
        /// The upstream repositories (`repository/<upstream prefix>/*`).
        repositories: String,
    },
    /// The custom role of an ECR-to-ECR rule.
    UpstreamRole {
        rule: String,
        role: String,
        problem: RoleProblem,
    },
}

impl ConsumerProblem {
    pub fn severity(&self) -> Severity {
        match self {
            ConsumerProblem::RegistryPolicyRefuses { .. }
            | ConsumerProblem::RepositoryPolicyRefuses { .. }
            | ConsumerProblem::IdentityRefuses { .. } => Severity::Critical,
            ConsumerProblem::RegistryPolicyUnread { .. }
            | ConsumerProblem::RegistryPolicyMalformed { .. }
            | ConsumerProblem::SimulationsFailed { .. } => Severity::Warning,
            ConsumerProblem::SourceRegistryUnchecked { .. } => Severity::Info,
            ConsumerProblem::UpstreamRole { problem, .. } => problem.severity(),
        }
    }
}

/// A consumer and the prefix it pulls through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerPrefix {
    pub consumer: String,
    pub prefix: String,
}

/// What the registry permissions policy must grant for one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryGrant {
    pub prefix: String,
    /// `repository/<prefix>/*`
    pub resource: String,
    /// As a policy names them, sorted, without repeats.
    pub principals: Vec<String>,
}

/// A `Deny` statement that takes a grant away from a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The statement, as the policy evaluation names it.
    pub statement: String,
    pub action: String,
    pub resource: String,
    pub consumer: String,
}

/// A principal whose IAM simulation could not run, and the first reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationFailure {
    pub principal: String,
    pub why: String,
}

/// What is wrong with a rule's custom role, decided by
/// `upstream_role::assess_upstream_role` without prose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleProblem {
    /// IAM has no such role (`NoSuchEntity`).
    Absent {
        /// What the role must be allowed to pull (`repository/<upstream prefix>/*`).
        upstream_repositories: String,
    },
    /// The role could not be read (or is in another account): why.
    Unchecked { why: Vec<String> },
    /// The trust policy does not let pull through cache assume the role: why.
    Untrusted { why: Vec<String> },
    /// The role's IAM policies do not allow what pulling from the upstream needs.
    MayNotPull {
        upstream_repositories: String,
        missing: Vec<MissingGrant>,
    },
    /// Nothing is missing, but part of the check is `unknown`: why.
    PartlyChecked { unsure: Vec<String> },
}

impl RoleProblem {
    pub fn severity(&self) -> Severity {
        match self {
            RoleProblem::Absent { .. }
            | RoleProblem::Untrusted { .. }
            | RoleProblem::MayNotPull { .. } => Severity::Critical,
            RoleProblem::Unchecked { .. } | RoleProblem::PartlyChecked { .. } => Severity::Warning,
        }
    }
}

/// Why a check is `unknown`, or `missing` for more than the actions it names: the `why` of a
/// `CheckResult`, decided without prose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The consumer is in the registry's account: its own IAM policies may grant what a
    /// resource policy does not.
    SameAccount,
    /// The registry's account id or region is not known.
    RegistryNotKnown,
    NoRegistryPolicy,
    /// `GetRegistryPolicy` failed.
    RegistryPolicyUnread {
        error: String,
    },
    /// The registry permissions policy cannot be evaluated: where it is malformed.
    RegistryPolicyMalformed {
        problems: Vec<String>,
    },
    /// The repository policy of a creation template cannot be evaluated.
    TemplatePolicyMalformed {
        prefix: String,
        problem: String,
    },
    /// New repositories under `prefix` get no repository policy from `source`.
    NoRepositoryPolicy {
        source: PolicySource,
        profile: String,
        prefix: String,
    },
    /// Repositories under `prefix` are encrypted with a KMS key whose policy is not read.
    KmsKey {
        prefix: String,
    },
    /// The consumer is in another account, whose IAM cannot be read; what it needs on
    /// `resource` (the cache repositories when not known).
    IamOfAnotherAccount {
        resource: Option<String>,
    },
    /// The consumer is the registry's own account: each of its principals has its own IAM.
    RegistryAccount {
        resource: Option<String>,
    },
    /// A principal of the registry's account that was not simulated.
    NotSimulated {
        resource: Option<String>,
    },
    /// The principal was simulated, but not for this prefix.
    NotSimulatedForPrefix,
    /// An IAM simulation could not run: why.
    SimulationFailed {
        why: String,
    },
    /// Whether a `Deny` of `policy` applies is not known: why.
    DenyUnsure {
        policy: ResourcePolicyKind,
        why: String,
    },
    /// IAM does not allow `action`; only `policy` does, which is enough only if it names the
    /// principal itself.
    OnlyResourcePolicyGrants {
        action: String,
        policy: ResourcePolicyKind,
    },
    /// IAM does not allow it, and `policy` grants it only perhaps: why.
    ResourcePolicyGrantsPerhaps {
        policy: ResourcePolicyKind,
        why: String,
    },
    /// The upstream of an ECR-to-ECR rule is no ECR registry address.
    NotAnEcrUpstream {
        upstream: String,
    },
    /// A custom role outside the registry's account (`None`: the account is not known).
    RoleInAnotherAccount {
        account: Option<String>,
    },
    /// `GetRole` failed: why.
    RoleUnreadable {
        why: String,
    },
    /// `NoSuchEntity`.
    RoleAbsent,
    /// What is wrong with the trust policy of a custom role.
    Trust(TrustProblem),
}

/// The resource policy a principal of the registry's account may also be granted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourcePolicyKind {
    Registry,
    Repository,
}
