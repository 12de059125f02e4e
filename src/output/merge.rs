//! Merging Parquet files (or scratch files, [`super::spill`]) that are each
//! sorted by a key column into one sorted stream of record batches, reading
//! each file a batch at a time.
//!
//! Partitioned runs write one scored file per partition, each sorted by
//! borrower_id; this merge turns them into the rows, in the order, of a
//! single run, with memory bounded by a few batches per file whatever the
//! files' sizes. It does not know what the rows mean and does not write.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::interleave;
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{OutputError, Result};

/// Rows per merged batch. A multiple of the Parquet writer's internal
/// 1024-row mini-batches, so a file written from merged batches is cut into
/// pages exactly as one written from a single batch.
pub const MERGE_BATCH_ROWS: usize = 8 * 1024;

fn bad(path: &Path, message: String) -> OutputError {
    OutputError::Io {
        path: path.to_path_buf(),
        action: "merging sorted files",
        source: std::io::Error::other(message),
    }
}

/// A file's batches, in order.
type Batches = Box<dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>> + Send>;

/// One input file: its reader and the batch being consumed.
struct Source {
    path: PathBuf,
    reader: Batches,
    /// Index of the current batch in `Merge::held`, and the next row in it.
    current: Option<(usize, usize)>,
}

/// A k-way merge of files sorted by an Int64 or Utf8 key column.
pub struct SortedMerge {
    sources: Vec<Source>,
    held: Vec<RecordBatch>,
    key: usize,
    schema: SchemaRef,
}

impl SortedMerge {
    /// Opens `paths`, which must share one schema with `key` (Int64 or Utf8).
    /// A path ending in `.arrow` is a scratch file ([`super::spill`]); any
    /// other is Parquet.
    pub fn open(paths: &[PathBuf], key: &str) -> Result<Self> {
        let mut sources = Vec::with_capacity(paths.len());
        let mut schema: Option<SchemaRef> = None;
        for path in paths {
            let (s, reader) = open_batches(path)?;
            match &schema {
                None => schema = Some(s),
                Some(first) if first.fields() != s.fields() => {
                    return Err(bad(path, "its columns differ from the first file's".into()))
                }
                Some(_) => {}
            }
            sources.push(Source {
                path: path.clone(),
                reader,
                current: None,
            });
        }
        let schema = schema.ok_or_else(|| bad(Path::new("."), "no files to merge".into()))?;
        let key = schema
            .index_of(key)
            .map_err(|_| bad(&paths[0], format!("no column {key}")))?;
        if !matches!(
            schema.field(key).data_type(),
            DataType::Int64 | DataType::Utf8
        ) {
            return Err(bad(&paths[0], format!("{key} is neither Int64 nor Utf8")));
        }
        let mut m = Self {
            sources,
            held: Vec::new(),
            key,
            schema,
        };
        for i in 0..m.sources.len() {
            m.advance(i)?;
        }
        Ok(m)
    }

    /// The files' schema (with the first file's metadata).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Moves source `i` to its next non-empty batch (or to its end).
    fn advance(&mut self, i: usize) -> Result<()> {
        let s = &mut self.sources[i];
        s.current = None;
        for batch in s.reader.by_ref() {
            let batch = batch.map_err(|e| bad(&s.path, e.to_string()))?;
            if batch.num_rows() > 0 {
                self.held.push(batch);
                s.current = Some((self.held.len() - 1, 0));
                break;
            }
        }
        Ok(())
    }

    /// Whether the key at (batch, row) sorts before the key at (batch2, row2).
    fn less(&self, a: (usize, usize), b: (usize, usize)) -> bool {
        let (ka, kb) = (
            self.held[a.0].column(self.key),
            self.held[b.0].column(self.key),
        );
        match ka.data_type() {
            DataType::Int64 => {
                ka.as_primitive::<Int64Type>().value(a.1)
                    < kb.as_primitive::<Int64Type>().value(b.1)
            }
            _ => ka.as_string::<i32>().value(a.1) < kb.as_string::<i32>().value(b.1),
        }
    }

