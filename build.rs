//! Generates the C header with cbindgen from the doc comments in src/ffi. The fresh header
//! always goes to $OUT_DIR/wdt.h (a test compares it with the committed include/wdt.h); it is
//! written to include/wdt.h only when asked (WDT_UPDATE_HEADER=1, which
//! scripts/update-header.sh sets), so a stale committed header is caught, never silently
//! repaired by a build.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=WDT_UPDATE_HEADER");

    let crate_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
    let patch = env::var("CARGO_PKG_VERSION_PATCH").unwrap_or_default();
    let version = env::var("CARGO_PKG_VERSION").unwrap_or_default();
    config.after_includes = Some(format!(
        "#define WDT_VERSION \"{version}\"\n#define WDT_VERSION_MAJOR {major}\n#define WDT_VERSION_MINOR {minor}\n#define WDT_VERSION_PATCH {patch}"
    ));

    let bindings = match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(b) => b,
        Err(e) => panic!("cbindgen could not generate the header: {e}"),
    };
    let mut text = Vec::new();
    bindings.write(&mut text);
    // cbindgen closes its extern "C" block with `#endif // __cplusplus`; a C89 compiler (old
    // till toolchains, gcc -std=c89 -pedantic) rejects the // comment, so make it C89.
    let text = String::from_utf8(text)
        .expect("cbindgen writes UTF-8")
        .replace("#endif  // __cplusplus", "#endif /* __cplusplus */")
        .replace("#endif // __cplusplus", "#endif /* __cplusplus */")
        .replace("}  // extern \"C\"", "}  /* extern \"C\" */");
    let fresh = out_dir.join("wdt.h");
    fs::write(&fresh, &text).expect("OUT_DIR is writable");

    if env::var_os("WDT_UPDATE_HEADER").is_some_and(|v| v == "1") {
        fs::create_dir_all(crate_dir.join("include")).expect("include/ can be created");
        fs::write(crate_dir.join("include").join("wdt.h"), &text)
            .expect("include/wdt.h is writable");
    }
}
