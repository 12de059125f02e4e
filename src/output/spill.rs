//! Scratch files: record batches set aside on disk while a partitioned run
//! scores its other partitions, read back once for the night's files.
//!
//! A scratch file lives only inside a run's staging directory and is deleted
//! before the night is published, so it needs neither compression nor
//! durability: it is written as uncompressed Arrow IPC (the in-memory layout,
//! copied to the page cache) and never synced. Writing Parquet with zstd and
//! an fsync here, then decoding it again, cost a partitioned run about a
//! fifth of its time. Outputs that a reader sees are never spill files; they
//! go through [`super::ParquetStream`].

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;

use super::{OutputError, Result};

/// Rows per batch in a scratch file: the unit in which it is read back.
pub const SPILL_BATCH_ROWS: usize = 64 * 1024;

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> OutputError + 'a {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

fn arrow<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(ArrowError) -> OutputError + 'a {
    move |e| OutputError::Io {
        path: path.to_path_buf(),
        action,
        source: std::io::Error::other(e.to_string()),
    }
}

/// Writes `batch` to the scratch file `path` (its directory is created),
/// in batches of [`SPILL_BATCH_ROWS`].
pub fn write(path: &Path, batch: &RecordBatch) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(path, "creating the scratch directory"))?;
    }
    let file = File::create(path).map_err(io(path, "creating a scratch file"))?;
    let mut w = FileWriter::try_new(BufWriter::new(file), &batch.schema())
        .map_err(arrow(path, "writing a scratch file"))?;
    let mut at = 0;
    while at < batch.num_rows() {
        let n = SPILL_BATCH_ROWS.min(batch.num_rows() - at);
        w.write(&batch.slice(at, n))
            .map_err(arrow(path, "writing a scratch file"))?;
        at += n;
    }
    w.finish().map_err(arrow(path, "writing a scratch file"))?;
    w.into_inner()
        .map_err(arrow(path, "writing a scratch file"))?
        .into_inner()
        .map_err(|e| io(path, "writing a scratch file")(e.into_error()))?;
    Ok(())
}

/// A scratch file's batches, in order.
pub struct SpillReader {
    reader: FileReader<BufReader<File>>,
}

impl SpillReader {
    /// Opens the scratch file `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(io(path, "opening a scratch file"))?;
        let reader = FileReader::try_new(BufReader::new(file), None)
            .map_err(arrow(path, "reading a scratch file"))?;
        Ok(Self { reader })
    }

    /// The file's schema.
    pub fn schema(&self) -> SchemaRef {
        self.reader.schema()
    }
}

impl Iterator for SpillReader {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn gives_back_the_rows_it_was_given_in_bounded_batches() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("tag", DataType::Utf8, true),
        ]));
        let n = SPILL_BATCH_ROWS * 2 + 17;
        let ids: Vec<i64> = (0..n as i64).collect();
        let tags: Vec<Option<String>> = (0..n)
            .map(|i| (i % 7 != 0).then(|| format!("t{i}")))
            .collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(tags)),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p/scored.arrow");
        // A slice, as a partition's rows may be.
        let sliced = batch.slice(3, n - 3);
        write(&path, &sliced).unwrap();
        let r = SpillReader::open(&path).unwrap();
        assert_eq!(r.schema(), schema);
        let back: Vec<RecordBatch> = r.collect::<std::result::Result<_, _>>().unwrap();
        assert!(back.iter().all(|b| b.num_rows() <= SPILL_BATCH_ROWS));
        let all = arrow::compute::concat_batches(&schema, &back).unwrap();
        assert_eq!(all, sliced);
    }

    #[test]
    fn a_missing_or_foreign_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.arrow");
        assert!(SpillReader::open(&path).is_err());
        std::fs::write(&path, b"not arrow").unwrap();
        assert!(SpillReader::open(&path).is_err());
    }
}
