//! Delivery of the outbox to realtime subscribers, below the HTTP edge (no axum here).
//!
//! - [`Hub`] (`hub.rs`): one tailer per node follows the store's outbox and appends every batch
//!   of events it reads, in sequence order, to one log every joined connection reads from
//!   ([`Member`], `member.rs`); a connection that falls behind what the log keeps is told it
//!   lagged, never waited for.
//! - [`Feed`] (`feed.rs`): one connection's ordered events: the backlog after a resume point,
//!   then the live fan-out, without a gap or a duplicate; live, it hands out whole [`Batch`]es,
//!   which connections that see them alike judge and encode once between them.
//! - [`Shared`] (`shared.rs`): one event as the hub hands it to every connection, with the
//!   renderings made of it, so that connections that show an event alike serialise it once.
//! - [`Subscription`] (`subscription.rs`): what one subscription receives (tenant, list rule,
//!   filter, hidden fields, field selection) and how each change is announced (`create`,
//!   `update`, `delete`, `enter`, `leave`).

mod feed;
mod hub;
mod member;
mod shared;
mod subscription;

pub use feed::{Feed, FeedError, Ready, Step};
pub use hub::{Batch, Hub, HubStats, Observer, TAIL_BATCH, gather, pace};
pub use member::{Closed, Member};
pub use shared::{Memo, Shared};
pub use subscription::{
    Announce, Delivery, MatchError, Subscription, SubscriptionSpec, Viewer, lookup as record_lookup,
};
