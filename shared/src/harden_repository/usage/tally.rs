//! What the cache holds, counted: per repository from its images, per prefix from its
//! repositories, and the estimated monthly storage cost. Pure: the counting run reads, this
//! adds up.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::ports::StoredImage;

/// Bytes in the GB that ECR storage is billed by (2^30: 1 TB-month at $0.10 is $102.40).
pub const BYTES_PER_GB: f64 = 1_073_741_824.0;
/// How many repositories the largest list names.
pub const N_LARGEST: usize = 10;

/// How the count judges use and prices storage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    pub now: DateTime<Utc>,
    /// An image not pulled (nor, never pulled, pushed) in this many days is unused.
    pub unused_days: u32,
    pub price_per_gb_month: f64,
    pub archive_price_per_gb_month: f64,
}

impl Measure {
    /// Used at or after this instant is used.
    pub fn cutoff(&self) -> DateTime<Utc> {
        self.now - Duration::days(i64::from(self.unused_days))
    }

    /// USD a month for `bytes` of standard and `archived_bytes` of archive storage.
    #[allow(clippy::cast_precision_loss)]
    pub fn monthly_cost(&self, bytes: u64, archived_bytes: u64) -> f64 {
        (bytes as f64 * self.price_per_gb_month
            + archived_bytes as f64 * self.archive_price_per_gb_month)
            / BYTES_PER_GB
    }
}

/// Whether an image was used since the cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageUse {
    Used,
    Unused,
    /// Neither a pull time nor a push time.
    Unknown,
}

/// The last pull, else (never pulled) the push: a cached image is pushed by its first pull.
pub fn last_used(image: &StoredImage) -> Option<DateTime<Utc>> {
    image.last_pulled_at.or(image.pushed_at)
}

pub fn image_use(image: &StoredImage, cutoff: DateTime<Utc>) -> ImageUse {
    match last_used(image) {
        Some(at) if at >= cutoff => ImageUse::Used,
        Some(_) => ImageUse::Unused,
        None => ImageUse::Unknown,
    }
}

/// One repository, counted.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RepositoryUsage {
    pub repository: String,
    /// The managed prefix it is counted under.
    pub prefix: String,
    pub n_images: u64,
    /// Standard storage: the `imageSizeInBytes` of its active images.
    pub bytes: u64,
    /// Archive storage: the `imageSizeInBytes` of its archived images (0 when not read).
    pub archived_bytes: u64,
    /// Images without `imageSizeInBytes`: their bytes are unknown, not zero.
    pub n_images_without_size: u64,
    pub n_unused_images: u64,
    /// Images with neither a pull nor a push time.
    pub n_images_without_time: u64,
    /// The latest pull (or push, never pulled) of any image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// No image used since the cutoff; `None` when that is unknown (an image without times, or
    /// an empty repository without a creation time).
    pub unused: Option<bool>,
}

/// Counts one repository's images. An empty repository is unused when it was created before
/// the cutoff (the cache creates a repository with its first image; a lifecycle policy may have
/// expired them all since).
pub fn repository_usage(
    repository: &str,
    prefix: &str,
    created_at: Option<DateTime<Utc>>,
    images: &[StoredImage],
    cutoff: DateTime<Utc>,
) -> RepositoryUsage {
    let mut counted = RepositoryUsage {
        repository: repository.to_owned(),
        prefix: prefix.to_owned(),
        n_images: 0,
        bytes: 0,
        archived_bytes: 0,
        n_images_without_size: 0,
        n_unused_images: 0,
        n_images_without_time: 0,
        last_used_at: None,
        unused: None,
    };
    let mut n_used = 0u64;
    for image in images {
        counted.n_images += 1;
        match (image.size_in_bytes, image.archived) {
            (Some(size), false) => counted.bytes = counted.bytes.saturating_add(size),
            (Some(size), true) => {
                counted.archived_bytes = counted.archived_bytes.saturating_add(size);
            }
            (None, _) => counted.n_images_without_size += 1,
        }
        match image_use(image, cutoff) {
            ImageUse::Used => n_used += 1,
            ImageUse::Unused => counted.n_unused_images += 1,
            ImageUse::Unknown => counted.n_images_without_time += 1,
        }
        counted.last_used_at = counted.last_used_at.max(last_used(image));
    }
    counted.unused = if n_used > 0 {
        Some(false)
    } else if counted.n_images_without_time > 0 {
        None
    } else if images.is_empty() {
        created_at.map(|created| created < cutoff)
    } else {
        Some(true)
    };
    counted
}

/// A repository that could not be counted, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct UncountedRepository {
    pub repository: String,
    pub prefix: String,
    /// `deleted during the count`, or the error of the listing (throttling after retries…).
    pub reason: String,
}

/// One prefix (or every prefix) added up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PrefixUsage {
    pub prefix: String,
    /// Repositories counted (the uncounted ones apart).
    pub n_repositories: u64,
    pub n_images: u64,
    pub bytes: u64,
    pub archived_bytes: u64,
    /// Estimated USD a month for `bytes` and `archived_bytes`, at the configured prices.
    pub monthly_cost_usd: f64,
    pub n_unused_repositories: u64,
    pub n_unused_images: u64,
    /// Repositories whose use is unknown (see `RepositoryUsage.unused`).
    pub n_repositories_of_unknown_use: u64,
    pub n_images_without_size: u64,
    pub n_images_without_time: u64,
    /// Repositories listed but not counted (deleted meanwhile, a failed listing).
    pub n_uncounted_repositories: u64,
}

