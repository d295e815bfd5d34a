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
pub mod authzen;
pub mod cerbos;
mod clock;
pub mod consistency;
pub mod console;
pub mod decision_log;
pub mod decision_service;
pub mod decision_ship;
pub mod decision_table;
pub mod edge;
pub mod grpc;
pub mod grpc_client;
mod grpc_trailers;
mod idle_body;
pub mod idp_ldap;
pub mod idp_sync;
pub mod jwt;
pub mod listener;
pub mod logging;
pub mod manifest;
mod message_json;
pub mod metrics;
pub mod policy_image;
pub mod policy_source;
mod proto_json;
pub mod replication;
pub mod rest;
pub mod schedule;
pub mod scim;
pub mod server;
pub mod service;
pub mod tenant;
pub mod topaz;
