//! What a node trusts for a registry: CA files, certs.d and hosts.toml lookups.
//!
//! (Placeholder while the module is being written; see issue 5.)
