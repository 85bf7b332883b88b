//! Line numbers for byte offsets in a config or signature file, so that
//! every problem can be reported as `file:line`.

/// The offsets at which each line of a text starts.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the line starts of `text` (lines end at `\n`).
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        LineIndex { starts }
    }

    /// The 1-based line holding byte `offset` (the last line for offsets past the end).
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_offsets_to_lines() {
        let lines = LineIndex::new("a\nbc\n\nd");
        let got: Vec<usize> = (0..8).map(|o| lines.line(o)).collect();
        assert_eq!(got, vec![1, 1, 2, 2, 2, 3, 4, 4]);
        assert_eq!(LineIndex::new("").line(0), 1);
    }
}
