//! Writing the night's files with keyed pseudonyms in place of borrower ids
//! (`--pseudonymize-ids`), for files sent outside the lender.
//!
//! [`PseudonymizedScored`] takes the night's scored rows (after the merge of
//! partitions and after capacity, which both need the real ids), replaces
//! `borrower_id` with its pseudonym ([`crate::pseudonym`]) and writes them
//! sorted by the pseudonym, so the row order says nothing about the ids
//! either. The sort is external: chunks of [`SORT_CHUNK_ROWS`] rows are
//! sorted in memory and spilled to private temporary files beside the
//! destination, then merged, so memory stays bounded by a chunk whatever
//! the night's size. Optionally it also writes the mapping file
//! ([`MAPPING`]): each id's canonical text and its pseudonym, readable by
//! its owner only.
//!
//! [`pseudonymize_rejects`] does the same to the rejects table, whose only
//! id-bearing value is the borrower_id in its `values` column.
//!
//! This module does not decide which rows to write; it only rewrites ids.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use rayon::prelude::*;

use super::merge::{SortedMerge, MERGE_BATCH_ROWS};
use super::{OutputError, ParquetStream, Result};
use crate::pseudonym::PseudonymKey;

/// The mapping file's name in the night's directory.
pub const MAPPING: &str = "pseudonyms.parquet";

/// Rows sorted in memory at a time (then spilled to a temporary file):
/// about 100-200 MB of scored rows.
pub const SORT_CHUNK_ROWS: usize = 64 * MERGE_BATCH_ROWS;

/// The footer key of the pseudonymized files that holds the key's fingerprint.
pub const FINGERPRINT_KEY: &str = "dunning.pseudonym_key_fingerprint";

/// The id column.
const ID: &str = "borrower_id";

/// In the spilled chunks only: the original id's canonical text, for the
/// mapping file.
const ID_TEXT: &str = "dunning.original_borrower_id";

fn bad(path: &Path, message: String) -> OutputError {
    OutputError::Io {
        path: path.to_path_buf(),
        action: "pseudonymizing borrower ids",
        source: std::io::Error::other(message),
    }
}

/// The pseudonym and the canonical text of each id of an Int64 or Utf8
/// borrower_id column (which must have no nulls).
fn pseudonyms(key: &PseudonymKey, ids: &dyn Array, path: &Path) -> Result<(ArrayRef, ArrayRef)> {
    if ids.null_count() > 0 {
        return Err(bad(path, "a borrower_id is null".into()));
    }
    let n = ids.len();
    let (hashed, text): (Vec<String>, ArrayRef) = match ids.data_type() {
        DataType::Int64 => {
            let a = ids.as_primitive::<Int64Type>();
            let text: Vec<String> = a.values().iter().map(i64::to_string).collect();
            let hashed = text.par_iter().map(|t| key.pseudonym(t)).collect();
            (hashed, Arc::new(StringArray::from(text)))
        }
        DataType::Utf8 => {
            let a = ids.as_string::<i32>();
            let hashed = (0..n)
                .into_par_iter()
                .map(|k| key.pseudonym(a.value(k)))
                .collect();
            (hashed, Arc::new(a.clone()))
        }
        other => return Err(bad(path, format!("borrower_id has type {other}"))),
    };
    Ok((Arc::new(StringArray::from(hashed)), text))
}

/// The scored table's schema with borrower_id as a (Utf8) pseudonym and the
/// key's fingerprint in the metadata.
fn pseudonymized_schema(schema: &Schema, fingerprint: &str) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            ID => Field::new(ID, DataType::Utf8, false),
            _ => f.as_ref().clone(),
        })
        .collect();
    let mut meta = schema.metadata().clone();
    meta.insert(FINGERPRINT_KEY.to_string(), fingerprint.to_string());
    Arc::new(Schema::new_with_metadata(fields, meta))
}

