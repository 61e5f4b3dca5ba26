//! Tenant-scoped writes at the edge: the records engine owns them (`fathom_engine::tenancy`);
//! this module re-exports what the rest of the HTTP edge names (the tenant id check of the admin
//! endpoints, a batch's pending creates).

pub use fathom_engine::tenancy::{Pending, create_scope, is_tenant_id, take_tenant};
