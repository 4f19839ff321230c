//! Whether a tag is in the cache already, before the pre-warmer pulls it ([`super::ecr::Ecr`]'s
//! `cached_image`).
//!
//! `DescribeImages` answers that for one tag without taking part in the pull-through (it never
//! reaches the upstream and does not touch `lastRecordedPullTime`), so a cached image costs one
//! read and no pull. `DescribeRepositories` would cost the same call but only tell whether the
//! repository exists, which calls a new tag of a cached repository cached.
//!
//! `delete_tag` removes one tag from a cache repository (`BatchDeleteImage` by tag), so that the
//! next pull fetches the upstream's current image: the refresh of a stale tag.

use aws_sdk_ecr::types::ImageIdentifier;

use super::ecr::Ecr;
use super::{to_chrono, AwsError};
use crate::ports::CachedImage;

impl Ecr {
    /// The image `repository:tag`, `None` when the repository or the tag is not there.
    pub async fn cached_image(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<CachedImage>, AwsError> {
        let output = match self
            .unpaced()
            .describe_images()
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                let error = AwsError::from_sdk("ecr:DescribeImages", Some(repository), error);
                // `RepositoryNotFoundException` and `ImageNotFoundException`.
                return if error.is_not_found() {
                    Ok(None)
                } else {
                    Err(error)
                };
            }
        };
        Ok(output
            .image_details
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(|detail| CachedImage {
                digest: detail.image_digest,
                media_type: detail.image_manifest_media_type,
                pushed_at: to_chrono(detail.image_pushed_at.as_ref()),
            }))
    }

    /// Deletes the tag `repository:tag` (`BatchDeleteImage` by tag: the image loses this tag,
    /// and goes when it has no other). A tag already gone (`ImageNotFound`) is deleted.
    pub async fn delete_tag(&self, repository: &str, tag: &str) -> Result<(), AwsError> {
        let operation = "ecr:BatchDeleteImage";
        let output = self
            .paced("BatchDeleteImage")
            .await
            .batch_delete_image()
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .send()
            .await
            .map_err(|error| AwsError::from_sdk(operation, Some(repository), error))?;
        // Failure codes (ECR API reference, ImageFailure): `ImageNotFound` means nothing is left
        // to delete; any other means the tag is still there.
        match output.failures().iter().find(|failure| {
            failure.failure_code().map(|code| code.as_str()) != Some("ImageNotFound")
        }) {
            None => Ok(()),
            Some(failure) => Err(AwsError::item_failure(
                operation,
                Some(repository),
                failure
                    .failure_code()
                    .map_or("unknown", |code| code.as_str()),
                failure.failure_reason().unwrap_or("no reason given"),
            )),
        }
    }
}
