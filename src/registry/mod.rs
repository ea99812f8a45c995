//! Talking to OCI registries: references, credentials, transport, pull and push.

pub mod auth;
