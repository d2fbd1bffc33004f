//! Real servers for the tests: a registry, a token server, a Kubernetes API server.

pub mod kube_api;
