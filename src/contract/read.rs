//! Reading one input table from Parquet into typed Arrow columns.
//!
//! This is the only place that opens input files. It checks the file's schema
//! against the table's contract (required columns present, types castable
//! without loss), decodes only the contract's columns, and converts each to
//! one canonical Arrow type. Row values are not judged here: nulls, NaN and
//! out-of-range dates pass through to [`super::load`], which judges each row.
//!
//! Files are not trusted: every footer, page header and decode goes through
//! the checks of [`super::guard`], and a panic of the decoder becomes an
//! [`ContractError::Unreadable`] naming the file.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, DictionaryArray, Float64Array,
    Int64Array, StringArray,
};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, TimeUnit, UInt64Type};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;

use super::{guard, ColumnKind, ContractError, Partition, Result, TableSpec};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// One contract column after conversion to its canonical type.
#[derive(Debug, Clone)]
pub enum Column {
    /// An integer id (any integer width becomes Int64).
    IntId(Int64Array),
    /// A string id (Utf8, LargeUtf8, Utf8View and dictionaries become Utf8).
    StrId(StringArray),
    /// Day numbers since 1970-01-01 (Date32, Date64 and timestamps truncated
    /// to the UTC date). Kept as i64 so far-out dates can be reported, not wrapped.
    Day(Int64Array),
    /// Microseconds since 1970-01-01 00:00 (timestamps of any unit; dates at midnight).
    Micros(Int64Array),
    /// Amounts and numeric attributes as f64.
    Float(Float64Array),
    /// Booleans (Boolean, or integers that are all 0 or 1 or null).
    Bool(BooleanArray),
    /// Categorical text (channel, outcome): dictionary keys into distinct
    /// values, so each distinct value is judged once, not once per row.
    Text(DictionaryArray<Int32Type>),
}

impl Column {
    /// The value at `row` as an f64 column, when this is one.
    pub fn as_float(&self) -> Option<&Float64Array> {
        match self {
            Column::Float(a) => Some(a),
            _ => None,
        }
    }
    /// The i64 values (days or microseconds), when this is such a column.
    pub fn as_i64(&self) -> Option<&Int64Array> {
        match self {
            Column::Day(a) | Column::Micros(a) | Column::IntId(a) => Some(a),
            _ => None,
        }
    }
    /// The booleans, when this is a flag column.
    pub fn as_bool(&self) -> Option<&BooleanArray> {
        match self {
            Column::Bool(a) => Some(a),
            _ => None,
        }
    }
    /// The categorical text, when this is a text column (values are Utf8).
    pub fn as_text(&self) -> Option<&DictionaryArray<Int32Type>> {
        match self {
            Column::Text(a) => Some(a),
            _ => None,
        }
    }
}

/// An input table read from one file: its canonical columns plus the
/// original (uncast) borrower_id, kept to name the borrower of a rejected
/// row as the user gave it.
///
/// The rows are kept a decoded batch at a time ([`RawChunk`]), never
/// concatenated into one array per column: the checks of
/// [`super::load`] go through the chunks in parallel, and a copy of every
/// column into fresh memory would be work (and peak memory) for nothing.
#[derive(Debug)]
pub struct RawTable {
    /// Which contract table this is.
    pub spec: &'static TableSpec,
    /// The file it came from.
    pub path: PathBuf,
    /// Number of rows read: the file's rows, or those of one partition.
    pub rows: usize,
    /// Number of rows in the file.
    pub file_rows: usize,
    /// For a partition, the file row of each row read (None: row k is file row k).
    pub file_row_of: Option<FileRows>,
    /// Names of the contract columns present in the file, in contract
    /// order, then numeric extras: the columns of every chunk, in this order.
    pub names: Vec<String>,
    /// The rows read, in order, a batch at a time. There is always at least
    /// one chunk (an empty one when no row was read), so that every
    /// column's type is known.
    pub chunks: Vec<RawChunk>,
    /// Columns in the file that the contract does not use (ignored, listed once in the log).
    pub ignored: Vec<String>,
}

/// Consecutive rows of a [`RawTable`], as one batch was decoded.
#[derive(Debug)]
pub struct RawChunk {
    /// The table row of its first row.
    pub first: usize,
    /// Number of rows.
    pub rows: usize,
    /// Its canonical columns, in the order of [`RawTable::names`].
    pub columns: Vec<Column>,
    /// The borrower_id column as the file stored it (the other original
    /// columns are personal data that no output carries, so they are not kept).
    pub original_id: Option<ArrayRef>,
}

impl RawTable {
    /// The 0-based row of the file that row `row` was read from.
    pub fn file_row(&self, row: usize) -> u64 {
        self.file_row_of.as_ref().map_or(row as u64, |v| v.get(row))
    }

    /// Whether the file has the column `name`.
    pub fn has(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// The position of column `name` in every chunk's columns.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Column `name` of the first chunk: its type, which every chunk shares
    /// (not its rows: those are in [`RawTable::chunks`]).
    pub fn sample(&self, name: &str) -> Option<&Column> {
        let i = self.position(name)?;
        self.chunks.first().map(|c| &c.columns[i])
    }

    /// The chunk that holds table row `row`, and the row's index in it.
    pub fn locate(&self, row: usize) -> (&RawChunk, usize) {
        let k = self.chunks.partition_point(|c| c.first <= row) - 1;
        let c = &self.chunks[k];
        (c, row - c.first)
    }
}

impl RawChunk {
    /// Its column at `position` ([`RawTable::position`]).
    pub fn column(&self, position: usize) -> &Column {
        &self.columns[position]
    }
}

/// Which file row each row read came from, kept as runs of consecutive
/// file rows (a partition's rows are a few slices of each file, not
/// scattered rows): one entry per run, not a number per row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileRows {
    /// (first row read, its file row) of each run, in row order; a run
    /// lasts until the next one starts (the last, until `len`).
    runs: Vec<(usize, u64)>,
    /// Rows read.
    len: usize,
}

