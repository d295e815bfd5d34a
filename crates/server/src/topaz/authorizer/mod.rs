//! Topaz's authorizer v2: Is, DecisionTree, Query, Compile, ListPolicies, GetPolicy and Info.

pub mod grpc;
pub mod rest;
