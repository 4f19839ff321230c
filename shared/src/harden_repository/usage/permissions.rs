//! What the weekly usage summary needs, granted to `harden-repository` (its function's
//! `PERMISSIONS` lists it): the images of the managed repositories. The repository listing is
//! the sweep's `ecr:DescribeRepositories`. `ptc usage --prune-unused --yes` deletes with an
//! operator's credentials (`ecr:DeleteRepository`), which no deployed role has.

use crate::domain::permissions::{Permission, Scope};

pub const DESCRIBE_IMAGES: Permission = Permission::new(
    "ecr:DescribeImages",
    Scope::ManagedRepositories,
    "the weekly usage summary lists the images of each managed repository (sizes, pull times)",
);