/// The mapping file's schema: `borrower_id` (the canonical text that was
/// hashed) and `pseudonym`.
fn mapping_schema(scored: &Schema) -> SchemaRef {
    let meta: std::collections::HashMap<String, String> = scored
        .metadata()
        .iter()
        .filter(|(k, _)| [FINGERPRINT_KEY, "dunning.as_of", "dunning.run_id"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Arc::new(Schema::new_with_metadata(
        vec![
            Field::new(ID, DataType::Utf8, false),
            Field::new("pseudonym", DataType::Utf8, false),
        ],
        meta,
    ))
}

/// Sorts `batch` by its column `key` (Utf8), ties in row order.
fn sort_by(batch: &RecordBatch, key: usize, path: &Path) -> Result<RecordBatch> {
    let k = batch.column(key).as_string::<i32>();
    let mut idx: Vec<u32> = (0..batch.num_rows() as u32).collect();
    idx.sort_unstable_by(|&a, &b| k.value(a as usize).cmp(k.value(b as usize)).then(a.cmp(&b)));
    arrow::compute::take_record_batch(batch, &UInt32Array::from(idx))
        .map_err(|e| bad(path, e.to_string()))
}

/// The night's scored.parquet with pseudonyms, sorted by pseudonym, and the
/// optional mapping file, written from the rows in a fixed order (see the
/// module documentation). Nothing appears at the destinations before
/// [`PseudonymizedScored::finish`]; dropped unfinished, it leaves nothing.
pub struct PseudonymizedScored<'k> {
    key: &'k PseudonymKey,
    dest: PathBuf,
    mapping: Option<PathBuf>,
    /// The written table's schema.
    out: SchemaRef,
    /// `out`, plus [`ID_TEXT`] when there is a mapping file.
    work: SchemaRef,
    chunk_rows: usize,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    /// The private directory of the spilled chunks (made at the first spill).
    spill: Option<tempfile::TempDir>,
    chunks: Vec<PathBuf>,
}

impl<'k> PseudonymizedScored<'k> {
    /// Starts writing `dest` from rows of `schema` (which has an Int64 or
    /// Utf8 `borrower_id`); with `mapping`, the mapping file too.
    pub fn create(
        key: &'k PseudonymKey,
        dest: &Path,
        mapping: Option<&Path>,
        schema: &Schema,
    ) -> Result<Self> {
        match schema.field_with_name(ID).map(|f| f.data_type()) {
            Ok(DataType::Int64 | DataType::Utf8) => {}
            _ => return Err(bad(dest, "no Int64 or Utf8 borrower_id column".into())),
        }
        let out = pseudonymized_schema(schema, &key.fingerprint());
        let mut fields: Vec<Field> = out.fields().iter().map(|f| f.as_ref().clone()).collect();
        if mapping.is_some() {
            fields.push(Field::new(ID_TEXT, DataType::Utf8, false));
        }
        let work = Arc::new(Schema::new_with_metadata(fields, out.metadata().clone()));
        Ok(Self {
            key,
            dest: dest.to_path_buf(),
            mapping: mapping.map(Path::to_path_buf),
            out,
            work,
            chunk_rows: SORT_CHUNK_ROWS,
            pending: Vec::new(),
            pending_rows: 0,
            spill: None,
            chunks: Vec::new(),
        })
    }

    /// Sorts in chunks of `rows` instead of [`SORT_CHUNK_ROWS`] (tests).
    pub fn with_chunk_rows(mut self, rows: usize) -> Self {
        self.chunk_rows = rows.max(1);
        self
    }

    /// Adds rows (with the schema given to [`PseudonymizedScored::create`]).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let schema = batch.schema();
        let at = schema
            .index_of(ID)
            .map_err(|_| bad(&self.dest, "no borrower_id column".into()))?;
        let (hashed, text) = pseudonyms(self.key, batch.column(at).as_ref(), &self.dest)?;
        let mut columns = batch.columns().to_vec();
        columns[at] = hashed;
        if self.mapping.is_some() {
            columns.push(text);
        }
        let b = RecordBatch::try_new(self.work.clone(), columns)
            .map_err(|e| bad(&self.dest, e.to_string()))?;
        self.pending_rows += b.num_rows();
        self.pending.push(b);
        if self.pending_rows >= self.chunk_rows {
            self.spill()?;
        }
        Ok(())
    }

    /// The pending rows as one batch sorted by pseudonym.
    fn sorted_pending(&mut self) -> Result<RecordBatch> {
        let all = arrow::compute::concat_batches(&self.work, &self.pending)
            .map_err(|e| bad(&self.dest, e.to_string()))?;
        self.pending.clear();
        self.pending_rows = 0;
        sort_by(
            &all,
            self.work.index_of(ID).expect("built with it"),
            &self.dest,
        )
    }

    /// Writes the pending rows, sorted, to a private temporary chunk file.
    fn spill(&mut self) -> Result<()> {
        let sorted = self.sorted_pending()?;
        if self.spill.is_none() {
            let parent = match self.dest.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let dir = tempfile::Builder::new()
                .prefix(".pseudonymize-")
                .tempdir_in(&parent)
                .map_err(|source| OutputError::Io {
                    path: self.dest.clone(),
                    action: "creating a directory for sorting",
                    source,
                })?;
            self.spill = Some(dir);
        }
        let dir = self.spill.as_ref().expect("made above").path();
        let path = dir.join(format!("chunk-{}.parquet", self.chunks.len()));
        let mut w = ParquetStream::create_private(&path, self.work.clone())?;
        for at in (0..sorted.num_rows()).step_by(MERGE_BATCH_ROWS) {
            w.write(&sorted.slice(at, MERGE_BATCH_ROWS.min(sorted.num_rows() - at)))?;
        }
        w.finish()?;
        self.chunks.push(path);
        Ok(())
    }

    /// Writes the files. `extra` are more (pseudonym, id text) pairs for the
    /// mapping file (the rejects' ids), sorted by pseudonym without
    /// repeats; those of scored rows are not repeated. Returns the rows of
    /// scored.parquet.
    pub fn finish(mut self, extra: Vec<(String, String)>) -> Result<u64> {
        let mut merge = None;
        let mut sorted = None;
        if self.chunks.is_empty() {
            sorted = Some(self.sorted_pending()?);
        } else {
            if self.pending_rows > 0 {
                self.spill()?;
            }
            merge = Some(SortedMerge::open(&self.chunks, ID)?);
        }
        let (out, dest) = (self.out.clone(), self.dest.clone());
        let id_at = self.work.index_of(ID).expect("built with it");
        let width = out.fields().len();
        let mut scored = ParquetStream::create(&dest, out.clone())?;
        let mut mapping = match &self.mapping {
            Some(path) => {
                let schema = mapping_schema(&out);
                Some(MappingWriter {
                    stream: ParquetStream::create_private(path, schema.clone())?,
                    schema,
                    extra: extra.into_iter().peekable(),
                })
            }
            None => None,
        };
        let mut put = |b: &RecordBatch| -> Result<()> {
            let cols = b.columns()[..width].to_vec();
            let rows =
                RecordBatch::try_new(out.clone(), cols).map_err(|e| bad(&dest, e.to_string()))?;
            scored.write(&rows)?;
            if let Some(m) = mapping.as_mut() {
                m.write(
                    b.column(id_at).as_string::<i32>(),
                    b.column(width).as_string::<i32>(),
                )?;
            }
            Ok(())
        };
        if let Some(sorted) = sorted {
            for at in (0..sorted.num_rows()).step_by(MERGE_BATCH_ROWS) {
                put(&sorted.slice(at, MERGE_BATCH_ROWS.min(sorted.num_rows() - at)))?;
            }
        }
        if let Some(merge) = merge.as_mut() {
            while let Some(b) = merge.next_batch()? {
                put(&b)?;
            }
        }
        let rows = scored.rows();
        scored.finish()?;
        if let Some(m) = mapping {
            m.finish()?;
        }
        Ok(rows)
    }
}

