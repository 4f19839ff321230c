//! What `check-credentials` may call: list and read the credential secrets (and decrypt them,
//! through Secrets Manager only, when a customer managed key encrypts them), read the rules that
//! use them, and (with `credentials.write_back`) tag a secret with its discovered expiry, that
//! tag key only. A secret given a new value (a CloudTrail record) is described alone, and the
//! rules that use it are validated with it.

use crate::domain::permissions::{
    Condition, Permission, Scope, Switch, TagKeys, PUBLISH_ALERTS, PUBLISH_ALERTS_DECRYPT,
    PUBLISH_ALERTS_ENCRYPT, REMEMBER_ALERTS,
};

pub const PERMISSIONS: &[Permission] = &[
    Permission::new(
        "secretsmanager:ListSecrets",
        Scope::AnyResource,
        "find the `ecr-pullthroughcache/` secrets; listing has no resource-level permission",
    ),
    Permission::new(
        "secretsmanager:DescribeSecret",
        Scope::CredentialSecrets,
        "a secret given a new value: that secret alone, without listing the others",
    ),
    Permission::new(
        "secretsmanager:GetSecretValue",
        Scope::CredentialSecrets,
        "check each secret's format and ask its upstream for the token's expiry",
    ),
    Permission::new(
        "kms:Decrypt",
        Scope::SecretKeys,
        "`GetSecretValue` on a secret encrypted with a customer managed key",
    )
    .on_condition(Condition::ViaService("secretsmanager")),
    Permission::new(
        "secretsmanager:TagResource",
        Scope::CredentialSecrets,
        "write a discovered expiry back to the expiry tag (`credentials.write_back`)",
    )
    .on_condition(Condition::TagKeys(TagKeys::CredentialExpiry))
    .only_with(Switch::CredentialWriteBack),
    Permission::new(
        "ecr:DescribePullThroughCacheRules",
        Scope::AnyResource,
        "which rules use each secret; IAM has no resource type for rules",
    ),
    Permission::new(
        "ecr:ValidatePullThroughCacheRule",
        Scope::AnyResource,
        "a secret given a new value: validate the rules that use it; IAM has no resource type for rules",
    ),
    PUBLISH_ALERTS,
    PUBLISH_ALERTS_ENCRYPT,
    PUBLISH_ALERTS_DECRYPT,
    REMEMBER_ALERTS,
];