impl FileRows {
    /// Appends `n` rows read from file rows `file_row..file_row + n`.
    pub fn push_run(&mut self, file_row: u64, n: usize) {
        if n == 0 {
            return;
        }
        let continues = self
            .runs
            .last()
            .is_some_and(|&(r, f)| f + (self.len - r) as u64 == file_row);
        if !continues {
            self.runs.push((self.len, file_row));
        }
        self.len += n;
    }

    /// Appends the rows of `other` after these.
    pub fn append(&mut self, other: &FileRows) {
        for (k, &(r, f)) in other.runs.iter().enumerate() {
            let end = other.runs.get(k + 1).map_or(other.len, |n| n.0);
            self.push_run(f, end - r);
        }
    }

    /// Number of rows read.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no row was read.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file row of row `row` read (`row` < [`FileRows::len`]).
    pub fn get(&self, row: usize) -> u64 {
        debug_assert!(row < self.len);
        let k = self.runs.partition_point(|&(r, _)| r <= row) - 1;
        let (r, f) = self.runs[k];
        f + (row - r) as u64
    }
}

/// Opens an input file: it must exist and be a regular file.
fn open_input(path: &Path) -> Result<File> {
    let meta = std::fs::metadata(path).map_err(|source| ContractError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(ContractError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    File::open(path).map_err(|source| ContractError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// The message of a panic of the decoder, contained (see [`guard::contain`]).
fn decoder_failed(panic: &str) -> String {
    format!("the Parquet decoder gave up on this file ({panic})")
}

/// Reads and checks a file's footer: the magic numbers, the metadata
/// (decoded with panics contained) and every column chunk inside the file
/// ([`guard::check_footer`]). Returns the metadata and the file's length.
fn load_metadata(path: &Path, file: &File) -> Result<(ArrowReaderMetadata, u64)> {
    let unreadable = |message: String| ContractError::Unreadable {
        path: path.to_path_buf(),
        message,
    };
    let len = file
        .metadata()
        .map_err(|source| ContractError::Open {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    let data_end = guard::check_ends(file, len).map_err(unreadable)?;
    let meta = guard::contain(|| ArrowReaderMetadata::load(file, ArrowReaderOptions::default()))
        .map_err(|panic| unreadable(decoder_failed(&panic)))?
        .map_err(|e| unreadable(e.to_string()))?;
    guard::check_footer(meta.metadata(), data_end).map_err(unreadable)?;
    super::footer::check(meta.metadata(), len).map_err(unreadable)?;
    Ok((meta, len))
}

/// The Arrow schema of a Parquet file, from its checked footer.
pub fn file_schema(path: &Path) -> Result<arrow::datatypes::SchemaRef> {
    let file = open_input(path)?;
    Ok(load_metadata(path, &file)?.0.schema().clone())
}

/// Checks, from its footer only, that `path` is a readable Parquet file
/// with `spec`'s required columns (the errors [`read_table`] would give).
pub fn check_file(path: &Path, spec: &'static TableSpec) -> Result<()> {
    let file = open_input(path)?;
    let (meta, _) = load_metadata(path, &file)?;
    for col in spec.columns.iter().filter(|c| c.required) {
        if meta.schema().field_with_name(col.name).is_err() {
            return Err(ContractError::MissingColumn {
                path: path.to_path_buf(),
                table: spec.name,
                column: col.name,
            });
        }
    }
    Ok(())
}

/// Opens `path` and reads the columns `spec` asks for: all rows, or with
/// `partition` only the rows of that partition's borrowers (row groups
/// other partitions also need are taken from, or left in, `shared`).
pub fn read_table(
    path: &Path,
    spec: &'static TableSpec,
    partition: Option<&Partition>,
    shared: Option<&SharedGroups>,
) -> Result<RawTable> {
    let file = open_input(path)?;
    // The Parquet decoder is not written for hostile files and may panic on
    // some: `decode` contains that in each of its parts (see `guard`); this
    // is the last resort for a panic outside them.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode(path, file, spec, partition, shared)
    }));
    let unreadable = |message: String| ContractError::Unreadable {
        path: path.to_path_buf(),
        message,
    };
    let Decoded {
        fields: schema_fields,
        names,
        batches,
        file_rows,
        file_row_of,
    } = match decoded {
        Ok(Ok(v)) => v,
        Ok(Err(Decode::Parquet(e))) => return Err(unreadable(e)),
        Ok(Err(Decode::MissingColumn(column))) => {
            return Err(ContractError::MissingColumn {
                path: path.to_path_buf(),
                table: spec.name,
                column,
            })
        }
        Err(_) => {
            return Err(unreadable(decoder_failed(
                "it failed outside the contained decode",
            )))
        }
    };
    let rows = batches
        .iter()
        .map(|b| b.first().map_or(0, |a| a.len()))
        .sum();
    // Each batch's columns convert in parallel (a conversion writes a fresh
    // column only when the stored type is not the canonical one); the
    // first failing column in contract order is the one reported.
    let kinds: Vec<ColumnKind> = names
        .iter()
        .map(|n| spec.kind_of(n).unwrap_or(ColumnKind::Numeric))
        .collect();
    let width = names.len();
    let cells: Vec<(usize, usize)> = (0..batches.len())
        .flat_map(|b| (0..width).map(move |c| (b, c)))
        .collect();
    let mut converted = cells
        .par_iter()
        .map(|&(b, c)| {
            let array = &batches[b][c];
            guard::contain(|| convert(array, kinds[c]))
                .map_err(|panic| unreadable(decoder_failed(&panic)))?
                .map_err(|expected| ContractError::WrongType {
                    path: path.to_path_buf(),
                    column: names[c].clone(),
                    found: array.data_type().to_string(),
                    expected,
                })
        })
        .collect::<Vec<Result<Column>>>();
    // Batch b's column c is at b * width + c; the error reported is that
    // of the first column in contract order that fails in any batch.
    if let Some(k) = (0..converted.len())
        .filter(|&k| converted[k].is_err())
        .min_by_key(|&k| (k % width, k / width))
    {
        return Err(converted.swap_remove(k).expect_err("an error"));
    }
    let id_pos = names.iter().position(|n| n == "borrower_id");
    let mut columns = converted.into_iter().map(|c| c.expect("no error left"));
    let mut chunks = Vec::with_capacity(batches.len());
    let mut first = 0;
    for arrays in batches {
        let rows = arrays.first().map_or(0, |a| a.len());
        chunks.push(RawChunk {
            first,
            rows,
            columns: columns.by_ref().take(width).collect(),
            original_id: id_pos.map(|i| arrays[i].clone()),
        });
        first += rows;
    }
    let ignored = schema_fields
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| !names.contains(n))
        .collect();
    Ok(RawTable {
        spec,
        path: path.to_path_buf(),
        rows,
        file_rows,
        file_row_of,
        names,
        chunks,
        ignored,
    })
}

enum Decode {
    Parquet(String),
    MissingColumn(&'static str),
}

struct Decoded {
    fields: Vec<Arc<Field>>,
    /// The names of the columns decoded, in contract order, then numeric extras.
    names: Vec<String>,
    /// Each batch decoded (and kept, for a partition): its arrays in the
    /// order of `names`. At least one batch, of empty arrays when no row was kept.
    batches: Vec<Vec<ArrayRef>>,
    file_rows: usize,
    file_row_of: Option<FileRows>,
}

/// Which rows of `batch` belong to `partition`, judged on its `borrower_id`
/// column (at `pos`) in canonical form. None when the column cannot be read
/// as an id: the whole-table conversion then reports the wrong type.
fn partition_mask(batch: &RecordBatch, pos: usize, partition: &Partition) -> Option<BooleanArray> {
    let array = batch.column(pos);
    let owned = |p: u32| Some(p == partition.index);
    let mask = match convert(array, ColumnKind::Id).ok()? {
        Column::IntId(a) => a
            .iter()
            .map(|v| owned(v.map_or(Partition::NULL, |v| partition.of_int(v))))
            .collect(),
        Column::StrId(a) => a
            .iter()
            .map(|v| owned(v.map_or(Partition::NULL, |v| partition.of_str(v))))
            .collect(),
        _ => return None,
    };
    Some(mask)
}

/// The rows `from..to` of `batch` that belong to `partition`, when its
/// borrower_id column (at `pos`) is an integer id without nulls in
/// non-decreasing order and the partition is an id range: they are then
/// consecutive. None otherwise (a mask is needed).
fn sorted_span(batch: &RecordBatch, pos: usize, partition: &Partition) -> Option<(usize, usize)> {
    let (lo, hi) = partition.id_range()?;
    let Ok(Column::IntId(a)) = convert(batch.column(pos), ColumnKind::Id) else {
        return None;
    };
    if a.null_count() > 0 {
        return None;
    }
    let ids = a.values();
    if !ids.windows(2).all(|w| w[0] <= w[1]) {
        return None;
    }
    let from = ids.partition_point(|&v| v < lo);
    let to = ids.partition_point(|&v| v <= hi);
    Some((from, to.max(from)))
}

/// Whether every borrower_id of `batch` (its column at `pos`) is present
/// and inside `partition`'s id range: the footer's statistics said so, and
/// a file's statistics are not trusted further than this check.
fn ids_within(batch: &RecordBatch, pos: usize, partition: &Partition) -> bool {
    let Some((lo, hi)) = partition.id_range() else {
        return false;
    };
    match convert(batch.column(pos), ColumnKind::Id) {
        Ok(Column::IntId(a)) => {
            a.null_count() == 0
                && arrow::compute::min(&a).is_none_or(|m| m >= lo)
                && arrow::compute::max(&a).is_none_or(|m| m <= hi)
        }
        _ => false,
    }
}

/// Whether a row group with borrower_id statistics `(min, max, has_nulls)`
/// can hold rows of `partition` (under a range scheme; always otherwise).
fn overlaps(partition: &Partition, (min, max, nulls): (i64, i64, bool)) -> bool {
    match partition.id_range() {
        Some((lo, hi)) => (max >= lo && min <= hi) || (nulls && partition.index == Partition::NULL),
        None => true,
    }
}

/// How many of the partitions of `partition`'s scheme a row group with
/// statistics `(min, max, has_nulls)` can hold rows of: those whose ranges
/// meet `[min, max]` (consecutive ones), and partition 0 for null ids.
fn users_of(partition: &Partition, (min, max, nulls): (i64, i64, bool)) -> usize {
    if min > max {
        return usize::from(nulls);
    }
    let (first, last) = (partition.of_int(min), partition.of_int(max));
    (last - first) as usize + 1 + usize::from(nulls && first != Partition::NULL)
}

/// The borrower_id statistics of each row group, `(min, max, has_nulls)`,
/// when the column is a signed integer with statistics in every row group.
fn id_statistics(meta: &ArrowReaderMetadata) -> Option<Vec<(i64, i64, bool)>> {
    use parquet::file::statistics::Statistics;
    let field = meta.schema().field_with_name("borrower_id").ok()?;
    if !matches!(
        field.data_type(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
    ) {
        return None;
    }
    let leaf = meta
        .parquet_schema()
        .columns()
        .iter()
        .position(|c| c.path().parts() == ["borrower_id"])?;
    meta.metadata()
        .row_groups()
        .iter()
        .map(|rg| {
            let stats = rg.column(leaf).statistics()?;
            let nulls = stats.null_count_opt().is_none_or(|n| n > 0);
            match stats {
                Statistics::Int64(v) => Some((*v.min_opt()?, *v.max_opt()?, nulls)),
                Statistics::Int32(v) => {
                    Some((i64::from(*v.min_opt()?), i64::from(*v.max_opt()?), nulls))
                }
                _ => None,
            }
        })
        .collect()
}

/// The borrower_id range `(min, max)` of each row group of `path`, from its
/// footer, when every row group has integer statistics (None otherwise).
pub fn row_group_id_ranges(path: &Path) -> Result<Option<Vec<(i64, i64)>>> {
    let file = open_input(path)?;
    let Ok((meta, _)) = load_metadata(path, &file) else {
        return Ok(None);
    };
    Ok(id_statistics(&meta).map(|v| v.into_iter().map(|(lo, hi, _)| (lo, hi)).collect()))
}

/// Row groups shared by the partitions of one in-process run.
///
/// Under a range scheme the partitions' id ranges begin at row-group
/// boundaries of the schedule, but a row group of another table (or one a
/// borrower straddles) can hold ids of several partitions, and each of them
/// needs it. Given to every partition's load ([`super::LoadOptions::shared`]),
/// such a row group is decoded once: the first partition to ask decodes it,
/// the others take its batches (shared, not copied), and the last one to
/// take them drops them from here. Only whole row groups as stored are kept;
/// each partition filters them to its own rows.
#[derive(Default)]
pub struct SharedGroups {
    groups: Mutex<HashMap<GroupKey, Arc<SharedGroup>>>,
    /// Each file's checked footer, by file and table (kept for the run:
    /// a few kilobytes per file).
    footers: Mutex<HashMap<(PathBuf, &'static str), Footer>>,
    /// The files whose footers [`check_file`] passed, by file and table:
    /// checked once for all the partitions of a run.
    checked: Mutex<std::collections::HashSet<(PathBuf, &'static str)>>,
}

/// A file's checked footer (schema hinted for its table) and its length.
type Footer = (ArrowReaderMetadata, u64);

/// A file, the table (projection) it is read as, and a row group.
type GroupKey = (PathBuf, &'static str, usize);

type GroupBatches = std::result::Result<Vec<RecordBatch>, String>;

struct SharedGroup {
    batches: OnceLock<GroupBatches>,
    /// Partitions yet to take the batches.
    left: AtomicUsize,
}

impl std::fmt::Debug for SharedGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedGroups")
            .field("held", &self.held())
            .finish()
    }
}

impl SharedGroups {
    /// The batches of row group `key`, which `users` partitions take:
    /// decoded here by `decode` if no partition has yet.
    fn get(
        &self,
        (path, table, group): (&Path, &'static str, usize),
        users: usize,
        decode: impl FnOnce() -> GroupBatches,
    ) -> GroupBatches {
        let key = (path.to_path_buf(), table, group);
        let lock = || self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = lock()
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(SharedGroup {
                    batches: OnceLock::new(),
                    left: AtomicUsize::new(users),
                })
            })
            .clone();
        // Another partition decoding the same row group is waited for here.
        let batches = entry.batches.get_or_init(decode).clone();
        if entry.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut groups = lock();
            if groups.get(&key).is_some_and(|e| Arc::ptr_eq(e, &entry)) {
                groups.remove(&key);
            }
        }
        batches
    }

    /// The checked footer of `path` read as `table`, read by `load` if no
    /// partition has yet (a failure is not kept: each partition that asks
    /// again fails the same way).
    fn footer<E>(
        &self,
        (path, table): (&Path, &'static str),
        load: impl FnOnce() -> std::result::Result<Footer, E>,
    ) -> std::result::Result<Footer, E> {
        let key = (path.to_path_buf(), table);
        let lock = || self.footers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = lock().get(&key) {
            return Ok(f.clone());
        }
        let f = load()?;
        lock().insert(key, f.clone());
        Ok(f)
    }

    /// [`check_file`] of `path` as `spec`, unless a partition of this run
    /// has passed it already (a failure is not kept: each partition that
    /// asks again fails the same way).
    pub fn check_file(&self, path: &Path, spec: &'static TableSpec) -> Result<()> {
        let key = (path.to_path_buf(), spec.name);
        let lock = || self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        if lock().contains(&key) {
            return Ok(());
        }
        check_file(path, spec)?;
        lock().insert(key);
        Ok(())
    }

    /// Row groups held for partitions yet to take them.
    pub fn held(&self) -> usize {
        self.groups.lock().map_or(0, |g| g.len())
    }
}

/// Rows per decoded batch: large enough that per-batch overhead vanishes,
/// small enough that a partition's filter works on cache-sized pieces.
const DECODE_BATCH_ROWS: usize = 64 * 1024;

/// Decodes the projected columns of the file into batches (each the
/// arrays of one decoded batch), keeping only `partition`'s rows when
/// given. Row groups are decoded in parallel (each task with its own file
/// handle), then put back in order.
///
/// Each part runs under [`guard::contain`]; before a row group is decoded
/// its page headers are checked ([`guard::check_pages`]), and while it is,
/// its rows are held to its footer's count and the decoded bytes to the
/// file's [`guard::Budget`].
fn decode(
    path: &Path,
    file: File,
    spec: &'static TableSpec,
    partition: Option<&Partition>,
    shared: Option<&SharedGroups>,
) -> std::result::Result<Decoded, Decode> {
    let perr = |e: parquet::errors::ParquetError| Decode::Parquet(e.to_string());
    let failed = |panic: String| Decode::Parquet(decoder_failed(&panic));
    // The footer, read and checked (and its schema hinted, below) once per
    // file and table for all the partitions of a run.
    let footer = || -> std::result::Result<Footer, Decode> {
        let (meta, file_len) = load_metadata(path, &file).map_err(|e| match e {
            ContractError::Unreadable { message, .. } => Decode::Parquet(message),
            e => Decode::Parquet(e.to_string()),
        })?;
        // Categorical text columns stored as plain strings are decoded straight
        // into dictionaries (Parquet stores them dictionary-encoded): no string
        // per row is built.
        let hinted: Vec<Arc<Field>> = meta
            .schema()
            .fields()
            .iter()
            .map(|f| {
                if spec.kind_of(f.name()) == Some(ColumnKind::Text)
                    && *f.data_type() == DataType::Utf8
                {
                    Arc::new(f.as_ref().clone().with_data_type(DataType::Dictionary(
                        Box::new(DataType::Int32),
                        Box::new(DataType::Utf8),
                    )))
                } else {
                    f.clone()
                }
            })
            .collect();
        let meta = if hinted
            .iter()
            .zip(meta.schema().fields())
            .any(|(a, b)| a != b)
        {
            let hint = Arc::new(arrow::datatypes::Schema::new_with_metadata(
                hinted,
                meta.schema().metadata().clone(),
            ));
            guard::contain(|| {
                ArrowReaderMetadata::try_new(
                    meta.metadata().clone(),
                    ArrowReaderOptions::default().with_schema(hint),
                )
            })
            .map_err(failed)?
            .map_err(perr)?
        } else {
            meta
        };
        Ok((meta, file_len))
    };
    let (meta, file_len) = match shared {
        Some(cache) => cache.footer((path, spec.name), footer)?,
        None => footer()?,
    };
    let fields: Vec<Arc<Field>> = meta.schema().fields().iter().cloned().collect();
    for col in spec.columns.iter().filter(|c| c.required) {
        if !fields.iter().any(|f| f.name() == col.name) {
            return Err(Decode::MissingColumn(col.name));
        }
    }
    // Contract columns in contract order, then (for tables that take them)
    // numeric extra columns in file order.
    let mut wanted: Vec<usize> = spec
        .columns
        .iter()
        .filter_map(|c| fields.iter().position(|f| f.name() == c.name))
        .collect();
    if spec.numeric_extras {
        for (i, f) in fields.iter().enumerate() {
            if spec.kind_of(f.name()).is_none() && is_numeric(f.data_type()) {
                wanted.push(i);
            }
        }
    }
    let mut sorted = wanted.clone();
    sorted.sort_unstable();
    let mask = ProjectionMask::roots(meta.parquet_schema(), sorted.iter().copied());
    // The leaf columns the projection decodes (whose pages are checked).
    let schema = meta.parquet_schema();
    let leaves: Vec<usize> = (0..schema.num_columns())
        .filter(|&l| sorted.binary_search(&schema.get_column_root_idx(l)).is_ok())
        .collect();
    let budget = guard::Budget::for_file(file_len);
    // Every contract table has a borrower_id.
    let id_pos = partition.filter(|p| p.count > 1).and_then(|_| {
        let i = fields.iter().position(|f| f.name() == "borrower_id")?;
        sorted.binary_search(&i).ok()
    });
    // Under a range scheme, row groups whose id statistics lie outside the
    // partition's range are not decoded at all (their rows belong to other
    // partitions); nulls belong to partition 0.
    let stats = partition
        .and_then(|p| p.id_range())
        .and_then(|_| id_statistics(&meta));
    let wanted_group = |g: usize| -> bool {
        match (partition, &stats) {
            (Some(p), Some(st)) => overlaps(p, st[g]),
            _ => true,
        }
    };
    // A row group whose ids all lie inside the range (and has no null id,
    // which belongs to partition 0) is kept whole, without a mask.
    let whole_group = |g: usize| -> bool {
        match (partition.and_then(|p| p.id_range()), &stats) {
            (Some((lo, hi)), Some(st)) => {
                let (min, max, nulls) = st[g];
                min >= lo && max <= hi && !nulls
            }
            _ => false,
        }
    };
    let groups: Vec<(usize, usize)> = {
        let mut start = 0;
        meta.metadata()
            .row_groups()
            .iter()
            .enumerate()
            .map(|(g, rg)| {
                let s = start;
                start += usize::try_from(rg.num_rows()).unwrap_or(0);
                (g, s)
            })
            .collect()
    };
    // A row group whose ids span several partitions' ranges is decoded once
    // for all of them when the run shares its row groups.
    let shared = match (shared, partition, &stats) {
        (Some(cache), Some(p), Some(st)) if p.count > 1 => Some((cache, p, st)),
        _ => None,
    };
    // The row group's batches as stored (unfiltered), its rows held to the
    // footer's count and its bytes to the file's budget while decoding.
    let read_group = |g: usize, expected: usize| -> std::result::Result<Vec<RecordBatch>, String> {
        let handle = File::open(path).map_err(|e| e.to_string())?;
        guard::check_pages(&handle, meta.metadata(), g, &leaves)?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, meta.clone())
            .with_row_groups(vec![g])
            .with_projection(mask.clone())
            .with_batch_size(DECODE_BATCH_ROWS)
            .build()
            .map_err(|e| e.to_string())?;
        let mut batches = Vec::new();
        let mut rows = 0;
        for batch in reader {
            let batch = batch.map_err(|e| e.to_string())?;
            budget.charge(batch.get_array_memory_size())?;
            rows += batch.num_rows();
            if rows > expected {
                return Err(format!(
                    "row group {g} holds more rows than the {expected} its footer says"
                ));
            }
            batches.push(batch);
        }
        if rows != expected {
            return Err(format!(
                "row group {g} holds {rows} rows; its footer says {expected}"
            ));
        }
        Ok(batches)
    };
    // One task per row group: its batches, filtered to the partition, and
    // (when filtering) the file rows kept.
    type Piece = (Vec<RecordBatch>, FileRows, usize);
    let decode_group = |g: usize, first_row: usize| -> std::result::Result<Piece, Decode> {
        let expected = usize::try_from(meta.metadata().row_group(g).num_rows()).unwrap_or(0);
        if !wanted_group(g) {
            return Ok((Vec::new(), FileRows::default(), expected));
        }
        let users = shared.map_or(1, |(_, p, st)| users_of(p, st[g]));
        let stored = match shared {
            Some((cache, ..)) if users > 1 => {
                cache.get((path, spec.name, g), users, || read_group(g, expected))
            }
            _ => read_group(g, expected),
        }
        .map_err(Decode::Parquet)?;
        let whole = whole_group(g);
        let mut batches = Vec::with_capacity(stored.len());
        let mut kept = FileRows::default();
        let mut row = first_row;
        for batch in stored {
            let n = batch.num_rows();
            let batch = match (id_pos, partition) {
                (Some(pos), Some(p)) => {
                    // A row group inside the range is kept whole; one on its
                    // edge, in id order (as the range scheme expects), keeps
                    // one slice; otherwise each row is judged.
                    let span = if whole && ids_within(&batch, pos, p) {
                        Some((0, n))
                    } else {
                        sorted_span(&batch, pos, p)
                    };
                    if let Some((from, to)) = span {
                        kept.push_run((row + from) as u64, to - from);
                        batch.slice(from, to - from)
                    } else if let Some(m) = partition_mask(&batch, pos, p) {
                        for (from, to) in m.values().set_slices() {
                            kept.push_run((row + from) as u64, to - from);
                        }
                        filter_record_batch(&batch, &m)
                            .map_err(|e| Decode::Parquet(e.to_string()))?
                    } else {
                        kept.push_run(row as u64, n);
                        batch
                    }
                }
                _ => batch,
            };
            row += n;
            batches.push(batch);
        }
        Ok((batches, kept, expected))
    };
    let pieces: Vec<Piece> = groups
        .par_iter()
        .map(|&(g, first_row)| {
            // Contained in the task, on the thread that runs it (see `guard::contain`).
            guard::contain(|| decode_group(g, first_row)).unwrap_or_else(|p| Err(failed(p)))
        })
        .collect::<std::result::Result<_, _>>()?;
    let file_rows = pieces.iter().map(|p| p.2).sum();
    let file_row_of = id_pos.map(|_| {
        let mut rows = FileRows::default();
        for p in &pieces {
            rows.append(&p.1);
        }
        rows
    });
    // The batches stay as decoded: no column is copied into one array.
    let positions: Vec<usize> = wanted
        .iter()
        .map(|i| sorted.binary_search(i).expect("projected column index"))
        .collect();
    let mut batches: Vec<Vec<ArrayRef>> = pieces
        .into_iter()
        .flat_map(|p| p.0)
        .filter(|b| b.num_rows() > 0)
        .map(|b| positions.iter().map(|&pos| b.column(pos).clone()).collect())
        .collect();
    if batches.is_empty() {
        batches.push(
            wanted
                .iter()
                .map(|&i| arrow::array::new_empty_array(fields[i].data_type()))
                .collect(),
        );
    }
    let names = wanted.iter().map(|&i| fields[i].name().clone()).collect();
    Ok(Decoded {
        fields,
        names,
        batches,
        file_rows,
        file_row_of,
    })
}

/// Whether a column of type `t` can be an amount or a numeric attribute.
pub(crate) fn is_numeric(t: &DataType) -> bool {
    t.is_integer()
        || t.is_floating()
        || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))
}

fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_text(v),
        _ => false,
    }
}

