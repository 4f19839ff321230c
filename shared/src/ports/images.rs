//! What `DescribeImages` tells of a repository's images, for counting what the cache holds.

use chrono::{DateTime, Utc};

/// Images one `DescribeImages` page holds at most (botocore ecr model, `MaxResults`: 1 to 1000).
/// The default is 100: asking for the most makes a repository of up to 1,000 images one call.
pub const MAX_IMAGES_PER_PAGE: i32 = 1000;

/// Which storage class a listing asks for. `DescribeImages` answers the active images unless
/// its filter names another status (`DescribeImagesFilter.imageStatus`: `ACTIVE`, `ARCHIVED`,
/// `ACTIVATING`), so archived images cost a listing of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageStorage {
    Active,
    Archived,
}

impl ImageStorage {
    /// The `imageStatus` filter value.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageStorage::Active => "ACTIVE",
            ImageStorage::Archived => "ARCHIVED",
        }
    }
}

/// One image of a repository as `DescribeImages` describes it (`ImageDetail`). Every field is
/// optional in the API; a missing one is counted as unknown, never guessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    pub digest: Option<String>,
    pub tags: Vec<String>,
    /// `imageSizeInBytes`: the compressed layers (for an index, its largest manifest).
    pub size_in_bytes: Option<u64>,
    pub pushed_at: Option<DateTime<Utc>>,
    /// `lastRecordedPullTime`: refreshed at least once every 24 hours of pulls.
    pub last_pulled_at: Option<DateTime<Utc>>,
    /// `imageStatus` is `ARCHIVED`.
    pub archived: bool,
}

/// One page of a repository's images and where the next starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImagePage {
    pub images: Vec<StoredImage>,
    pub next_token: Option<String>,
}
