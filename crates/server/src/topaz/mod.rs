//! Topaz's API surface: the authorizer v2 and directory v3 services over REST and gRPC.

pub mod authorizer;
pub mod directory;
