//! Operations, CLI and migration tests (being written).