/// The mapping file, written in pseudonym order: the scored rows' pairs
/// merged with the extra pairs.
struct MappingWriter {
    stream: ParquetStream,
    schema: SchemaRef,
    extra: std::iter::Peekable<std::vec::IntoIter<(String, String)>>,
}

impl MappingWriter {
    fn write(&mut self, hashed: &StringArray, text: &StringArray) -> Result<()> {
        let mut ids: Vec<String> = Vec::with_capacity(hashed.len());
        let mut out: Vec<String> = Vec::with_capacity(hashed.len());
        for k in 0..hashed.len() {
            let p = hashed.value(k);
            while let Some((ep, _)) = self.extra.peek() {
                if ep.as_str() > p {
                    break;
                }
                let (ep, et) = self.extra.next().expect("peeked");
                if ep != p {
                    out.push(ep);
                    ids.push(et);
                }
            }
            out.push(p.to_string());
            ids.push(text.value(k).to_string());
        }
        self.put(ids, out)
    }

    fn put(&mut self, ids: Vec<String>, hashed: Vec<String>) -> Result<()> {
        let b = RecordBatch::try_new(
            self.schema.clone(),
            vec![
                Arc::new(StringArray::from(ids)),
                Arc::new(StringArray::from(hashed)),
            ],
        )
        .map_err(|e| bad(Path::new(MAPPING), e.to_string()))?;
        self.stream.write(&b)
    }

    fn finish(mut self) -> Result<()> {
        let rest: Vec<(String, String)> = self.extra.by_ref().collect();
        for part in rest.chunks(MERGE_BATCH_ROWS) {
            let (hashed, ids) = part.iter().cloned().unzip();
            self.put(ids, hashed)?;
        }
        self.stream.finish()
    }
}

