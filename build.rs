//! Embeds `signatures/*.toml` as the default signature set, so the binary
//! works out of the box; `--signatures DIR` replaces it at run time.

use std::fmt::Write;
use std::fs;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=signatures");
    let mut names: Vec<String> = fs::read_dir("signatures")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                // As `--signatures DIR` picks its files.
                .filter(|n| Path::new(n).extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::from(
        "/// The signature files compiled into the binary: (file name, contents).\npub const EMBEDDED_SIGNATURES: &[(&str, &str)] = &[\n",
    );
    for name in &names {
        println!("cargo:rerun-if-changed=signatures/{name}");
        writeln!(out, "    ({name:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/signatures/{name}\"))),")
            .expect("writing to a String cannot fail");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_signatures.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}
