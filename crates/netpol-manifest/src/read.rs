//! Sources to named byte buffers: files, folders read recursively in sorted order, and
//! bytes from stdin. Reading problems become diagnostics without spans.
//!
//! Only regular files are opened: a path's type is checked first, because opening a FIFO
//! that nobody writes to blocks forever and a device such as `/dev/zero` never ends. The
//! size limit holds while reading, whatever the file's size said before.

use std::fs::{File, FileType, Metadata};
use std::io::Read;
use std::path::Path;

use netpol_diag::{Code, Diagnostic, Severity};

use crate::{LoadOptions, Source};

/// One input's display name and bytes.
pub(crate) struct Input {
    pub(crate) name: String,
    pub(crate) bytes: Vec<u8>,
    /// Found by walking a folder (not named explicitly): a stray `.json` that is not a
    /// manifest is only a note.
    pub(crate) in_folder: bool,
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
                    // Stdin is read only up to one byte past the limit: its size is unknown.
                    diags.push(over_limit(name, options.max_file_bytes));
                } else {
                    inputs.push(Input {
                        name: name.clone(),
                        bytes: bytes.clone(),
                        in_folder: false,
                    });
                }
            }
            Source::Path(path) => match std::fs::metadata(path) {
                Err(e) => diags.push(io_error(&path.display().to_string(), &e.to_string())),
                Ok(md) if md.is_dir() => read_dir(path, options, diags, &mut inputs),
                // A file named explicitly is read whatever its extension.
                Ok(md) if md.is_file() => read_file(path, &md, false, options, diags, &mut inputs),
                Ok(md) => diags.push(not_a_file(path, md.file_type())),
            },
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
                let manifest = e
                    .path()
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| EXTENSIONS.iter().any(|w| x.eq_ignore_ascii_case(w)));
                let ft = e.file_type();
                if manifest && ft.is_file() {
                    match e.metadata() {
                        Ok(md) => read_file(e.path(), &md, true, options, diags, inputs),
                        Err(err) => {
                            diags.push(io_error(&e.path().display().to_string(), &err.to_string()))
                        }
                    }
                } else if manifest && !ft.is_dir() {
                    diags.push(not_a_file(e.path(), ft).with_severity(Severity::Note));
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

/// Reads a regular file (`md` is its metadata), never more than the limit plus one byte.
fn read_file(
    path: &Path,
    md: &Metadata,
    in_folder: bool,
    options: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
    inputs: &mut Vec<Input>,
) {
    let name = path.display().to_string();
    let max = options.max_file_bytes;
    if md.len() > max {
        return diags.push(too_large(&name, md.len(), max));
    }
    let mut bytes = Vec::new();
    // The file may have grown since the metadata was read (or be a special file in
    // /proc that says 0): stop one byte past the limit.
    let read = File::open(path).and_then(|f| f.take(max.saturating_add(1)).read_to_end(&mut bytes));
    match read {
        Err(e) => diags.push(io_error(&name, &e.to_string())),
        Ok(_) if bytes.len() as u64 > max => diags.push(over_limit(&name, max)),
        Ok(_) => inputs.push(Input {
            name,
            bytes,
            in_folder,
        }),
    }
}

/// A FIFO, socket or device: refused without opening it.
fn not_a_file(path: &Path, ft: FileType) -> Diagnostic {
    let what = kind_of(ft);
    Diagnostic::new(
        Code::NotAFile,
        format!("{} is {what}, not a regular file; not read", path.display()),
    )
    .with_help("write the manifests to a file, or pipe them to `-` (stdin), which is read up to --max-file-size")
}

#[cfg(unix)]
fn kind_of(ft: FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn kind_of(_: FileType) -> &'static str {
    "a special file"
}

fn io_error(path: &str, why: &str) -> Diagnostic {
    Diagnostic::new(Code::IoError, format!("cannot read {path}: {why}"))
        .with_help("check that the path exists and is readable")
}

fn over_limit(name: &str, max: u64) -> Diagnostic {
    Diagnostic::new(
        Code::FileTooLarge,
        format!("{name} is larger than the limit of {max} bytes; skipped"),
    )
    .with_help("split the file, or raise the limit if the file is legitimate")
}

fn too_large(name: &str, len: u64, max: u64) -> Diagnostic {
    Diagnostic::new(
        Code::FileTooLarge,
        format!("{name} is {len} bytes, more than the limit of {max} bytes; skipped"),
    )
    .with_help("split the file, or raise the limit if the file is legitimate")
}
