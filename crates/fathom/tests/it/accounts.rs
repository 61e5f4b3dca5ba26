//! Issue 19 parts 4 and 5: relations to user accounts (`collection = "users"`) and account
//! management, over HTTP on the configured database (SQLite, or PostgreSQL with
//! `FATHOM_TEST_BACKEND=postgres`).

mod management;
mod migrations;
mod realtime;
pub(crate) mod relations;
mod removal;
