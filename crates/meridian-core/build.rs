//! Embeds the language resources of `lang/` (one folder a language, one
//! `.txt` file a list) into the crate, so that adding a language or a phrase
//! means adding files, not Rust: `meridian_core::lang` reads the generated
//! table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs, io};

fn main() -> io::Result<()> {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("..").join("..").join("lang");
    println!("cargo::rerun-if-changed={}", root.display());
    let mut table = String::from("&[\n");
    for dir in sorted_entries(&root)? {
        if !dir.is_dir() {
            continue;
        }
        let Some(code) = dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        for file in sorted_entries(&dir)? {
            if file.extension().and_then(|e| e.to_str()) != Some("txt") {
                continue;
            }
            let Some(list) = file.file_stem().and_then(|n| n.to_str()) else {
                continue;
            };
            println!("cargo::rerun-if-changed={}", file.display());
            let absolute = fs::canonicalize(&file)?;
            let _ = writeln!(
                table,
                "    ({code:?}, {list:?}, include_str!({:?})),",
                absolute.display().to_string()
            );
        }
    }
    table.push(']');
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("lang_files.rs");
    fs::write(out, table)
}

fn sorted_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    paths.sort();
    Ok(paths)
}
