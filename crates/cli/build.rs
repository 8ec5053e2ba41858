// Link-time layout of the binary, for the proxy's resident memory.
//
// Relative relocations packed (DT_RELR, glibc 2.36+): the position-independent binary keeps
// its address randomization, but the dynamic loader reads a few kilobytes of relocations at
// startup instead of ~600 KB, which otherwise stay resident in every proxy.
//
// Functions a running proxy executes placed together (`proxy-functions.order`, written by
// `scripts/proxy-layout.sh`): the kernel maps code in 64 KiB windows around each page a
// process touches, so the ~2 MB the proxy runs, scattered through 12 MB of text shared with
// the control plane and the CLI, kept most of the text resident in every proxy. A function
// missing from the list (new or renamed since the list was written) only stays where the
// compiler put it.
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    println!("cargo:rerun-if-changed=proxy-functions.order");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    if release && links_with_lld() {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        let order = Path::new(&dir).join("proxy-functions.order");
        if order.is_file() {
            println!(
                "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
                order.display()
            );
            println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
        }
    }
}

/// Rust links x86_64 Linux binaries with its own LLD since 1.90; the ordering file is an
/// LLD option.
fn links_with_lld() -> bool {
    if std::env::var("TARGET").ok().as_deref() != Some("x86_64-unknown-linux-gnu") {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("-vV").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let minor = text
        .lines()
        .find_map(|l| l.strip_prefix("release: "))
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}
