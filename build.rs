//! Embeds the adapter files of `adapters/` in the binary, so that a new shipped adapter is one
//! file in that folder and nothing else.

use std::{env, fs, path::Path};

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("adapters");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = String::from("&[\n");
    for path in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().expect("a file").to_string_lossy();
        out.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            format!("adapters/{name}"),
            path.display().to_string()
        ));
    }
    out.push(']');
    let target =
        Path::new(&env::var("OUT_DIR").expect("cargo sets it")).join("shipped_adapters.rs");
    fs::write(target, out).expect("OUT_DIR is writable");
}
