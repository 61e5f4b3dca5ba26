//! The integration suite: one binary, one module per feature. Every test drives the real server
//! over HTTP (in-process on 127.0.0.1:0, or the real `fathom` binary) with its own temporary
//! data directory and a real database: SQLite, or a scratch PostgreSQL database when
//! `FATHOM_TEST_BACKEND=postgres` (see `helpers`).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod access_matrix;
mod accounts;
mod admin;
mod architect;
mod audit;
mod auth;
mod brokers;
mod cache;
mod docs_toml;
mod encryption;
mod events;
mod helpers;
mod library;
mod observability;
mod openapi;
mod operations;
mod postgres;
mod query;
mod rate_limits;
mod readme;
mod realtime;
mod records;
mod rules;
mod safe_writes;
mod tenancy;
mod webhooks;