/// Converts `array` to the canonical type of `kind`; on failure returns what was expected.
fn convert(array: &ArrayRef, kind: ColumnKind) -> std::result::Result<Column, &'static str> {
    let t = array.data_type();
    let utf8 = |a: &ArrayRef| -> StringArray {
        cast(a, &DataType::Utf8)
            .expect("text types cast to Utf8")
            .as_string::<i32>()
            .clone()
    };
    match kind {
        ColumnKind::Id => {
            const EXPECTED: &str = "an integer or string id";
            if is_text(t) {
                Ok(Column::StrId(utf8(array)))
            } else if *t == DataType::UInt64 {
                // Values above i64::MAX cannot be kept; they become nulls and
                // are rejected as such, with the original value in the rejects.
                let a = array.as_primitive::<UInt64Type>();
                Ok(Column::IntId(
                    a.iter()
                        .map(|v| v.and_then(|v| i64::try_from(v).ok()))
                        .collect(),
                ))
            } else if t.is_integer() {
                let c = cast(array, &DataType::Int64).map_err(|_| EXPECTED)?;
                Ok(Column::IntId(c.as_primitive::<Int64Type>().clone()))
            } else {
                Err(EXPECTED)
            }
        }
        ColumnKind::Date => days(array).map(Column::Day).ok_or("a Date (or Datetime)"),
        ColumnKind::DateTime => micros(array)
            .map(Column::Micros)
            .ok_or("a Datetime (or Date)"),
        ColumnKind::Amount | ColumnKind::Numeric => {
            if !is_numeric(t) {
                return Err("a number (float, integer or decimal)");
            }
            let c = cast(array, &DataType::Float64).map_err(|_| "a number")?;
            Ok(Column::Float(
                c.as_primitive::<arrow::datatypes::Float64Type>().clone(),
            ))
        }
        ColumnKind::Flag => flags(array)
            .map(Column::Bool)
            .ok_or("a Boolean (or integers 0/1)"),
        ColumnKind::Text => {
            if !is_text(t) {
                return Err("a string");
            }
            // Read as a dictionary already (see `decode`), this is cheap;
            // other text types are dictionary-encoded here.
            let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
            let c = cast(array, &dict).map_err(|_| "a string")?;
            Ok(Column::Text(c.as_dictionary::<Int32Type>().clone()))
        }
    }
}

