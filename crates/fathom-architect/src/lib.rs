//! The architect (docs/ARCHITECT.md): findings about a running deployment, each with its
//! evidence, its estimated gain and the exact change to make. Index advice reads the
//! database's plans for the recorded query shapes (`fathom_store::shapes`) and verifies every
//! proposed index before advising it; client advice comes from `fathom-api`, which sees the
//! requests; migration review from `fathom migrate plan`. Nothing here changes the database.

pub mod api_diff;
mod finding;
pub mod indexes;
pub mod migrations;

pub use finding::{Change, Finding, FindingKind, Severity};
pub use indexes::{IndexOptions, advise_indexes};
