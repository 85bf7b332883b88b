//! The inputs named on a replay's command line: capture files, `-` for
//! standard input, and directories, read recursively in name order.
//!
//! Each input gets the `source` label its counters carry: the file's name,
//! or, when several inputs share a name, as many of the folders above it
//! as tell them apart (`mon/a.pcap`, `tue/a.pcap`), so that two files never
//! merge into one source by accident.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Where an input's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Standard input, named `-` on the command line.
    Stdin,
    /// A file, named or found in a directory.
    File {
        /// The file's path: as given, or the directory's joined with the
        /// names below it.
        path: PathBuf,
        /// Found by walking a directory (rather than named): a file there
        /// that is no capture is passed over, not an error.
        in_directory: bool,
    },
}

/// One input of a replay, in the order it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Where its bytes come from.
    pub origin: Origin,
    /// The `source` label.
    pub label: String,
}

impl Input {
    /// How messages name the input: its path as given, or `-`.
    pub fn display(&self) -> String {
        match &self.origin {
            Origin::Stdin => "-".to_owned(),
            Origin::File { path, .. } => path.display().to_string(),
        }
    }
}

/// A directory that could not be read.
#[derive(Debug)]
pub struct WalkError {
    /// The directory, or the entry in it, that could not be read.
    pub path: PathBuf,
    /// The system's reason.
    pub error: io::Error,
}

/// The label of standard input.
pub const STDIN_LABEL: &str = "stdin";

/// Expands the command line's paths, in their order, into inputs; a
/// directory becomes the files below it, depth first in name order
/// (hidden entries, whose names start with `.`, and symbolic links to
/// directories are left out).
pub fn expand(paths: &[PathBuf]) -> (Vec<Input>, Vec<WalkError>) {
    let mut origins = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            origins.push(Origin::Stdin);
        } else if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found, &mut errors);
            // Path order compares component by component: a directory's
            // files come right after its name, before its next sibling.
            found.sort();
            origins.extend(found.into_iter().map(|path| Origin::File { path, in_directory: true }));
        } else {
            origins.push(Origin::File { path: path.clone(), in_directory: false });
        }
    }
    let labels = labels(&origins);
    (origins.into_iter().zip(labels).map(|(origin, label)| Input { origin, label }).collect(), errors)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>, errors: &mut Vec<WalkError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => return errors.push(WalkError { path: dir.to_owned(), error }),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                errors.push(WalkError { path: dir.to_owned(), error });
                continue;
            }
        };
        if entry.file_name().as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, found, errors),
            // A link to a file is read; one to a directory could loop.
            Ok(t) if t.is_symlink() => {
                if path.is_file() {
                    found.push(path);
                }
            }
            Ok(t) if t.is_file() => found.push(path),
            Ok(_) => {}
            Err(error) => errors.push(WalkError { path, error }),
        }
    }
}

/// The names of `path`'s folders and file, outermost first (`/`, `.` and
/// `..` carry no name).
fn names(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

/// Labels: the file name, lengthened by one folder at a time for as long
/// as inputs share it and have folders left to tell them apart.
fn labels(origins: &[Origin]) -> Vec<String> {
    let names: Vec<Vec<String>> = origins
        .iter()
        .map(|o| match o {
            Origin::Stdin => vec![STDIN_LABEL.to_owned()],
            Origin::File { path, .. } => {
                let n = names(path);
                if n.is_empty() { vec![path.display().to_string()] } else { n }
            }
        })
        .collect();
    let mut depth = vec![1usize; origins.len()];
    let label = |i: usize, depth: &[usize]| names[i][names[i].len() - depth[i]..].join("/");
    loop {
        let current: Vec<String> = (0..origins.len()).map(|i| label(i, &depth)).collect();
        let mut lengthened = false;
        for i in 0..origins.len() {
            let shared = (0..origins.len()).any(|j| j != i && current[j] == current[i]);
            // Inputs that are the same path stay one label: they are one source.
            let distinguishable =
                (0..origins.len()).any(|j| j != i && current[j] == current[i] && names[j] != names[i]);
            if shared && distinguishable && depth[i] < names[i].len() {
                depth[i] += 1;
                lengthened = true;
            }
        }
        if !lengthened {
            return current;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels_of(paths: &[&str]) -> Vec<String> {
        let origins: Vec<Origin> = paths
            .iter()
            .map(|p| if *p == "-" { Origin::Stdin } else { Origin::File { path: p.into(), in_directory: false } })
            .collect();
        labels(&origins)
    }

    #[test]
    fn labels_are_file_names_until_two_inputs_share_one() {
        assert_eq!(labels_of(&["/data/a.pcap", "b.pcap", "-"]), ["a.pcap", "b.pcap", "stdin"]);
        assert_eq!(
            labels_of(&["caps/mon/a.pcap", "caps/tue/a.pcap", "caps/tue/b.pcap"]),
            ["mon/a.pcap", "tue/a.pcap", "b.pcap"]
        );
        assert_eq!(labels_of(&["x/site/a.pcap", "y/site/a.pcap"]), ["x/site/a.pcap", "y/site/a.pcap"]);
        assert_eq!(labels_of(&["a.pcap", "../old/a.pcap"]), ["a.pcap", "old/a.pcap"]);
        assert_eq!(labels_of(&["./a.pcap", "a.pcap"]), ["a.pcap", "a.pcap"], "one file named twice is one source");
    }

    #[test]
    fn directories_are_walked_in_name_order_without_hidden_entries() {
        let root = std::env::temp_dir().join(format!("vendorwatch-input-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for dir in ["b", "a/z", ".git"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in ["b/a.pcap", "a/z/a.pcap", "a/m.pcap", "c.pcap", ".hidden.pcap", ".git/x.pcap"] {
            std::fs::write(root.join(file), b"").unwrap();
        }
        let (inputs, errors) = expand(&[root.clone(), PathBuf::from("-")]);
        assert!(errors.is_empty(), "{errors:?}");
        let got: Vec<(String, String)> = inputs
            .iter()
            .map(|i| {
                let shown = match &i.origin {
                    Origin::File { path, in_directory: true } => {
                        path.strip_prefix(&root).unwrap().display().to_string()
                    }
                    other => format!("{other:?}"),
                };
                (shown, i.label.clone())
            })
            .collect();
        let want = [
            ("a/m.pcap", "m.pcap"),
            ("a/z/a.pcap", "z/a.pcap"),
            ("b/a.pcap", "b/a.pcap"),
            ("c.pcap", "c.pcap"),
            ("Stdin", "stdin"),
        ];
        assert_eq!(got, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
