//! Generates the gRPC code for `proto/` with a pure-Rust toolchain: `protox`
//! parses the `.proto` files into a `FileDescriptorSet`, `tonic-prost-build`
//! turns that into prost messages plus tonic clients and servers. No `protoc`
//! binary is needed.
//!
//! Clients and servers use `crate::codec::DmcCodec` (tonic-prost's codec,
//! with request decode errors as `INVALID_ARGUMENT` instead of `INTERNAL`).

const PROTOS: &[&str] = &["proto/ecrpc/external_coordinator.proto", "proto/dmc/coordinator.proto"];

fn main() {
    println!("cargo:rerun-if-changed=proto");
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = match protox::compile(PROTOS, ["proto"]) {
        Ok(fds) => fds,
        Err(e) => panic!("protox failed to compile {PROTOS:?}: {e:?}"),
    };
    if let Err(e) = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::DmcCodec")
        .compile_fds(fds)
    {
        panic!("tonic-prost-build failed to generate code: {e}");
    }
}
