//! Output: the output tables and writing files atomically.
//!
//! Every file dunning produces goes through this module. A file is written to a
//! temporary file in the destination directory, flushed to disk, and only then
//! renamed over the destination, so a reader (or a crashed run) never sees half
//! a file. This module does not decide *what* to write; callers build the
//! Arrow batches and JSON values.

pub mod dir;
pub mod merge;
pub mod pseudonymize;
pub mod spill;
pub mod tables;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

/// Errors raised while writing an output file.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The file system refused an operation (create, write, sync, rename).
    #[error("{path}: {action}: {source}")]
    Io {
        /// The destination being written.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The Parquet encoder failed.
    #[error("{path}: writing Parquet: {source}")]
    Parquet {
        /// The destination being written.
        path: PathBuf,
        /// The underlying error.
        source: parquet::errors::ParquetError,
    },
    /// JSON serialization failed.
    #[error("{path}: writing JSON: {source}")]
    Json {
        /// The destination being written.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, OutputError>;

/// Environment variable naming an output file whose write fails just before
/// its rename (fault injection for tests; never set in production).
pub const FAIL_BEFORE_RENAME: &str = "DUNNING_FAIL_BEFORE_RENAME";

/// Rows per Parquet row group. 128k rows keeps row groups a few MB, which
/// readers can skip and decode in parallel, without bloating the footer.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Writer properties shared by every Parquet output: zstd level 1 (fast to
/// write, a fraction of the size of uncompressed), a fixed `created_by` so the
/// bytes do not depend on the library build, and bounded row groups. The
/// columns whose values are (nearly) all distinct, the borrower id and the
/// probability, are not dictionary-encoded: the writer would hash every
/// value into a dictionary only to give it up once it grows too large.
pub fn writer_properties() -> WriterProperties {
    use parquet::schema::types::ColumnPath;
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("1 is a valid zstd level"),
        ))
        .set_column_dictionary_enabled(ColumnPath::from("borrower_id"), false)
        .set_column_dictionary_enabled(ColumnPath::from("p_repay"), false)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("dunning {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A file being written: a temporary file next to the destination that becomes
/// the destination only on [`AtomicFile::commit`]. Dropping it without
/// committing removes the temporary file and leaves any previous file intact.
pub struct AtomicFile {
    dest: PathBuf,
    tmp: tempfile::NamedTempFile,
    /// Readable by others (0644) or by the owner only (0600).
    #[cfg_attr(not(unix), allow(dead_code))]
    private: bool,
}

impl AtomicFile {
    /// Opens a temporary file in the directory of `dest` (created if missing).
    pub fn create(dest: &Path) -> Result<Self> {
        Self::create_with(dest, false)
    }

    /// Like [`AtomicFile::create`], but the file stays readable by its owner
    /// only (on Unix, mode 0600), for sensitive outputs.
    pub fn create_private(dest: &Path) -> Result<Self> {
        Self::create_with(dest, true)
    }

    fn create_with(dest: &Path, private: bool) -> Result<Self> {
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|source| OutputError::Io {
            path: dest.to_path_buf(),
            action: "creating the output directory",
            source,
        })?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|source| OutputError::Io {
                path: dest.to_path_buf(),
                action: "creating a temporary file",
                source,
            })?;
        Ok(Self {
            dest: dest.to_path_buf(),
            tmp,
            private,
        })
    }

    /// The destination path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The open temporary file, for writing.
    pub fn file(&self) -> &File {
        self.tmp.as_file()
    }

    /// Flushes the data to disk and renames the temporary file over the destination.
    pub fn commit(self) -> Result<()> {
        let dest = self.dest;
        // Fault injection for the tests of interrupted runs: with
        // DUNNING_FAIL_BEFORE_RENAME naming this file, the write fails right
        // before the rename, as a crash or a full disk would.
        if std::env::var_os(FAIL_BEFORE_RENAME)
            .is_some_and(|v| dest.file_name().is_some_and(|n| n == v.as_os_str()))
        {
            return Err(OutputError::Io {
                path: dest,
                action: "renaming the temporary file into place",
                source: std::io::Error::other(format!("injected failure ({FAIL_BEFORE_RENAME})")),
            });
        }
        // Temporary files are created private (0600); outputs are ordinary
        // files that the downstream readers of this directory can open,
        // unless they were asked to stay private.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = if self.private { 0o600 } else { 0o644 };
            let perms = std::fs::Permissions::from_mode(mode);
            self.tmp
                .as_file()
                .set_permissions(perms)
                .map_err(|source| OutputError::Io {
                    path: dest.clone(),
                    action: "setting permissions",
                    source,
                })?;
        }
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|source| OutputError::Io {
                path: dest.clone(),
                action: "syncing",
                source,
            })?;
        self.tmp.persist(&dest).map_err(|e| OutputError::Io {
            path: dest.clone(),
            action: "renaming the temporary file into place",
            source: e.error,
        })?;
        Ok(())
    }
}