impl PrefixUsage {
    fn add(&mut self, repository: &RepositoryUsage) {
        self.n_repositories += 1;
        self.n_images += repository.n_images;
        self.bytes = self.bytes.saturating_add(repository.bytes);
        self.archived_bytes = self
            .archived_bytes
            .saturating_add(repository.archived_bytes);
        self.n_images_without_size += repository.n_images_without_size;
        self.n_images_without_time += repository.n_images_without_time;
        self.n_unused_images += repository.n_unused_images;
        match repository.unused {
            Some(true) => self.n_unused_repositories += 1,
            Some(false) => {}
            None => self.n_repositories_of_unknown_use += 1,
        }
    }
}

/// A repository none of whose images was used since the cutoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct UnusedRepository {
    pub repository: String,
    pub prefix: String,
    pub n_images: u64,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What the cache holds: the count's answer.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct UsageDetails {
    pub counted_at: DateTime<Utc>,
    pub unused_days: u32,
    pub price_per_gb_month: f64,
    pub archive_price_per_gb_month: f64,
    /// Whether archived images were listed (one more `DescribeImages` per repository).
    pub archived_counted: bool,
    /// One entry per prefix counted, in prefix order.
    pub prefixes: Vec<PrefixUsage>,
    /// Every prefix together (`prefix` is `*`).
    pub total: PrefixUsage,
    /// The largest repositories by bytes (standard and archive), at most ten.
    pub largest: Vec<RepositoryUsage>,
    pub unused_repositories: Vec<UnusedRepository>,
    pub uncounted: Vec<UncountedRepository>,
    /// What the figures leave out, in words.
    pub notes: Vec<String>,
}

/// Adds up the counted repositories under `prefixes` (each one present, even when empty).
pub fn summarize(
    measure: &Measure,
    prefixes: &[String],
    archived_counted: bool,
    counted: Vec<RepositoryUsage>,
    uncounted: Vec<UncountedRepository>,
) -> UsageDetails {
    let mut by_prefix: Vec<PrefixUsage> = prefixes
        .iter()
        .map(|prefix| PrefixUsage {
            prefix: prefix.clone(),
            ..PrefixUsage::default()
        })
        .collect();
    by_prefix.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    let mut total = PrefixUsage {
        prefix: "*".to_owned(),
        ..PrefixUsage::default()
    };
    let mut unused_repositories = Vec::new();
    for repository in &counted {
        total.add(repository);
        if let Some(entry) = by_prefix.iter_mut().find(|p| p.prefix == repository.prefix) {
            entry.add(repository);
        }
        if repository.unused == Some(true) {
            unused_repositories.push(UnusedRepository {
                repository: repository.repository.clone(),
                prefix: repository.prefix.clone(),
                n_images: repository.n_images,
                bytes: repository.bytes.saturating_add(repository.archived_bytes),
                last_used_at: repository.last_used_at,
            });
        }
    }
    for missing in &uncounted {
        total.n_uncounted_repositories += 1;
        if let Some(entry) = by_prefix.iter_mut().find(|p| p.prefix == missing.prefix) {
            entry.n_uncounted_repositories += 1;
        }
    }
    for entry in by_prefix.iter_mut().chain(std::iter::once(&mut total)) {
        entry.monthly_cost_usd = measure.monthly_cost(entry.bytes, entry.archived_bytes);
    }
    unused_repositories.sort_by(|a, b| a.repository.cmp(&b.repository));
    let mut uncounted = uncounted;
    uncounted.sort_by(|a, b| a.repository.cmp(&b.repository));
    let notes = notes(&total, archived_counted);
    let mut largest = counted;
    largest.sort_by(|a, b| {
        let size = |r: &RepositoryUsage| r.bytes.saturating_add(r.archived_bytes);
        size(b)
            .cmp(&size(a))
            .then_with(|| a.repository.cmp(&b.repository))
    });
    largest.truncate(N_LARGEST);
    UsageDetails {
        counted_at: measure.now,
        unused_days: measure.unused_days,
        price_per_gb_month: measure.price_per_gb_month,
        archive_price_per_gb_month: measure.archive_price_per_gb_month,
        archived_counted,
        prefixes: by_prefix,
        total,
        largest,
        unused_repositories,
        uncounted,
        notes,
    }
}

/// The unknowns, said once each for the whole count.
fn notes(total: &PrefixUsage, archived_counted: bool) -> Vec<String> {
    let mut notes = Vec::new();
    if total.n_uncounted_repositories > 0 {
        notes.push(format!(
            "{} repositories could not be counted (see `uncounted`): the totals leave them out",
            total.n_uncounted_repositories
        ));
    }
    if total.n_images_without_size > 0 {
        notes.push(format!(
            "{} images have no `imageSizeInBytes`: their bytes are unknown and not in the totals",
            total.n_images_without_size
        ));
    }
    if total.n_images_without_time > 0 {
        notes.push(format!(
            "{} images have neither a pull nor a push time: their use is unknown",
            total.n_images_without_time
        ));
    }
    if !archived_counted {
        notes.push(
            "archived images were not listed (`--archived` lists them: one more `DescribeImages` per repository)"
                .to_owned(),
        );
    }
    notes.push(
        "bytes are the sum of `imageSizeInBytes`: layers shared by images are counted once per image, so ECR may bill less"
            .to_owned(),
    );
    notes
}
