//! validate-cache-rules: validate every pull-through cache rule and cross-check its secret.
