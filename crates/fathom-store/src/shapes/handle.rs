//! The store's handle on its query shapes: the book it records into, flushing it into
//! `_fathom_query_shapes`, and reading every node's shapes back (`Store::query_shapes`).

use std::sync::Arc;

use super::ShapeReport;
use super::book::ShapeBook;
use crate::{Backend, Store, StoreError};

impl Store {
    /// The same store recording query shapes as `enabled` says, in a book of at most
    /// `max_shapes` (`[architect]` in the server's configuration). Set it before cloning the
    /// handle out: clones made earlier keep the book they had.
    #[must_use]
    pub fn with_shape_book(mut self, enabled: bool, max_shapes: usize) -> Self {
        self.shapes = Arc::new(ShapeBook::new(enabled, max_shapes));
        self
    }

    /// This node's shape book (for `/metrics`: shapes held, evictions).
    pub fn shape_book(&self) -> &ShapeBook {
        &self.shapes
    }

    /// Writes the figures recorded since the last flush into `_fathom_query_shapes`, merged
    /// with what every node persisted (see `shapes/persist.rs`); returns how many shapes it
    /// wrote. Figures that fail to persist stay in the book for the next flush.
    pub async fn flush_shapes(&self) -> Result<usize, StoreError> {
        let drained = self.shapes.drain();
        if drained.is_empty() {
            return Ok(0);
        }
        let mut sorted = drained.clone();
        // Key order: two nodes flushing at once lock rows in the same order.
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        let bound = self.shapes.max_shapes();
        let result = match &*self.backend {
            Backend::Sqlite(s) => {
                s.pool
                    .write(move |conn| super::persist::sqlite_flush(conn, &sorted, bound))
                    .await
            }
            Backend::Postgres(p) => {
                let mut client = p.client().await?;
                super::persist::postgres_flush(&mut client, &sorted, bound).await
            }
        };
        if result.is_err() {
            self.shapes.restore(drained);
        }
        result
    }

    /// Every query shape: this node's figures not yet flushed added to those every node
    /// persisted, the busiest first.
    pub async fn query_shapes(&self) -> Result<Vec<ShapeReport>, StoreError> {
        let persisted = match &*self.backend {
            Backend::Sqlite(s) => s.pool.read(super::persist::sqlite_read).await?,
            Backend::Postgres(p) => super::persist::postgres_read(&p.client().await?).await?,
        };
        Ok(super::persist::reports(persisted, self.shapes.snapshot()))
    }
}
