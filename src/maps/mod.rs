//! Singer SDK stream maps.
pub mod expr;
pub mod flatten;
pub mod mapper;

pub use flatten::Flattening;
pub use mapper::{MapError, Maps, StreamMapper, StreamMapsConfig};
