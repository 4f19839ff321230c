//! The files `-f PATH…` names, read safely: folders walked without following links out of the
//! tree, special files and files over `--max-file-size` skipped with a note, text only.

use std::path::{Path, PathBuf};

use ptc_ops::byte_size::format_byte_size;
use ptc_ops::cluster::manifests;
use rustix::fs::OFlags;

use super::CliError;
use crate::args::FileLimits;

/// One file given on the command line or found in a folder given there.
pub struct Input {
    /// As reports name it: the path as given or found, or `-`.
    pub name: String,
    /// `None` for stdin.
    pub path: Option<PathBuf>,
    pub text: String,
    /// Why the file could not be read (not UTF-8, no permission, too large when named with
    /// `-f`): a problem of that file, the others still read.
    pub unreadable: Option<String>,
    /// Why a file found in a folder was skipped unread (a FIFO, a link out of the tree, over
    /// `--max-file-size`): a note, not a problem.
    pub skipped: Option<String>,
    /// The path is a symbolic link: read, never rewritten in place (renaming over the link
    /// would replace it with a file and leave its target as it was).
    pub linked: bool,
}

impl Input {
    fn new(name: String, path: Option<PathBuf>, read: Read) -> Input {
        let mut input = Input {
            name,
            path,
            text: String::new(),
            unreadable: None,
            skipped: None,
            linked: false,
        };
        match read {
            Read::Text(text) => input.text = text,
            Read::Unreadable(why) => input.unreadable = Some(why),
            Read::Skipped(why) => input.skipped = Some(why),
        }
        input
    }
}

/// What reading one file gave.
enum Read {
    Text(String),
    /// A problem of the file.
    Unreadable(String),
    /// Left unread on purpose, with a note.
    Skipped(String),
}

/// A file to read that a folder walk found.
enum Found {
    /// `open` is where to read it: the file itself, or the file a link inside the tree points to.
    File {
        path: PathBuf,
        open: PathBuf,
        linked: bool,
    },
    Skipped {
        path: PathBuf,
        why: String,
    },
}

/// The files of `paths`: a file as it is, a folder walked (in name order, hidden folders
/// skipped) for `*.yaml`, `*.yml`, `Dockerfile*`, `*.Dockerfile`, `Containerfile*`, and `-`
/// for stdin (once).
///
/// Nothing here can block or exhaust memory: every file is opened non-blocking and checked
/// with `fstat` on the open handle (so a file swapped for a FIFO after the walk saw it is
/// caught too), and read up to `--max-file-size`. The walk skips, with a note, FIFOs, sockets
/// and devices, links that resolve outside the folder given, and files over the limit.
pub fn read_paths(paths: &[PathBuf], limits: FileLimits) -> Result<Vec<Input>, CliError> {
    let mut inputs = Vec::new();
    for path in paths {
        if path == Path::new("-") {
            let read = read_bounded(std::io::stdin().lock(), limits.max_file_size)
                .map_err(|error| CliError::Usage(format!("cannot read stdin: {error}")))?
                .named(limits);
            inputs.push(Input::new("-".to_owned(), None, read));
            continue;
        }
        let metadata = std::fs::metadata(path).map_err(|error| {
            CliError::Usage(format!("cannot read `{}`: {error}", path.display()))
        })?;
        if metadata.is_dir() {
            let root = std::fs::canonicalize(path).map_err(|error| {
                CliError::Usage(format!(
                    "cannot read the folder `{}`: {error}",
                    path.display()
                ))
            })?;
            let mut found = Vec::new();
            walk(&root, path, &mut found)?;
            if found.is_empty() {
                eprintln!(
                    "`{}`: no manifest, values file or Dockerfile in this folder",
                    path.display()
                );
            }
            for file in found {
                let input = match file {
                    Found::File { path, open, linked } => {
                        let read = read_found_file(&open, limits);
                        let mut input = Input::new(display_name(&path), Some(path), read);
                        input.linked = linked;
                        input
                    }
                    Found::Skipped { path, why } => {
                        Input::new(display_name(&path), Some(path), Read::Skipped(why))
                    }
                };
                inputs.push(input);
            }
        } else {
            let read = read_named_file(path, limits)?;
            let mut input = Input::new(path.display().to_string(), Some(path.clone()), read);
            input.linked = std::fs::symlink_metadata(path)
                .is_ok_and(|metadata| metadata.file_type().is_symlink());
            inputs.push(input);
        }
    }
    Ok(inputs)
}

fn display_name(path: &Path) -> String {
    let name = path.display().to_string();
    name.strip_prefix("./").unwrap_or(&name).to_owned()
}

