//! Generates the gRPC code for lnd's `lnrpc` and `routerrpc` subsets in
//! `proto/` with a pure-Rust toolchain, as dmc-proto does: `protox` parses
//! the `.proto` files, `tonic-prost-build` writes prost messages plus tonic
//! clients and servers (the servers back the in-repo test LND).

const PROTOS: &[&str] = &["proto/lnrpc/lightning.proto", "proto/routerrpc/router.proto"];

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
        .compile_fds(fds)
    {
        panic!("tonic-prost-build failed to generate code: {e}");
    }
}
