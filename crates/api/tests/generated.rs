//! The checked-in generated code is what the proto files produce today. Regenerating needs no
//! `protoc`: protox compiles the protos in-process. To update the checked-in code after
//! changing a proto, run `VERIMESH_REGENERATE=1 cargo test -p verimesh-api --test generated`.

use std::path::Path;

const PROTOS: &[&str] = &["verimesh/ca/v1/ca.proto", "verimesh/config/v1/config.proto"];
const GENERATED: &[&str] = &["verimesh.ca.v1.rs", "verimesh.config.v1.rs"];

#[test]
fn generated_code_matches_the_protos() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fds = protox::compile(PROTOS, [root.join("proto")]).expect("protos compile");
    let out_dir = tempfile::Builder::new()
        .prefix("verimesh-api-gen-")
        .tempdir()
        .expect("temp dir");
    let out = out_dir.path();
    tonic_prost_build::configure()
        .build_transport(false)
        .emit_rerun_if_changed(false)
        // An encoded resource is shared by reference between the hub and every stream sending it.
        .bytes(".verimesh.config.v1.Resource.json")
        .out_dir(out)
        .compile_fds(fds)
        .expect("code generation");
    let regenerate = std::env::var_os("VERIMESH_REGENERATE").is_some();
    for name in GENERATED {
        let fresh = std::fs::read_to_string(out.join(name)).expect("generated file");
        let checked_in = root.join("src/gen").join(name);
        if regenerate {
            std::fs::write(&checked_in, &fresh).expect("write generated code");
            continue;
        }
        let old = std::fs::read_to_string(&checked_in).unwrap_or_default();
        assert!(
            old == fresh,
            "{} is out of date with the protos; run VERIMESH_REGENERATE=1 cargo test -p verimesh-api --test generated",
            checked_in.display()
        );
    }
}
