//! Golden files: the bookinfo example of this repository and Istio's own bookinfo networking
//! samples, compiled unchanged. A change in any compiled field fails these tests;
//! `VERIMESH_REGENERATE=1 cargo test -p verimesh-compiler --test golden` rewrites the files
//! (review the diff before committing it).

mod common;

use common::*;
use verimesh_compiler::Compiler;

fn compile_files(name: &str, files: &[std::path::PathBuf], proxies: &[(&str, &str)]) {
    let loaded = load_files(files);
    let snap = snapshot(&loaded.resources, &loaded);
    let placement = placement(&snap);
    let compiler = Compiler::new(&snap, &placement).expect("compiler");
    for (ns, proxy) in proxies {
        let cfg = compiler.compile(ns, proxy).expect("compile");
        let text = serde_json::to_string_pretty(&cfg).expect("json") + "\n";
        check_golden(&format!("{name}.{proxy}"), &text);
        // What compile_all hands out is the same config, version included.
        let all = compiler.compile_all();
        let same = all
            .iter()
            .find(|p| p.namespace == *ns && p.name == *proxy)
            .expect("in compile_all");
        assert_eq!(same.to_config(), cfg);
    }
}

#[test]
fn repository_bookinfo_example() {
    let dir = manifest_dir().join("../../examples/bookinfo");
    compile_files(
        "example-bookinfo",
        &[dir],
        &[
            ("bookinfo", "productpage-v1-0"),
            ("bookinfo", "reviews-v2-0"),
        ],
    );
}

fn istio(files: &[&str]) -> Vec<std::path::PathBuf> {
    let dir = manifest_dir().join("tests/data/istio-bookinfo");
    files.iter().map(|f| dir.join(f)).collect()
}

#[test]
fn istio_all_v1() {
    compile_files(
        "istio-all-v1",
        &istio(&[
            "bookinfo.yaml",
            "destination-rule-all.yaml",
            "virtual-service-all-v1.yaml",
        ]),
        &[("default", "productpage-v1-0"), ("default", "reviews-v3-0")],
    );
}

#[test]
fn istio_reviews_50_v3() {
    compile_files(
        "istio-reviews-50-v3",
        &istio(&[
            "bookinfo.yaml",
            "destination-rule-all.yaml",
            "virtual-service-reviews-50-v3.yaml",
        ]),
        &[("default", "productpage-v1-0")],
    );
}

#[test]
fn istio_reviews_80_20() {
    compile_files(
        "istio-reviews-80-20",
        &istio(&[
            "bookinfo.yaml",
            "destination-rule-all.yaml",
            "virtual-service-reviews-80-20.yaml",
        ]),
        &[("default", "productpage-v1-0")],
    );
}

#[test]
fn istio_jason_and_ratings_abort() {
    compile_files(
        "istio-jason-abort",
        &istio(&[
            "bookinfo.yaml",
            "destination-rule-all.yaml",
            "virtual-service-reviews-jason-v2-v3.yaml",
            "virtual-service-ratings-test-abort.yaml",
        ]),
        &[("default", "productpage-v1-0"), ("default", "reviews-v2-0")],
    );
}