/// A Parquet file written batch by batch (row groups are flushed as they
/// fill, so memory stays bounded) that appears at its destination only on
/// [`ParquetStream::finish`]; dropped unfinished, it leaves nothing.
pub struct ParquetStream {
    dest: PathBuf,
    file: AtomicFile,
    writer: ArrowWriter<File>,
    rows: u64,
}

impl ParquetStream {
    /// Starts writing `dest` with `schema` (its metadata also goes to the
    /// footer's key-value metadata, sorted by key, where readers other than
    /// Arrow look for it).
    pub fn create(dest: &Path, schema: Arc<Schema>) -> Result<Self> {
        Self::create_in(AtomicFile::create(dest)?, schema)
    }

    /// Like [`ParquetStream::create`], but the file stays readable by its
    /// owner only (see [`AtomicFile::create_private`]).
    pub fn create_private(dest: &Path, schema: Arc<Schema>) -> Result<Self> {
        Self::create_in(AtomicFile::create_private(dest)?, schema)
    }

    fn create_in(file: AtomicFile, schema: Arc<Schema>) -> Result<Self> {
        let owned = file.dest().to_path_buf();
        let dest = owned.as_path();
        let handle = file.file().try_clone().map_err(|source| OutputError::Io {
            path: dest.to_path_buf(),
            action: "opening the temporary file",
            source,
        })?;
        let mut kv: Vec<KeyValue> = schema
            .metadata()
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        kv.sort_by(|a, b| a.key.cmp(&b.key));
        let props = WriterProperties::into_builder(writer_properties())
            .set_key_value_metadata((!kv.is_empty()).then_some(kv))
            .build();
        let writer = ArrowWriter::try_new(handle, schema, Some(props)).map_err(|source| {
            OutputError::Parquet {
                path: dest.to_path_buf(),
                source,
            }
        })?;
        Ok(Self {
            dest: dest.to_path_buf(),
            file,
            writer,
            rows: 0,
        })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(batch)
            .map_err(|source| OutputError::Parquet {
                path: self.dest.clone(),
                source,
            })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the footer, syncs and renames the file into place.
    pub fn finish(self) -> Result<()> {
        self.writer.close().map_err(|source| OutputError::Parquet {
            path: self.dest.clone(),
            source,
        })?;
        self.file.commit()
    }
}

/// Writes `batches` (all with `schema`) to `dest` as Parquet, atomically.
pub fn write_parquet(dest: &Path, schema: Arc<Schema>, batches: &[RecordBatch]) -> Result<()> {
    let mut w = ParquetStream::create(dest, schema)?;
    for batch in batches {
        w.write(batch)?;
    }
    w.finish()
}

/// Writes `value` to `dest` as pretty-printed JSON with a trailing newline, atomically.
pub fn write_json<T: serde::Serialize>(dest: &Path, value: &T) -> Result<()> {
    let file = AtomicFile::create(dest)?;
    {
        let mut w = BufWriter::new(file.file());
        serde_json::to_writer_pretty(&mut w, value).map_err(|source| OutputError::Json {
            path: dest.to_path_buf(),
            source,
        })?;
        w.write_all(b"\n")
            .and_then(|_| w.flush())
            .map_err(|source| OutputError::Io {
                path: dest.to_path_buf(),
                action: "writing",
                source,
            })?;
    }
    file.commit()
}

/// Writes `text` to `dest`, atomically.
pub fn write_text(dest: &Path, text: &str) -> Result<()> {
    let file = AtomicFile::create(dest)?;
    file.file()
        .write_all(text.as_bytes())
        .map_err(|source| OutputError::Io {
            path: dest.to_path_buf(),
            action: "writing",
            source,
        })?;
    file.commit()
}

/// Removes `path` if it exists (a stale output of an earlier run that this run
/// would not produce, such as a rejects file when there are no rejects now).
pub fn remove_stale(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(OutputError::Io {
            path: path.to_path_buf(),
            action: "removing a stale output",
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field};

    #[test]
    fn parquet_write_is_atomic_and_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        let a = dir.path().join("a.parquet");
        let b = dir.path().join("sub/b.parquet");
        write_parquet(&a, schema.clone(), std::slice::from_ref(&batch)).unwrap();
        write_parquet(&b, schema, &[batch]).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn dropped_file_leaves_previous_output() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("x.json");
        write_json(&dest, &serde_json::json!({"v": 1})).unwrap();
        let f = AtomicFile::create(&dest).unwrap();
        drop(f);
        let text = std::fs::read_to_string(&dest).unwrap();
        assert!(text.contains("\"v\": 1"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