/// Walks `folder` (below the canonical `root`) for the files `-f DIR` reads.
fn walk(root: &Path, folder: &Path, found: &mut Vec<Found>) -> Result<(), CliError> {
    let entries = std::fs::read_dir(folder).map_err(|error| {
        CliError::Usage(format!(
            "cannot read the folder `{}`: {error}",
            folder.display()
        ))
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let file_type = metadata.file_type();
        if file_type.is_dir() {
            walk(root, &path, found)?;
            continue;
        }
        if !manifests::is_manifest_name(&name) {
            // A link to a folder is reported whatever its name: the user may expect it walked.
            if file_type.is_symlink() && path.is_dir() {
                found.push(Found::Skipped {
                    path,
                    why: "a symbolic link to a folder: not followed (it may lead out of the tree, or in a loop)".to_owned(),
                });
            }
            continue;
        }
        if file_type.is_symlink() {
            found.push(follow_link(root, path));
        } else if file_type.is_file() {
            found.push(Found::File {
                open: path.clone(),
                path,
                linked: false,
            });
        } else {
            let why = format!("{}: not read", special_kind(&file_type));
            found.push(Found::Skipped { path, why });
        }
    }
    Ok(())
}

/// A link found in the tree: read when it resolves to a file inside `root`.
fn follow_link(root: &Path, path: PathBuf) -> Found {
    let target = match std::fs::canonicalize(&path) {
        Ok(target) => target,
        Err(error) => {
            let why = format!("a symbolic link that does not resolve ({error}): not read");
            return Found::Skipped { path, why };
        }
    };
    if !target.starts_with(root) {
        let why = format!(
            "a symbolic link to `{}`, outside the folder given: not read",
            target.display()
        );
        return Found::Skipped { path, why };
    }
    if target.is_dir() {
        let why =
            "a symbolic link to a folder: not followed (it may lead out of the tree, or in a loop)"
                .to_owned();
        return Found::Skipped { path, why };
    }
    Found::File {
        path,
        open: target,
        linked: true,
    }
}

/// What a file that is not a regular file is, for a note.
pub(super) fn special_kind(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading without blocking: a FIFO with no writer would block `open` itself.
/// With `follow` false, a link at `path` fails the open instead of being followed.
fn open_without_blocking(path: &Path, follow: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut flags = OFlags::NONBLOCK | OFlags::CLOEXEC;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
}

/// A file the walk found: only a regular file within the size limit is read.
fn read_found_file(path: &Path, limits: FileLimits) -> Read {
    let file = match open_without_blocking(path, false) {
        Ok(file) => file,
        Err(error) if error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Read::Skipped(
                "replaced by a symbolic link while it was read: not read".to_owned(),
            )
        }
        Err(error) => return Read::Unreadable(format!("cannot read the file: {error}")),
    };
    let metadata = match file.metadata() {
        Ok(metadata) => metadata,
        Err(error) => return Read::Unreadable(format!("cannot read the file: {error}")),
    };
    if !metadata.is_file() {
        return Read::Skipped(format!("{}: not read", special_kind(&metadata.file_type())));
    }
    if metadata.len() > limits.max_file_size {
        return Read::Skipped(too_large(Some(metadata.len()), limits));
    }
    // The file may grow after `fstat`: the read is bounded too.
    match read_bounded(file, limits.max_file_size) {
        Ok(Content::Text(text)) => Read::Text(text),
        Ok(Content::TooLarge) => Read::Skipped(too_large(None, limits)),
        Ok(Content::NotText) => Read::Unreadable(NOT_TEXT.to_owned()),
        Err(error) => Read::Unreadable(format!("cannot read the file: {error}")),
    }
}

/// A file named with `-f`: a regular file, or a FIFO (`-f <(helm template …)`), read up to the
/// size limit; being over it is a problem here, since the user asked for this file.
fn read_named_file(path: &Path, limits: FileLimits) -> Result<Read, CliError> {
    use std::os::unix::fs::FileTypeExt;
    let cannot = |error: std::io::Error| {
        CliError::Usage(format!("cannot read `{}`: {error}", path.display()))
    };
    let file = open_without_blocking(path, true).map_err(cannot)?;
    let file_type = file.metadata().map_err(cannot)?.file_type();
    if file_type.is_fifo() {
        // Opened without blocking, a FIFO with no writer reads as empty instead of waiting for
        // one; with a writer (a shell's `<(…)`), blocking reads wait for its data as usual.
        rustix::fs::fcntl_setfl(&file, OFlags::empty()).map_err(|error| cannot(error.into()))?;
    } else if !file_type.is_file() {
        return Ok(Read::Unreadable(format!(
            "{}: not read",
            special_kind(&file_type)
        )));
    }
    Ok(read_bounded(file, limits.max_file_size)
        .map_err(cannot)?
        .named(limits))
}

/// What a bounded read found.
enum Content {
    Text(String),
    /// More than the limit: the rest was never read.
    TooLarge,
    NotText,
}

impl Content {
    /// As a file named on the command line (or stdin) is reported: being too large is a
    /// problem, since the user asked for this file.
    fn named(self, limits: FileLimits) -> Read {
        match self {
            Content::Text(text) => Read::Text(text),
            Content::TooLarge => Read::Unreadable(format!(
                "larger than {} (`--max-file-size`): not read",
                format_byte_size(limits.max_file_size)
            )),
            Content::NotText => Read::Unreadable(NOT_TEXT.to_owned()),
        }
    }
}

const NOT_TEXT: &str = "cannot read the file: not UTF-8 text";

/// Reads at most `limit` bytes; more is never held in memory.
fn read_bounded(reader: impl std::io::Read, limit: u64) -> std::io::Result<Content> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Ok(Content::TooLarge);
    }
    Ok(match String::from_utf8(bytes) {
        Ok(text) => Content::Text(text),
        Err(_) => Content::NotText,
    })
}

fn too_large(size: Option<u64>, limits: FileLimits) -> String {
    let size = size.map_or_else(|| "more".to_owned(), |size| format!("{size} bytes"));
    format!(
        "{size}, over the limit of {} (`--max-file-size`): not read",
        format_byte_size(limits.max_file_size)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The walk never opens a file through a link swapped in after it looked.
    #[test]
    fn a_found_file_replaced_by_a_link_is_not_followed() {
        let folder = tempfile::tempdir().expect("folder");
        let secret = folder.path().join("secret.yaml");
        std::fs::write(&secret, "image: secret\n").expect("written");
        let path = folder.path().join("values.yaml");
        std::os::unix::fs::symlink(&secret, &path).expect("linked");
        let limits = FileLimits {
            max_file_size: 1_000,
        };
        match read_found_file(&path, limits) {
            Read::Skipped(why) => assert!(why.contains("symbolic link"), "{why}"),
            Read::Text(text) => panic!("followed the link: {text}"),
            Read::Unreadable(why) => panic!("{why}"),
        }
    }
}
