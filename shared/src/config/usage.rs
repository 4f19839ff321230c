//! `[usage]`: the storage prices the usage count estimates a monthly cost with.

use super::reader::{describe, Problems, Section};

/// Amazon ECR standard storage, USD per GB-month (Amazon ECR pricing,
/// <https://aws.amazon.com/ecr/pricing/>: $0.10 in most regions).
pub const DEFAULT_PRICE_PER_GB_MONTH: f64 = 0.10;
/// Amazon ECR archive storage, USD per GB-month, for the first 150 TB a month (the same page:
/// $0.10 up to 150 TB, $0.07 above).
pub const DEFAULT_ARCHIVE_PRICE_PER_GB_MONTH: f64 = 0.10;

/// Settings of `[usage]`.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageConfig {
    /// USD per GB-month (GB = 2^30 bytes) of standard storage.
    pub price_per_gb_month: f64,
    /// USD per GB-month of archive storage.
    pub archive_price_per_gb_month: f64,
}

/// A price: a positive, finite number (an integer is read as one).
fn parse_price(value: &toml::Value) -> Result<f64, String> {
    let number = match value {
        toml::Value::Float(number) => Some(*number),
        #[allow(clippy::cast_precision_loss)]
        toml::Value::Integer(number) => Some(*number as f64),
        _ => None,
    };
    number
        .filter(|number| number.is_finite() && *number > 0.0)
        .ok_or_else(|| {
            format!(
                "expected a positive number of USD per GB-month like `0.10`, found {}",
                describe(value)
            )
        })
}

pub(crate) fn read_usage(mut section: Section<'_>, problems: &mut Problems) -> Option<UsageConfig> {
    let price = section.read("price_per_gb_month", problems, parse_price);
    let archive_price = section.read("archive_price_per_gb_month", problems, parse_price);
    section.finish(problems);
    Some(UsageConfig {
        price_per_gb_month: price.or(DEFAULT_PRICE_PER_GB_MONTH)?,
        archive_price_per_gb_month: archive_price.or(DEFAULT_ARCHIVE_PRICE_PER_GB_MONTH)?,
    })
}
