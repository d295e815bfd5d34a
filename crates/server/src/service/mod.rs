//! The transport-independent services: each operation once, called by every API surface's REST and
//! gRPC adapters.

pub mod authorizer;
pub mod directory;
