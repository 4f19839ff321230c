//! Amazon ECR: the images of a repository, and deleting a repository. SDK types stop here.

use aws_sdk_ecr::types::{DescribeImagesFilter, ImageStatus, ImageStatusFilter};

use super::ecr::Ecr;
use super::{to_chrono, AwsError};
use crate::ports::{
    ImagePage, ImageStorage, StoredImage, MAX_IMAGES_PER_PAGE, REPOSITORY_NOT_FOUND,
};

impl Ecr {
    /// One page of `repository`'s images in `storage`, the largest page ECR serves.
    pub async fn images_page(
        &self,
        repository: &str,
        storage: ImageStorage,
        next_token: Option<String>,
    ) -> Result<ImagePage, AwsError> {
        // No filter asks for the active images (the API's default); only the archive class
        // needs one.
        let filter = match storage {
            ImageStorage::Active => None,
            ImageStorage::Archived => Some(
                DescribeImagesFilter::builder()
                    .image_status(ImageStatusFilter::from(storage.as_str()))
                    .build(),
            ),
        };
        let output = self
            .paced("DescribeImages")
            .await
            .describe_images()
            .repository_name(repository)
            .set_filter(filter)
            .set_next_token(next_token)
            .max_results(MAX_IMAGES_PER_PAGE)
            .send()
            .await
            .map_err(|error| AwsError::from_sdk("ecr:DescribeImages", Some(repository), error))?;
        Ok(ImagePage {
            images: output
                .image_details
                .unwrap_or_default()
                .into_iter()
                .map(stored_image_from_sdk)
                .collect(),
            next_token: output.next_token,
        })
    }

    /// Deletes `repository` with its images; `false` when it did not exist.
    pub async fn delete_repository(&self, repository: &str) -> Result<bool, AwsError> {
        match self
            .paced("DeleteRepository")
            .await
            .delete_repository()
            .repository_name(repository)
            .force(true)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) => {
                let error = AwsError::from_sdk("ecr:DeleteRepository", Some(repository), error);
                if error.is_code(REPOSITORY_NOT_FOUND) {
                    Ok(false)
                } else {
                    Err(error)
                }
            }
        }
    }
}

fn stored_image_from_sdk(image: aws_sdk_ecr::types::ImageDetail) -> StoredImage {
    StoredImage {
        digest: image.image_digest().map(str::to_owned),
        tags: image.image_tags().to_vec(),
        // A negative size is no size.
        size_in_bytes: image
            .image_size_in_bytes()
            .and_then(|size| u64::try_from(size).ok()),
        pushed_at: to_chrono(image.image_pushed_at()),
        last_pulled_at: to_chrono(image.last_recorded_pull_time()),
        archived: image.image_status() == Some(&ImageStatus::Archived),
    }
}