    /// The next merged batch of up to [`MERGE_BATCH_ROWS`] rows; None at the end.
    /// Equal keys come from the earlier file first.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut picks: Vec<(usize, usize)> = Vec::with_capacity(MERGE_BATCH_ROWS);
        while picks.len() < MERGE_BATCH_ROWS {
            let mut best: Option<usize> = None;
            for (i, s) in self.sources.iter().enumerate() {
                let Some(cur) = s.current else { continue };
                let better = match best {
                    None => true,
                    Some(b) => self.less(cur, self.sources[b].current.expect("best has a row")),
                };
                if better {
                    best = Some(i);
                }
            }
            let Some(i) = best else { break };
            let (batch, row) = self.sources[i].current.expect("picked a live source");
            picks.push((batch, row));
            if row + 1 < self.held[batch].num_rows() {
                self.sources[i].current = Some((batch, row + 1));
            } else {
                self.advance(i)?;
            }
        }
        if picks.is_empty() {
            return Ok(None);
        }
        let columns = (0..self.schema.fields().len())
            .map(|c| {
                let arrays: Vec<&dyn Array> =
                    self.held.iter().map(|b| b.column(c).as_ref()).collect();
                interleave(&arrays, &picks)
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(&self.sources[0].path, e.to_string()))?;
        let out = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| bad(&self.sources[0].path, e.to_string()))?;
        self.compact();
        Ok(Some(out))
    }

    /// Drops the batches no source is reading any more.
    fn compact(&mut self) {
        let mut kept = Vec::new();
        for s in &mut self.sources {
            if let Some((b, row)) = s.current {
                kept.push(self.held[b].clone());
                s.current = Some((kept.len() - 1, row));
            }
        }
        self.held = kept;
    }
}

/// The schema and batches of a scratch file (`.arrow`) or a Parquet file.
fn open_batches(path: &Path) -> Result<(SchemaRef, Batches)> {
    if path.extension().is_some_and(|e| e == "arrow") {
        let reader = super::spill::SpillReader::open(path)?;
        return Ok((reader.schema(), Box::new(reader)));
    }
    let file = File::open(path).map_err(|source| OutputError::Io {
        path: path.to_path_buf(),
        action: "opening a file to merge",
        source,
    })?;
    let parquet = |source| OutputError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
    let schema = builder.schema().clone();
    let reader = builder
        .with_batch_size(MERGE_BATCH_ROWS)
        .build()
        .map_err(parquet)?;
    Ok((schema, Box::new(reader)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn write(path: &Path, ids: &[i64], tags: &[&str]) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("tag", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(StringArray::from(tags.to_vec())),
            ],
        )
        .unwrap();
        crate::output::write_parquet(path, schema, &[batch]).unwrap();
    }

    #[test]
    fn merges_sorted_files_into_one_sorted_stream() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.parquet");
        let b = dir.path().join("b.parquet");
        let c = dir.path().join("c.parquet");
        let ids_a: Vec<i64> = (0..20_000).map(|i| i * 3).collect();
        let ids_b: Vec<i64> = (0..20_000).map(|i| i * 3 + 1).collect();
        let tags_a = vec!["a"; ids_a.len()];
        let tags_b = vec!["b"; ids_b.len()];
        write(&a, &ids_a, &tags_a);
        write(&b, &ids_b, &tags_b);
        write(&c, &[], &[]);
        let mut m = SortedMerge::open(&[a, b, c], "id").unwrap();
        let mut ids: Vec<i64> = Vec::new();
        let mut sizes = Vec::new();
        while let Some(batch) = m.next_batch().unwrap() {
            sizes.push(batch.num_rows());
            ids.extend(batch.column(0).as_primitive::<Int64Type>().values().iter());
            let tags = batch.column(1).as_string::<i32>();
            for k in 0..batch.num_rows() {
                let id = batch.column(0).as_primitive::<Int64Type>().value(k);
                assert_eq!(tags.value(k), if id % 3 == 0 { "a" } else { "b" });
            }
        }
        let mut expected: Vec<i64> = ids_a.iter().chain(&ids_b).copied().collect();
        expected.sort();
        assert_eq!(ids, expected);
        assert!(sizes[..sizes.len() - 1]
            .iter()
            .all(|&s| s == MERGE_BATCH_ROWS));
    }

    #[test]
    fn mismatched_columns_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.parquet");
        write(&a, &[1], &["x"]);
        let b = dir.path().join("b.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![2]))])
            .unwrap();
        crate::output::write_parquet(&b, schema, &[batch]).unwrap();
        assert!(SortedMerge::open(&[a, b], "id").is_err());
    }
}
