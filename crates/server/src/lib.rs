//! The Lictor server: the authorizer and directory services behind Topaz-compatible gRPC and REST,
//! with identity resolution, tenants and API keys, decision logs, health and metrics.

pub mod config;
mod error;
pub mod tls;

pub use config::Config;
pub use error::ServerError;
pub mod access;
pub mod api;
pub mod api_error;
mod audit;
pub mod authorizer_service;
pub mod cerbos;
mod clock;
pub mod decision_log;
pub mod directory_service;
pub mod grpc;
pub mod grpc_authorizer;
pub mod grpc_directory;
pub mod jwt;
pub mod listener;
pub mod logging;
pub mod manifest;
mod message_json;
pub mod metrics;
pub mod policy_source;
pub mod rest;
pub mod rest_authorizer;
pub mod rest_authzen;
pub mod rest_directory;
pub mod rest_import;
pub mod server;
pub mod tenant;
