//! The architect (docs/ARCHITECT.md): advice from Fathom's own view of its clients, served at
//! `GET /api/v1/admin/advice`.

mod clients;
