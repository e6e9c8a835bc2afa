//! The protocol subset (`proto/pulumi/*.proto`), compiled at build time.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// The messages and services of package `pulumirpc`, generated from `proto/`.
pub(crate) mod pulumirpc {
    tonic::include_proto!("pulumirpc");
}

/// The encoded `FileDescriptorSet` of `proto/`: every message, field, enum and service
/// the project defines, as compiled.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pulumirpc.bin"));
