//! Singer SDK stream maps.
pub mod expr;
