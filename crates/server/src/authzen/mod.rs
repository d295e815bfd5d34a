//! The AuthZEN surface: the evaluation and search APIs under `/access/v1/`, each evaluation decided
//! by a directory check, a Rego policy or a Cerbos resource policy as the tenant's mappings say.

pub mod config;
mod decide;
pub mod rest;
