//! The one shape of a problem in a file the operator wrote (a `--config`,
//! a signature file, a web config): which file, which line, what is wrong.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem at a line of a file, printed as `file:line: message`.
///
/// Line 0 means the file as a whole (it cannot be read, or the parser gave
/// no position); it prints as `file: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the operator named it (not canonicalised), so the
    /// message points where they look.
    pub file: PathBuf,
    /// 1-based; 0 for the whole file.
    pub line: usize,
    /// What is wrong, one line without the position.
    pub message: String,
}

impl Diagnostic {
    /// A problem at 1-based `line` of `file` (0 for the whole file).
    pub fn new(file: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Diagnostic { file: file.into(), line, message: message.into() }
    }

    /// A problem with the file as a whole.
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        Diagnostic::new(file, 0, message)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file.display(), self.message),
            line => write!(f, "{}:{line}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_file_line_and_message() {
        assert_eq!(Diagnostic::new("site.toml", 3, "bad").to_string(), "site.toml:3: bad");
        assert_eq!(Diagnostic::whole_file(Path::new("web.yml"), "cannot read").to_string(), "web.yml: cannot read");
    }
}
