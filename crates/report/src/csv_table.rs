//! CSV tables for reports: a header, then rows of cells, written by the `csv` crate, so a cell
//! is quoted only where it must be (a comma, a quote or a line break in it) and every row has
//! the header's number of cells.
//!
//! ```
//! use aumann_report::csv_table::CsvTable;
//! let mut t = CsvTable::new(["topic", "share"]);
//! t.row(["ai", "0.5"]);
//! t.row(["a, b", ""]);
//! assert_eq!(t.finish(), "topic,share\nai,0.5\n\"a, b\",\n");
//! ```

/// A CSV table being written.
pub struct CsvTable {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvTable {
    /// A table with the columns `header`.
    pub fn new<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut table = Self {
            writer: csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(Vec::new()),
        };
        table.row(header);
        table
    }

    /// Append a row; it has as many cells as the header.
    ///
    /// # Panics
    /// On a row with another number of cells than the header: a table builder's bug.
    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.writer
            .write_record(cells)
            .unwrap_or_else(|e| panic!("a CSV row unlike its header: {e}"));
        self
    }

    /// The table as text.
    pub fn finish(self) -> String {
        let bytes = self
            .writer
            .into_inner()
            .unwrap_or_else(|e| panic!("flushing into memory cannot fail: {e}"));
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("cells are text: {e}"))
    }
}
