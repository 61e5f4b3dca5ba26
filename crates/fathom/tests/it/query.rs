//! The query features of the records API over HTTP: filters, sort, cursor and offset paging,
//! counts, `ids` batch reads, `fields` and `expand` (with the number of statements they cost), the
//! indexes the database uses, and the `/api/v1/batch` write endpoint. One submodule per concern.

mod batch;
mod batch_refs;
mod expand;
mod filter_errors;
mod filters;
mod ids;
mod indexes;
mod pagination;
mod shapes;
mod sort;
pub(crate) mod support;
