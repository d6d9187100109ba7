//! Sources to named byte buffers: files, folders read recursively in sorted order, and
//! bytes from stdin. Reading problems become diagnostics without spans.

use std::path::Path;

use netpol_diag::{Code, Diagnostic};

use crate::{LoadOptions, Source};

/// One input's display name and bytes.
pub(crate) struct Input {
    pub(crate) name: String,
    pub(crate) bytes: Vec<u8>,
}

const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

pub(crate) fn read_sources(
    sources: &[Source],
    options: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Input> {
    let mut inputs = Vec::new();
    for source in sources {
        match source {
            Source::Bytes { name, bytes } => {
                if bytes.len() as u64 > options.max_file_bytes {
                    diags.push(too_large(name, bytes.len() as u64, options.max_file_bytes));
                } else {
                    inputs.push(Input {
                        name: name.clone(),
                        bytes: bytes.clone(),
                    });
                }
            }
            Source::Path(path) if path.is_dir() => read_dir(path, options, diags, &mut inputs),
            // A file named explicitly is read whatever its extension.
            Source::Path(path) => read_file(path, options, diags, &mut inputs),
        }
    }
    inputs
}

fn read_dir(
    root: &Path,
    options: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
    inputs: &mut Vec<Input>,
) {
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name();
    for entry in walker {
        match entry {
            Ok(e) => {
                let wanted = e.file_type().is_file()
                    && e.path()
                        .extension()
                        .and_then(|x| x.to_str())
                        .is_some_and(|x| EXTENSIONS.iter().any(|w| x.eq_ignore_ascii_case(w)));
                if wanted {
                    read_file(e.path(), options, diags, inputs);
                }
            }
            Err(err) => {
                let path = err
                    .path()
                    .map_or_else(|| root.display().to_string(), |p| p.display().to_string());
                if let Some(ancestor) = err.loop_ancestor() {
                    diags.push(
                        Diagnostic::new(
                            Code::SymlinkLoop,
                            format!(
                                "{path} is a symbolic link back to {}, which is already being read; not followed",
                                ancestor.display()
                            ),
                        )
                        .with_help("remove the link or point it outside the folder"),
                    );
                } else {
                    let why = err
                        .io_error()
                        .map_or_else(|| err.to_string(), ToString::to_string);
                    diags.push(io_error(&path, &why));
                }
            }
        }
    }
}

fn read_file(
    path: &Path,
    options: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
    inputs: &mut Vec<Input>,
) {
    let name = path.display().to_string();
    match std::fs::metadata(path) {
        Err(e) => return diags.push(io_error(&name, &e.to_string())),
        Ok(md) if md.len() > options.max_file_bytes => {
            return diags.push(too_large(&name, md.len(), options.max_file_bytes));
        }
        Ok(_) => {}
    }
    match std::fs::read(path) {
        // The file may have grown since the metadata was read.
        Ok(bytes) if bytes.len() as u64 > options.max_file_bytes => {
            diags.push(too_large(&name, bytes.len() as u64, options.max_file_bytes));
        }
        Ok(bytes) => inputs.push(Input { name, bytes }),
        Err(e) => diags.push(io_error(&name, &e.to_string())),
    }
}

fn io_error(path: &str, why: &str) -> Diagnostic {
    Diagnostic::new(Code::IoError, format!("cannot read {path}: {why}"))
        .with_help("check that the path exists and is readable")
}

fn too_large(name: &str, len: u64, max: u64) -> Diagnostic {
    Diagnostic::new(
        Code::FileTooLarge,
        format!("{name} is {len} bytes, more than the limit of {max} bytes; skipped"),
    )
    .with_help("split the file, or raise the limit if the file is legitimate")
}
