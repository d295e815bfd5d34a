//! Cerbos-compatible policy engine: the Cerbos REST API types, the policy model read from YAML or JSON,
//! its compiler and the CheckResources evaluator.

pub mod api;