/// The rejects table with each `values` object reduced to its borrower_id,
/// pseudonymized (null stays null), and the (pseudonym, id text) pairs for
/// the mapping file, sorted by pseudonym without repeats.
pub fn pseudonymize_rejects(
    key: &PseudonymKey,
    rejects: &RecordBatch,
) -> Result<(RecordBatch, Vec<(String, String)>)> {
    let here = Path::new("rejects.parquet");
    let schema = rejects.schema();
    let at = schema
        .index_of("values")
        .map_err(|_| bad(here, "no values column".into()))?;
    let values = rejects
        .column(at)
        .as_string_opt::<i32>()
        .ok_or_else(|| bad(here, "values is not a string column".into()))?;
    let mut pairs = Vec::new();
    let mut out = Vec::with_capacity(values.len());
    for k in 0..values.len() {
        let parsed: serde_json::Value = serde_json::from_str(values.value(k))
            .map_err(|e| bad(here, format!("row {k}: values is not JSON: {e}")))?;
        let id = match parsed.get(ID) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let hashed = id.map(|id| {
            let p = key.pseudonym(&id);
            pairs.push((p.clone(), id));
            p
        });
        out.push(serde_json::json!({ ID: hashed }).to_string());
    }
    pairs.sort_unstable();
    pairs.dedup_by(|a, b| a.0 == b.0);
    let mut columns = rejects.columns().to_vec();
    columns[at] = Arc::new(StringArray::from(out));
    let batch = RecordBatch::try_new(schema, columns).map_err(|e| bad(here, e.to_string()))?;
    Ok((batch, pairs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array};
    use std::collections::HashMap;

    fn key() -> PseudonymKey {
        PseudonymKey::new(b"a test key of 32 bytes, not used", "test").unwrap()
    }

    fn scored_schema(id: DataType) -> Arc<Schema> {
        Arc::new(Schema::new_with_metadata(
            vec![
                Field::new(ID, id, false),
                Field::new("p_repay", DataType::Float64, false),
            ],
            HashMap::from([("dunning.run_id".to_string(), "r1".to_string())]),
        ))
    }

    /// Rows with ids 0..n in id order, in batches of 700.
    fn batches(n: i64) -> Vec<RecordBatch> {
        (0..n)
            .step_by(700)
            .map(|lo| {
                let ids: Vec<i64> = (lo..(lo + 700).min(n)).collect();
                let p: Vec<f64> = ids.iter().map(|&i| i as f64 / n as f64).collect();
                RecordBatch::try_new(
                    scored_schema(DataType::Int64),
                    vec![
                        Arc::new(Int64Array::from(ids)),
                        Arc::new(Float64Array::from(p)),
                    ],
                )
                .unwrap()
            })
            .collect()
    }

    fn read(path: &Path) -> RecordBatch {
        let file = std::fs::File::open(path).unwrap();
        let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let b: Vec<RecordBatch> = r.map(|b| b.unwrap()).collect();
        arrow::compute::concat_batches(&b[0].schema(), &b).unwrap()
    }

    fn write(dir: &Path, chunk_rows: usize, extra: Vec<(String, String)>) -> (Vec<u8>, Vec<u8>) {
        let key = key();
        let dest = dir.join("scored.parquet");
        let map = dir.join(MAPPING);
        let mut w =
            PseudonymizedScored::create(&key, &dest, Some(&map), &scored_schema(DataType::Int64))
                .unwrap()
                .with_chunk_rows(chunk_rows);
        for b in batches(3000) {
            w.write(&b).unwrap();
        }
        assert_eq!(w.finish(extra).unwrap(), 3000);
        (std::fs::read(&dest).unwrap(), std::fs::read(&map).unwrap())
    }

    #[test]
    fn writes_pseudonyms_sorted_with_a_mapping_back_to_the_ids() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), SORT_CHUNK_ROWS, Vec::new());
        let t = read(&dir.path().join("scored.parquet"));
        assert_eq!(t.schema().field(0).data_type(), &DataType::Utf8);
        let ids = t.column(0).as_string::<i32>();
        let p = t.column(1).as_primitive::<arrow::datatypes::Float64Type>();
        let hashed: Vec<&str> = (0..t.num_rows()).map(|k| ids.value(k)).collect();
        assert!(hashed.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
        // Each row kept its values: p_repay = id / 3000.
        let key = key();
        let by_pseudonym: HashMap<String, i64> =
            (0..3000).map(|i| (key.pseudonym_of_int(i), i)).collect();
        for k in 0..t.num_rows() {
            let id = by_pseudonym[ids.value(k)];
            assert_eq!(p.value(k), id as f64 / 3000.0);
        }
        let file = std::fs::File::open(dir.path().join("scored.parquet")).unwrap();
        let footer = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        let meta: HashMap<String, String> = parquet::file::reader::FileReader::metadata(&footer)
            .file_metadata()
            .key_value_metadata()
            .unwrap()
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
            .collect();
        assert_eq!(meta[FINGERPRINT_KEY], key.fingerprint());
        assert_eq!(meta["dunning.run_id"], "r1");

        let m = read(&dir.path().join(MAPPING));
        let (orig, hashed) = (
            m.column(0).as_string::<i32>(),
            m.column(1).as_string::<i32>(),
        );
        assert_eq!(m.num_rows(), 3000);
        for k in 0..m.num_rows() {
            assert_eq!(hashed.value(k), ids.value(k), "same order as scored");
            assert_eq!(key.pseudonym(orig.value(k)), hashed.value(k));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |f: &str| {
                std::fs::metadata(dir.path().join(f))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode(MAPPING), 0o600, "the mapping file is private");
            assert_eq!(mode("scored.parquet"), 0o644);
        }
    }

    #[test]
    fn spilled_chunks_give_the_same_bytes_and_are_removed() {
        let one = tempfile::tempdir().unwrap();
        let many = tempfile::tempdir().unwrap();
        let single = write(one.path(), SORT_CHUNK_ROWS, Vec::new());
        let chunked = write(many.path(), 1000, Vec::new());
        assert!(single == chunked, "chunked sorting changes nothing");
        let mut left: Vec<String> = std::fs::read_dir(many.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [MAPPING, "scored.parquet"]);
    }

    #[test]
    fn extra_pairs_join_the_mapping_once() {
        let key = key();
        let dir = tempfile::tempdir().unwrap();
        let mut extra: Vec<(String, String)> = ["5", "99999", ""]
            .iter()
            .map(|id| (key.pseudonym(id), id.to_string()))
            .collect();
        extra.sort();
        write(dir.path(), 1000, extra);
        let m = read(&dir.path().join(MAPPING));
        let (orig, hashed) = (
            m.column(0).as_string::<i32>(),
            m.column(1).as_string::<i32>(),
        );
        assert_eq!(m.num_rows(), 3002, "5 is scored already");
        let all: Vec<&str> = (0..m.num_rows()).map(|k| hashed.value(k)).collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert!((0..m.num_rows()).any(|k| orig.value(k) == "99999"));
    }

    #[test]
    fn string_ids_hash_their_text() {
        let key = key();
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("s.parquet");
        let schema = scored_schema(DataType::Utf8);
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["B-1", "B-2"])),
                Arc::new(Float64Array::from(vec![0.5, 0.25])),
            ],
        )
        .unwrap();
        let mut w = PseudonymizedScored::create(&key, &dest, None, &schema).unwrap();
        w.write(&b).unwrap();
        w.finish(Vec::new()).unwrap();
        let t = read(&dest);
        let mut got: Vec<String> = (0..2)
            .map(|k| t.column(0).as_string::<i32>().value(k).to_string())
            .collect();
        got.sort();
        let mut want = vec![key.pseudonym("B-1"), key.pseudonym("B-2")];
        want.sort();
        assert_eq!(got, want);
        assert!(!dir.path().join(MAPPING).exists());
    }

    #[test]
    fn rejects_keep_only_a_pseudonymized_borrower_id() {
        let key = key();
        let schema = super::super::tables::rejects_schema();
        let values = [
            r#"{"borrower_id":"42","amount":"-5.0"}"#,
            r#"{"borrower_id":null}"#,
            r#"{"borrower_id":"42"}"#,
        ];
        let n = values.len();
        let text = |v: &str| Arc::new(StringArray::from(vec![v; n])) as ArrayRef;
        let b = RecordBatch::try_new(
            schema,
            vec![
                text("payments"),
                text("p.parquet"),
                Arc::new(arrow::array::UInt64Array::from(vec![1, 2, 3])),
                text("amount"),
                text("amount is negative"),
                Arc::new(StringArray::from(values.to_vec())),
            ],
        )
        .unwrap();
        let (out, pairs) = pseudonymize_rejects(&key, &b).unwrap();
        let v = out.column(5).as_string::<i32>();
        let p = key.pseudonym("42");
        assert_eq!(v.value(0), format!(r#"{{"borrower_id":"{p}"}}"#));
        assert_eq!(v.value(1), r#"{"borrower_id":null}"#);
        assert_eq!(v.value(2), v.value(0));
        assert_eq!(pairs, [(p, "42".to_string())]);
    }
}
