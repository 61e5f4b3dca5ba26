//! Events over HTTP: every REST write appends its outbox event (with the caller and request
//! id), a failed write none; the change feed `GET /api/v1/events` pages in sequence order, is
//! for administrators and `events:read` keys only, confines tenant keys to their tenant, strips
//! hidden fields for keys, and answers 410 `events_expired` past retention.

mod feed;
mod writes;
