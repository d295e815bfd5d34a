//! The AuthZEN surface: the evaluation and search APIs under `/access/v1/`.

pub mod rest;