fn unit_per_day(unit: &TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 86_400,
        TimeUnit::Millisecond => 86_400_000,
        TimeUnit::Microsecond => MICROS_PER_DAY,
        TimeUnit::Nanosecond => 86_400_000_000_000,
    }
}

/// Raw i64 values of a temporal array with their units per day.
fn temporal(array: &ArrayRef) -> Option<(Int64Array, i64)> {
    // `unary` maps the values buffer in one vectorizable pass and keeps the
    // null buffer as it is (the values under nulls are mapped too, harmlessly).
    match array.data_type() {
        DataType::Date32 => {
            let a = array.as_primitive::<arrow::datatypes::Date32Type>();
            Some((a.unary(i64::from), 1))
        }
        DataType::Date64 => {
            let a = array.as_primitive::<arrow::datatypes::Date64Type>();
            Some((a.reinterpret_cast::<Int64Type>(), 86_400_000))
        }
        DataType::Timestamp(unit, _) => {
            let c = cast(array, &DataType::Int64).ok()?;
            Some((c.as_primitive::<Int64Type>().clone(), unit_per_day(unit)))
        }
        _ => None,
    }
}

/// Whole days since 1970-01-01 (floor), for Date32, Date64 and timestamps.
fn days(array: &ArrayRef) -> Option<Int64Array> {
    let (values, per_day) = temporal(array)?;
    Some(if per_day == 1 {
        values
    } else {
        values.unary(|v| v.div_euclid(per_day))
    })
}

