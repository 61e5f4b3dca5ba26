//! Safe writes (issue 14): conditional requests (ETags, `If-Match`, `If-None-Match`) and the
//! lost-update race they close; idempotency keys; soft delete completed (restore, listing
//! deleted records, purge). One submodule per concern.

mod backup;
mod conditional;
mod conditional_batch;
mod crash;
mod idempotency;
mod purge;
mod race;
mod restore;
