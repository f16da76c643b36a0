//! The `ngalam112.v1` wire types, clients and servers, generated from
//! `proto/`. Nothing hand-written lives here besides the re-exports.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod v1 {
    tonic::include_proto!("ngalam112.v1");
}

/// The encoded file descriptor set, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ngalam112_descriptor.bin"));