/// Microseconds since the epoch; values that overflow become i64::MIN (out of range).
fn micros(array: &ArrayRef) -> Option<Int64Array> {
    let (values, per_day) = temporal(array)?;
    Some(if per_day == MICROS_PER_DAY {
        values
    } else if per_day > MICROS_PER_DAY {
        let per_micro = per_day / MICROS_PER_DAY;
        values.unary(|v| v.div_euclid(per_micro))
    } else {
        let scale = MICROS_PER_DAY / per_day;
        values.unary(|v| v.checked_mul(scale).unwrap_or(i64::MIN))
    })
}

/// Booleans, or integers that are all 0, 1 or null.
fn flags(array: &ArrayRef) -> Option<BooleanArray> {
    if *array.data_type() == DataType::Boolean {
        return Some(array.as_boolean().clone());
    }
    if !array.data_type().is_integer() {
        return None;
    }
    let c = cast(array, &DataType::Int64).ok()?;
    let ints = c.as_primitive::<Int64Type>();
    let mut b = BooleanBuilder::with_capacity(ints.len());
    for v in ints.iter() {
        match v {
            None => b.append_null(),
            Some(0) => b.append_value(false),
            Some(1) => b.append_value(true),
            Some(_) => return None,
        }
    }
    Some(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_rows_are_kept_as_runs() {
        let mut a = FileRows::default();
        a.push_run(10, 3); // rows 0..3 <- file 10..13
        a.push_run(13, 2); // continues the run
        a.push_run(20, 0); // nothing
        a.push_run(40, 1); // row 5 <- file 40
        assert_eq!(a.runs, vec![(0, 10), (5, 40)]);
        let mut b = FileRows::default();
        b.push_run(41, 2); // continues a's last run once appended
        b.push_run(7, 1);
        let mut all = a.clone();
        all.append(&b);
        assert_eq!(all.len(), 9);
        let got: Vec<u64> = (0..all.len()).map(|r| all.get(r)).collect();
        assert_eq!(got, vec![10, 11, 12, 13, 14, 40, 41, 42, 7]);
        assert_eq!(all.runs.len(), 3);
        assert!(FileRows::default().is_empty());
    }
    use arrow::array::{Date32Array, Int32Array, TimestampMillisecondArray};

    #[test]
    fn converts_dates_and_times() {
        let ts: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![
            Some(86_400_000 + 5),
            Some(-1),
            None,
        ]));
        let d = days(&ts).unwrap();
        assert_eq!(d.iter().collect::<Vec<_>>(), vec![Some(1), Some(-1), None]);
        let m = micros(&ts).unwrap();
        assert_eq!(m.value(0), MICROS_PER_DAY + 5_000);
        let d32: ArrayRef = Arc::new(Date32Array::from(vec![10]));
        assert_eq!(micros(&d32).unwrap().value(0), 10 * MICROS_PER_DAY);
        let d64: ArrayRef = Arc::new(arrow::array::Date64Array::from(vec![
            Some(-1),
            None,
            Some(86_400_000),
        ]));
        let d = days(&d64).unwrap();
        assert_eq!(d.iter().collect::<Vec<_>>(), vec![Some(-1), None, Some(1)]);
        let us: ArrayRef = Arc::new(arrow::array::TimestampMicrosecondArray::from(vec![
            Some(MICROS_PER_DAY * 3 - 1),
            None,
        ]));
        assert_eq!(days(&us).unwrap().value(0), 2);
        assert_eq!(micros(&us).unwrap().value(0), MICROS_PER_DAY * 3 - 1);
        assert!(micros(&us).unwrap().is_null(1));
        let ns: ArrayRef = Arc::new(arrow::array::TimestampNanosecondArray::from(vec![-1]));
        assert_eq!(micros(&ns).unwrap().value(0), -1);
        assert_eq!(days(&ns).unwrap().value(0), -1);
        // A far date in seconds overflows microseconds: out of range.
        let far: ArrayRef = Arc::new(arrow::array::TimestampSecondArray::from(vec![i64::MAX / 2]));
        assert_eq!(micros(&far).unwrap().value(0), i64::MIN);
    }

    #[test]
    fn flags_accept_zero_one_only() {
        let ok: ArrayRef = Arc::new(Int32Array::from(vec![Some(0), Some(1), None]));
        let f = flags(&ok).unwrap();
        assert!(!f.value(0) && f.value(1) && f.is_null(2));
        let bad: ArrayRef = Arc::new(Int32Array::from(vec![0, 2]));
        assert!(flags(&bad).is_none());
    }

    #[test]
    fn rejects_float_ids_and_text_amounts() {
        let f: ArrayRef = Arc::new(Float64Array::from(vec![1.0]));
        assert!(convert(&f, ColumnKind::Id).is_err());
        let s: ArrayRef = Arc::new(StringArray::from(vec!["1.0"]));
        assert!(convert(&s, ColumnKind::Amount).is_err());
        assert!(convert(&s, ColumnKind::Date).is_err());
    }

    fn ranges(starts: Vec<i64>, index: u32) -> Partition {
        Partition {
            index,
            count: starts.len() as u32 + 1,
            scheme: super::super::PartitionScheme::Ranges { starts },
        }
    }

    #[test]
    fn a_row_group_has_as_many_users_as_partitions_it_overlaps() {
        let starts = vec![10, 20, 30];
        for stat in [
            (0, 5, false),
            (5, 15, false),
            (12, 35, false),
            (20, 29, true),
            (0, 100, true),
            (30, 30, false),
            (i64::MIN, i64::MAX, false),
        ] {
            let overlapping = (0..4)
                .filter(|&k| overlaps(&ranges(starts.clone(), k), stat))
                .count();
            assert_eq!(
                users_of(&ranges(starts.clone(), 2), stat),
                overlapping,
                "{stat:?}"
            );
        }
    }

    #[test]
    fn an_edge_row_group_in_id_order_keeps_one_slice() {
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![8, 9, 10, 10, 15, 19, 20, 21]));
        let batch = RecordBatch::try_from_iter([("borrower_id", ids)]).unwrap();
        let p = ranges(vec![10, 20], 1);
        assert_eq!(sorted_span(&batch, 0, &p), Some((2, 6)));
        assert_eq!(
            sorted_span(&batch, 0, &ranges(vec![10, 20], 0)),
            Some((0, 2))
        );
        assert_eq!(
            sorted_span(&batch, 0, &ranges(vec![30, 40], 2)),
            Some((8, 8))
        );
        // Out of order, or with a null id: each row is judged instead.
        let unsorted: ArrayRef = Arc::new(Int64Array::from(vec![10, 9]));
        let batch = RecordBatch::try_from_iter([("borrower_id", unsorted)]).unwrap();
        assert_eq!(sorted_span(&batch, 0, &p), None);
        let nulls: ArrayRef = Arc::new(Int64Array::from(vec![Some(10), None]));
        let batch = RecordBatch::try_from_iter([("borrower_id", nulls)]).unwrap();
        assert_eq!(sorted_span(&batch, 0, &p), None);
    }

    #[test]
    fn a_shared_row_group_is_decoded_once_and_dropped_by_its_last_user() {
        let shared = SharedGroups::default();
        let decoded = std::sync::atomic::AtomicUsize::new(0);
        let decode = || {
            decoded.fetch_add(1, Ordering::SeqCst);
            let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
            Ok(vec![
                RecordBatch::try_from_iter([("borrower_id", ids)]).unwrap()
            ])
        };
        let key = (Path::new("a.parquet"), "schedule", 3);
        let first = shared.get(key, 3, decode).unwrap();
        assert_eq!(shared.held(), 1);
        let second = shared.get(key, 3, decode).unwrap();
        assert_eq!(first[0].num_rows(), second[0].num_rows());
        assert_eq!(shared.held(), 1);
        // Another table's reading of the same row group is another entry.
        shared
            .get((Path::new("a.parquet"), "payments", 3), 1, decode)
            .unwrap();
        assert_eq!(shared.held(), 1);
        shared.get(key, 3, decode).unwrap();
        assert_eq!(shared.held(), 0);
        assert_eq!(decoded.load(Ordering::SeqCst), 2);
        // A failed decode is shared too (every user gets the error).
        let failing = || Err("bad page".to_string());
        assert!(shared.get(key, 2, failing).is_err());
        assert!(shared.get(key, 2, decode).is_err());
        assert_eq!(shared.held(), 0);
    }
}
