//! check-credentials: format, expiry, age and use of the upstream credential secrets.
