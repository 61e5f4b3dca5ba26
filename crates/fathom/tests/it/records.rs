//! Records API tests (being written).
