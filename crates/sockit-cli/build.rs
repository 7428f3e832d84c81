//! On Linux with glibc, the `sockit` executable is linked at a fixed address (`-no-pie`), as Go
//! links its programs: a position-independent executable makes the loader rewrite about 12,000
//! pointers in some 50 pages at every start, a fifth of a one-shot command's time. The
//! libraries, heap and stack are still placed at random. Build with `--features pie` for a
//! position-independent executable.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && std::env::var_os("CARGO_FEATURE_PIE").is_none()
    {
        println!("cargo:rustc-link-arg-bin=sockit=-no-pie");
    }
}
