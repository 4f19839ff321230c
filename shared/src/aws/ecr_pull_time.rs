//! Amazon ECR: the registry's pull-time update exclusions (principals whose pulls leave
//! `lastRecordedPullTime` alone). SDK types stop here.

use super::ecr::Ecr;
use super::AwsError;
use crate::ports::MAX_PULL_TIME_EXCLUSIONS_PER_PAGE;

impl Ecr {
    /// Every principal ARN the registry excludes from pull-time updates, all pages.
    pub async fn pull_time_exclusions(&self) -> Result<Vec<String>, AwsError> {
        let mut exclusions = Vec::new();
        let mut next_token = None;
        loop {
            let output = self
                .paced("ListPullTimeUpdateExclusions")
                .await
                .list_pull_time_update_exclusions()
                .max_results(MAX_PULL_TIME_EXCLUSIONS_PER_PAGE)
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|error| {
                    AwsError::from_sdk("ecr:ListPullTimeUpdateExclusions", None, error)
                })?;
            exclusions.extend(output.pull_time_update_exclusions().iter().cloned());
            match output.next_token {
                Some(token) if !token.is_empty() => next_token = Some(token),
                _ => return Ok(exclusions),
            }
        }
    }

    /// Excludes `principal_arn` (an IAM role) from pull-time updates.
    pub async fn register_pull_time_exclusion(&self, principal_arn: &str) -> Result<(), AwsError> {
        self.paced("RegisterPullTimeUpdateExclusion")
            .await
            .register_pull_time_update_exclusion()
            .principal_arn(principal_arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                AwsError::from_sdk(
                    "ecr:RegisterPullTimeUpdateExclusion",
                    Some(principal_arn),
                    error,
                )
            })
    }
}
