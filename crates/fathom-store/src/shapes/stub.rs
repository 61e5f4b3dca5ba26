//! A stand-in for the shape recorder (part 1 of issue 17), so that `fathom advise` builds
//! before it lands: no shapes are recorded yet. The merge replaces this file.

use crate::Store;
use crate::error::StoreError;
use crate::shapes::ShapeReport;

impl Store {
    /// The recorded query shapes with their figures (none until the recorder lands).
    #[allow(clippy::unused_async)]
    pub async fn query_shapes(&self) -> Result<Vec<ShapeReport>, StoreError> {
        Ok(Vec::new())
    }
}
