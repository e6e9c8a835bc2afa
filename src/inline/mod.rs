//! Inline programs: a Rust closure as the Pulumi program (feature `inline`).

mod proto;

pub use proto::FILE_DESCRIPTOR_SET;
