//! Integration tests: the tap binary against the real Docker engine, with images the tests build
//! themselves (docker/build-images.sh). All tests build into this one binary.
mod util;

mod bad_output;
mod commands;
mod completeness;
mod failures;
mod faker;
mod footprint;
mod fuzz;
mod image;
mod lifecycle;
mod meltano;
mod native;
mod podman;
mod postgres;
mod readme;
mod registry;
mod remote;
mod secrets;
mod stream_maps;
mod sync;
mod translate_reliability;
mod wheel;
