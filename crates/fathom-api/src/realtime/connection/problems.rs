//! The problems that end a connection's stream or one of its subscriptions.

use fathom_core::ErrorCode;
use fathom_events::FeedError;

use crate::error::ApiError;

/// The problem a feed that cannot go on reports, and the point to resume after.
pub(super) fn feed_problem(error: FeedError) -> (ApiError, Option<i64>) {
    match error {
        FeedError::ResyncRequired { resume, oldest } => (
            ApiError::new(
                ErrorCode::ResyncRequired,
                format!(
                    "The events after {resume} are no longer retained; the oldest kept is {oldest}."
                ),
                "Reload what you show (subscribe with `snapshot`) and continue from the sequence the snapshot gives.",
            ),
            None,
        ),
        FeedError::FromTheFuture { resume, latest } => (
            ApiError::new(
                ErrorCode::ResumeFromFuture,
                format!("The resume point {resume} is after the latest event, {latest}."),
                "Resume from a sequence this deployment sent (the `seq` of a frame, or the SSE id); omit it to start from now.",
            ),
            None,
        ),
        FeedError::Lagged { resume } => (
            ApiError::new(
                ErrorCode::Lagged,
                "This connection read events slower than they arrived, and its queue filled.",
                "Reconnect with the resume point given, and read faster (or subscribe to less).",
            ),
            Some(resume),
        ),
        FeedError::Stopping { resume } => (
            ApiError::new(
                ErrorCode::ShuttingDown,
                "This node is stopping.",
                "Reconnect (to any node) with the resume point given.",
            ),
            Some(resume),
        ),
        FeedError::Store(e) => (ApiError::from(e), None),
    }
}

/// The closing of a subscription with more records in view than it may track.
pub(super) fn overflow(id: &str, max: usize) -> ApiError {
    ApiError::new(
        ErrorCode::SubscriptionOverflow,
        format!(
            "The subscription `{id}` has more than {max} records in view, the most it tracks; it was closed."
        ),
        "Subscribe again with a narrower filter.",
    )
}
