//! Compiles the protocol subset in `proto/` when the `inline` feature is on (and does
//! nothing otherwise): protox, a protobuf compiler in Rust, reads the files, and
//! tonic-prost-build writes the messages, the LanguageRuntime server and the engine's
//! clients to `OUT_DIR`, with the descriptor set beside them.

fn main() {
    #[cfg(feature = "inline")]
    inline::compile();
}

#[cfg(feature = "inline")]
mod inline {
    use std::path::PathBuf;

    const FILES: &[&str] = &[
        "pulumi/engine.proto",
        "pulumi/language.proto",
        "pulumi/plugin.proto",
        "pulumi/provider.proto",
        "pulumi/resource.proto",
    ];

    pub fn compile() {
        for f in FILES {
            println!("cargo:rerun-if-changed=proto/{f}");
        }
        let fds = match protox::compile(FILES, ["proto"]) {
            Ok(fds) => fds,
            Err(e) => panic!("compiling proto/: {e:?}"),
        };
        let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
        let bytes = prost::Message::encode_to_vec(&fds);
        if let Err(e) = std::fs::write(out.join("pulumirpc.bin"), bytes) {
            panic!("writing the descriptor set: {e}");
        }
        let built = tonic_prost_build::configure()
            .build_server(true)
            .build_client(true)
            .compile_fds(fds);
        if let Err(e) = built {
            panic!("generating the protocol code: {e}");
        }
    }
}
