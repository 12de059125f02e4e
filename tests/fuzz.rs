//! The fuzz target (`fuzz/`) in the normal test suite.
//!
//! - Its seed corpus (`fuzz/seeds/ledger/`): how it is made from the sample
//!   ledger, a check that the committed files are what this makes
//!   (`DUNNING_BLESS=1 cargo test --test fuzz` rewrites them), and the fuzz
//!   property run on every seed through the same harness as the fuzz target
//!   (`fuzz/harness.rs`). Each seed is one selector byte and one Parquet file
//!   (see the harness). The files hold a few borrowers of `data/sample/` plus
//!   the sample's defective rows, written with several encodings,
//!   compressions, row-group sizes and column types; a few are damaged on
//!   purpose (a page overwritten, the footer cut), so the fuzzer starts from
//!   the error paths too.
//! - What the fuzzer found, each rebuilt from a small generated input (a
//!   valid file with one footer field changed, or a seed with the few bytes
//!   the fuzzer changed) and run through the real binary, which must report
//!   bad input (exit 65) naming the file, and write nothing.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Once};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch,
};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{
    ColumnChunkMetaData, ParquetMetaData, ParquetMetaDataReader, ParquetMetaDataWriter,
    RowGroupMetaData,
};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};

use common::{assert_exit, day, repo, sample, stderr, Workdir};
use dunning::error::ErrorKind;

#[allow(dead_code)]
#[path = "../fuzz/harness.rs"]
mod harness;

use harness::{Harness, Input, TABLES};

/// Borrowers of the sample kept in the seeds (ids 1..=BORROWERS).
const BORROWERS: i64 = 6;

/// The committed seed corpus, rewritten first (once) under `DUNNING_BLESS`.
fn seeds_dir() -> PathBuf {
    static BLESS: Once = Once::new();
    let dir = PathBuf::from(repo("fuzz/seeds/ledger"));
    if std::env::var_os("DUNNING_BLESS").is_some() {
        BLESS.call_once(|| {
            std::fs::create_dir_all(&dir).unwrap();
            for e in std::fs::read_dir(&dir).unwrap() {
                std::fs::remove_file(e.unwrap().path()).unwrap();
            }
            for (name, bytes) in seeds() {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        });
    }
    dir
}

/// A few borrowers of a sample table, plus its trailing defective rows
/// (`defects` of them, see data/README.md).
fn small(table: &str, defects: usize) -> RecordBatch {
    let batch = common::read_parquet(Path::new(&sample(table)));
    let ids = batch
        .column_by_name("borrower_id")
        .expect("borrower_id")
        .as_primitive::<Int64Type>();
    let n = ids.len();
    let keep: BooleanArray = (0..n)
        .map(|i| Some((1..=BORROWERS).contains(&ids.value(i)) || i >= n - defects))
        .collect();
    filter_record_batch(&batch, &keep).expect("filter")
}

/// The table with column `name` replaced by `array` (or dropped when None).
fn with(batch: &RecordBatch, name: &str, array: Option<ArrayRef>) -> RecordBatch {
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        if f.name() != name {
            fields.push(f.as_ref().clone());
            columns.push(c.clone());
        } else if let Some(a) = &array {
            fields.push(Field::new(name, a.data_type().clone(), true));
            columns.push(a.clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("batch")
}

/// The table with column `name` cast to `to`.
fn cast_column(batch: &RecordBatch, name: &str, to: DataType) -> RecordBatch {
    let c = batch.column_by_name(name).expect("column");
    with(batch, name, Some(cast(c, &to).expect("cast")))
}

fn props() -> parquet::file::properties::WriterPropertiesBuilder {
    // A fixed created_by: the seeds do not change with the parquet version.
    WriterProperties::builder().set_created_by("dunning fuzz seeds".into())
}

fn parquet(batch: &RecordBatch, props: WriterProperties) -> Vec<u8> {
    let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).expect("writer");
    w.write(batch).expect("write");
    w.into_inner().expect("close")
}

/// `bytes` with `len` bytes from its middle inverted (a damaged page).
fn damaged(mut bytes: Vec<u8>, len: usize) -> Vec<u8> {
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + len] {
        *b = !*b;
    }
    bytes
}

/// `bytes` with `len` bytes of its footer metadata removed (the length and
/// magic at the end kept).
fn cut(mut bytes: Vec<u8>, len: usize) -> Vec<u8> {
    let end = bytes.len() - 8;
    bytes.drain(end - len..end);
    bytes
}

/// The seed corpus: file name -> selector byte and Parquet bytes.
fn seeds() -> BTreeMap<String, Vec<u8>> {
    let tables = [
        small("schedule", 3),
        small("payments", 4),
        small("borrowers", 1),
        small("contacts", 4),
    ];
    let mut out = BTreeMap::new();
    let mut add = |name: String, selector: u8, bytes: Vec<u8>| {
        let mut seed = vec![selector];
        seed.extend(bytes);
        out.insert(name, seed);
    };
    for (t, (table, batch)) in TABLES.iter().zip(&tables).enumerate() {
        let plain = Input::selector(t, None, false);
        let valid = parquet(batch, props().build());
        add(format!("{table}-valid"), plain, valid.clone());
        // Several row groups with page statistics, read as partition 0 of 2.
        let grouped = props()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(16))
            .set_statistics_enabled(EnabledStatistics::Page)
            .build();
        let grouped = parquet(batch, grouped);
        add(
            format!("{table}-snappy-groups"),
            Input::selector(t, Some((0, 2)), false),
            grouped.clone(),
        );
        // No dictionaries, data pages v2, small pages, zstd; partition 2 of 3.
        let v2 = props()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_dictionary_enabled(false)
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .set_data_page_row_count_limit(20)
            .build();
        add(
            format!("{table}-zstd-v2"),
            Input::selector(t, Some((2, 3)), false),
            parquet(batch, v2),
        );
        add(format!("{table}-damaged-page"), plain, damaged(grouped, 24));
        add(format!("{table}-cut-footer"), plain, cut(valid, 40));
    }
    let [schedule, payments, borrowers, contacts] = tables;
    // Other accepted column types, one table each.
    let mut s = cast_column(&schedule, "loan_id", DataType::Int32);
    s = cast_column(
        &s,
        "due_date",
        DataType::Timestamp(TimeUnit::Millisecond, None),
    );
    s = cast_column(&s, "amount_due", DataType::Decimal128(14, 2));
    add("schedule-types".into(), 0, parquet(&s, props().build()));
    let mut p = cast_column(&payments, "paid_date", DataType::Date64);
    p = cast_column(&p, "amount", DataType::Float32);
    p = with(&p, "loan_id", None);
    add("payments-types".into(), 1, parquet(&p, props().build()));
    let mut b = cast_column(&borrowers, "hardship", DataType::Int8);
    b = cast_column(&b, "income", DataType::Int64);
    b = cast_column(&b, "age", DataType::Utf8);
    add(
        "borrowers-types-strict".into(),
        2 | 16,
        parquet(&b, props().build()),
    );
    let mut c = cast_column(
        &contacts,
        "contact_time",
        DataType::Timestamp(TimeUnit::Second, Some("+00:00".into())),
    );
    c = cast_column(&c, "channel", DataType::LargeUtf8);
    c = cast_column(
        &c,
        "outcome",
        DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8)),
    );
    c = cast_column(&c, "promise_date", DataType::Date64);
    add("contacts-types".into(), 3, parquet(&c, props().build()));
    // Contract errors: string ids against the schedule's integers; a
    // missing required column.
    let p = cast_column(&payments, "borrower_id", DataType::Utf8);
    add(
        "payments-string-ids".into(),
        1,
        parquet(&p, props().build()),
    );
    let s = with(&schedule, "amount_due", None);
    add(
        "schedule-missing-column".into(),
        0,
        parquet(&s, props().build()),
    );
    out
}

#[test]
fn fuzz_seeds_are_current() {
    let dir = seeds_dir();
    let want = seeds();
    let total: usize = want.values().map(Vec::len).sum();
    assert!(
        total < 1 << 20,
        "the seed corpus should stay under 1 MB, is {total} bytes"
    );
    let mut have = BTreeMap::new();
    for e in std::fs::read_dir(&dir).expect("fuzz/seeds/ledger") {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        have.insert(name, std::fs::read(e.path()).unwrap());
    }
    assert_eq!(
        have.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "fuzz/seeds/ledger is stale: run DUNNING_BLESS=1 cargo test --test fuzz"
    );
    for (name, bytes) in &want {
        assert!(
            have[name] == *bytes,
            "fuzz/seeds/ledger/{name} is stale: run DUNNING_BLESS=1 cargo test --test fuzz"
        );
    }
}

/// The fuzz property on every committed seed, and what each kind of seed is
/// for: the undamaged ones reach scoring, the damaged ones are bad input.
#[test]
fn fuzz_seeds_hold_the_fuzz_property() {
    let dir = seeds_dir();
    let h = Harness::new(&dir, Path::new(&repo("models/default"))).expect("harness");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    for name in names {
        let data = std::fs::read(dir.join(&name)).unwrap();
        let result = h.run(&data);
        if let Err(finding) = harness::check(&result) {
            panic!("{name}: {finding}");
        }
        let bad_input = ["-cut-footer", "-string-ids", "-missing-column", "-strict"];
        if bad_input.iter().any(|s| name.ends_with(s)) {
            let e = result.expect_err(&name);
            assert_eq!(e.kind(), ErrorKind::BadInput, "{name}: {e}");
        } else if !name.ends_with("-damaged-page") {
            let scored = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            // A partition of these few borrowers may hold none of them (the
            // id ranges follow the ids, not the count): the whole ledger is
            // what must be scored.
            let whole = if Input::parse(&data).is_some_and(|i| i.partition.is_some()) {
                let mut unpartitioned = data.clone();
                unpartitioned[0] &= !0b1100;
                h.run(&unpartitioned)
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
            } else {
                scored
            };
            assert!(whole > 0, "{name}: nobody scored");
        }
    }
}

// What the fuzzer found (all of it panics inside the Parquet decoder, which
// the read boundary contains), and the memory bomb the footer check bounds,
// each rebuilt from a small file made here: a footer field or a page byte
// changed, or a file of nulls.

/// A small valid schedule (two borrowers, three installments).
fn schedule(w: &Workdir) -> Vec<u8> {
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 1, 2]));
    let loans: ArrayRef = Arc::new(Int64Array::from(vec![10, 10, 20]));
    let due: ArrayRef = Arc::new(Date32Array::from(vec![
        day("2025-10-01"),
        day("2025-11-01"),
        day("2025-11-15"),
    ]));
    let amount: ArrayRef = Arc::new(Float64Array::from(vec![100.0, 100.0, 250.0]));
    let path = w.parquet(
        "valid.parquet",
        vec![
            ("borrower_id", ids),
            ("loan_id", loans),
            ("due_date", due),
            ("amount_due", amount),
        ],
    );
    std::fs::read(path).unwrap()
}

/// `bytes` with its footer metadata decoded, changed by `edit`, and written back.
fn with_footer(bytes: &[u8], edit: impl FnOnce(ParquetMetaData) -> ParquetMetaData) -> Vec<u8> {
    let n = bytes.len();
    let len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    let footer = &bytes[n - 8 - len..n - 8];
    let meta = ParquetMetaDataReader::decode_metadata(footer).expect("a valid footer");
    let mut out = bytes[..n - 8 - len].to_vec();
    ParquetMetaDataWriter::new(&mut out, &edit(meta))
        .finish()
        .expect("footer written");
    out
}

/// The metadata with column chunk `column` of every row group changed by `edit`.
fn with_column(
    meta: ParquetMetaData,
    column: usize,
    edit: impl Fn(ColumnChunkMetaData) -> ColumnChunkMetaData,
) -> ParquetMetaData {
    let groups: Vec<RowGroupMetaData> = meta
        .row_groups()
        .iter()
        .map(|rg| {
            let mut columns = rg.columns().to_vec();
            columns[column] = edit(columns[column].clone());
            rg.clone()
                .into_builder()
                .set_column_metadata(columns)
                .build()
                .unwrap()
        })
        .collect();
    meta.into_builder().set_row_groups(groups).build()
}

/// Runs the nightly job on the sample with the schedule replaced by `bytes`.
fn run_with_schedule(w: &Workdir, bytes: &[u8]) -> Output {
    std::fs::write(w.path("schedule.parquet"), bytes).unwrap();
    let mut args = vec!["--schedule".to_string(), "schedule.parquet".into()];
    for t in ["payments", "borrowers", "contacts"] {
        args.extend([format!("--{t}"), sample(t)]);
    }
    run_night(w, &args)
}

/// Runs the nightly job of 2025-12-31 into `out` with these input
/// arguments, decoding row groups one at a time (so that the first damaged
/// one is the one reported, as in the fuzz run that found it).
fn run_night(w: &Workdir, inputs: &[String]) -> Output {
    let model = repo("models/default");
    let strategy = repo("strategies/default.toml");
    std::process::Command::new(env!("CARGO_BIN_EXE_dunning"))
        .args(["run", "--model", &model, "--strategy", &strategy])
        .args(["--as-of", "2025-12-31", "--out", "out"])
        .args(inputs)
        .current_dir(w.root())
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .expect("run dunning")
}

/// Bad input (exit 65), `file` named as unreadable, nothing written (the
/// run lock's file aside).
fn assert_unreadable(w: &Workdir, o: &Output, file: &str) {
    assert_exit(o, 65);
    let err = stderr(o);
    assert!(
        err.contains(&format!("{file}: not a readable Parquet file")),
        "{err}"
    );
    let written: Vec<String> = std::fs::read_dir(w.path("out"))
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()))
        .into_iter()
        .flatten()
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert!(written.is_empty(), "{written:?}");
}

#[test]
fn the_valid_schedule_of_these_tests_runs() {
    // The inputs below differ from this one by one footer field only.
    let w = Workdir::new();
    let bytes = schedule(&w);
    let o = run_with_schedule(&w, &with_footer(&bytes, |m| m));
    assert_exit(&o, 0);
}

/// Fuzz finding 1: a column chunk whose size is negative made the Parquet
/// decoder panic (`ColumnChunkMetaData::byte_range`, "column start and
/// length should not be negative"). The footer check now refuses it before
/// decoding (and the read boundary would contain the panic).
#[test]
fn rejects_a_negative_column_chunk_size() {
    let w = Workdir::new();
    let bytes = with_footer(&schedule(&w), |m| {
        with_column(m, 3, |c| {
            c.into_builder()
                .set_total_compressed_size(-1)
                .build()
                .unwrap()
        })
    });
    let o = run_with_schedule(&w, &bytes);
    assert_unreadable(&w, &o, "schedule.parquet");
}

/// The same with a negative column chunk offset.
#[test]
fn rejects_a_negative_column_chunk_offset() {
    let w = Workdir::new();
    let bytes = with_footer(&schedule(&w), |m| {
        with_column(m, 3, |c| {
            c.into_builder()
                .set_dictionary_page_offset(None)
                .set_data_page_offset(-4)
                .build()
                .unwrap()
        })
    });
    let o = run_with_schedule(&w, &bytes);
    assert_unreadable(&w, &o, "schedule.parquet");
}

/// A memory bomb: a small valid file of all-null rows (their levels
/// run-length encoded, a few bytes a page) declaring many more rows than
/// real data could fit in its size. Unchecked, a 158 kB file of 20 million
/// such rows took a debug build's run to 6 GB (each row kept as a reject);
/// the footer check refuses it before decoding.
#[test]
fn rejects_a_file_of_more_rows_than_its_size_could_hold() {
    let w = Workdir::new();
    let n = 1_000_000;
    let columns = [
        ("borrower_id", DataType::Int64),
        ("due_date", DataType::Date32),
        ("amount_due", DataType::Float64),
    ]
    .map(|(name, t)| (name, arrow::array::new_null_array(&t, n)));
    let path = w.parquet("bomb.parquet", columns.to_vec());
    let bytes = std::fs::read(path).unwrap();
    let max = dunning::contract::footer::MAX_ROWS_PER_BYTE;
    assert!(n as u64 > bytes.len() as u64 * max, "{} bytes", bytes.len());
    let o = run_with_schedule(&w, &bytes);
    assert_unreadable(&w, &o, "schedule.parquet");
    assert!(stderr(&o).contains("rows a byte"), "{}", stderr(&o));
}

/// Fuzz finding 2: dictionary-encoded data pages whose column chunk has no
/// dictionary page made the decoder panic ("Decoder for dict should have
/// been set"); contained and reported as an unreadable file.
#[test]
fn rejects_dictionary_pages_without_a_dictionary() {
    let w = Workdir::new();
    let bytes = with_footer(&schedule(&w), |m| {
        with_column(m, 3, |c| {
            assert!(
                c.dictionary_page_offset().is_some(),
                "written with a dictionary"
            );
            c.into_builder()
                .set_dictionary_page_offset(None)
                .build()
                .unwrap()
        })
    });
    let o = run_with_schedule(&w, &bytes);
    assert_unreadable(&w, &o, "schedule.parquet");
}

/// Fuzz finding 3: a DELTA_BYTE_ARRAY page whose suffix lengths are
/// negative made the decoder overflow (`delta_byte_array.rs:95`, "attempt
/// to add with overflow"; without overflow checks, a slice out of order);
/// contained and reported as an unreadable file. Here the string ids "x",
/// "y", "z" are written with that encoding, and the first suffix length of
/// the page (a zigzag varint, 2 for 1) is made -1.
#[test]
fn rejects_negative_delta_byte_array_lengths() {
    use parquet::basic::Encoding;
    use parquet::schema::types::ColumnPath;
    let w = Workdir::new();
    let ids: ArrayRef = Arc::new(arrow::array::StringArray::from(vec!["x", "y", "z"]));
    let due: ArrayRef = Arc::new(Date32Array::from(vec![day("2025-11-01"); 3]));
    let amount: ArrayRef = Arc::new(Float64Array::from(vec![100.0; 3]));
    let batch = RecordBatch::try_from_iter([
        ("borrower_id", ids),
        ("due_date", due),
        ("amount_due", amount),
    ])
    .unwrap();
    let props = props()
        .set_dictionary_enabled(false)
        .set_column_encoding(ColumnPath::from("borrower_id"), Encoding::DELTA_BYTE_ARRAY)
        .build();
    let mut bytes = parquet(&batch, props);
    // Undamaged, the schedule is read, and the run stops at the payments'
    // integer ids.
    let o = run_with_schedule(&w, &bytes);
    assert_exit(&o, 65);
    assert!(stderr(&o).contains("holds integer ids"), "{}", stderr(&o));
    // The suffix lengths' header: block size 128, 4 miniblocks, 3 values,
    // the first 1 (the prefix lengths' header is the same with a first 0).
    let header = [0x80, 0x01, 0x04, 0x03, 0x02];
    let at: Vec<usize> = (0..bytes.len() - header.len())
        .filter(|&i| bytes[i..i + header.len()] == header)
        .collect();
    assert_eq!(at.len(), 1, "the suffix lengths' header, once");
    bytes[at[0] + 4] = 0x01;
    let o = run_with_schedule(&w, &bytes);
    assert_unreadable(&w, &o, "schedule.parquet");
}

/// Fuzz findings 4 and 6: bit-packed definition levels whose run needs more
/// bytes than the page's level data holds made parquet's `PackedDecoder`
/// read past its buffer (arrow-buffer `bit_chunk_iterator.rs:235`,
/// "offset + len out of bounds", or `bit_util.rs:392`, "slice must not be
/// empty", by the alignment); contained and reported as an unreadable
/// file. Here 16 alternating nulls are written (one bit-packed run of 2
/// bytes) and the level data's length is cut to the run's header.
#[test]
fn rejects_definition_levels_longer_than_their_data() {
    let w = Workdir::new();
    let n = 16;
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![1; n]));
    let due: ArrayRef = Arc::new(Date32Array::from(vec![day("2025-11-01"); n]));
    let amount: ArrayRef = Arc::new(Float64Array::from_iter(
        (0..n).map(|i| (i % 2 == 0).then_some(100.0)),
    ));
    let batch = RecordBatch::try_from_iter([
        ("borrower_id", ids),
        ("due_date", due),
        ("amount_due", amount),
    ])
    .unwrap();
    let mut bytes = parquet(&batch, props().set_dictionary_enabled(false).build());
    assert_exit(&run_with_schedule(&Workdir::new(), &bytes), 0);
    // Level data of 3 bytes: a bit-packed run header (2 groups of 8) and
    // the 16 levels, 1 0 1 0 ... from the lowest bit.
    let levels = [3, 0, 0, 0, 5, 0x55, 0x55];
    let at: Vec<usize> = (0..bytes.len() - levels.len())
        .filter(|&i| bytes[i..i + levels.len()] == levels)
        .collect();
    assert_eq!(at.len(), 1, "amount_due's definition levels, once");
    bytes[at[0]] = 1;
    let o = run_with_schedule(&w, &bytes);
    eprintln!(
        "XX {}",
        stderr(&o).lines().take(3).collect::<Vec<_>>().join(" / ")
    );
    assert_unreadable(&w, &o, "schedule.parquet");
}

// What the fuzzer found, rebuilt from the seed it grew from with the bytes
// it changed: where a finding depends on the bytes of a damaged page, a
// byte patch of a generated seed is the smallest description of it.

/// A fuzz finding: the seed it grew from and the bytes it changed.
struct Finding {
    /// The seed's name in [`seeds`].
    seed: &'static str,
    /// `(offset, bytes removed, bytes inserted)`, offsets in the seed's
    /// Parquet file (after the selector byte).
    patch: &'static [(usize, usize, &'static [u8])],
    /// Where it panicked (contained by the library).
    panicked_at: &'static str,
}

const FINDINGS: &[Finding] = &[
    Finding {
        // Finding 4: a column chunk's footer entry and a page's definition
        // levels both damaged: the levels decoder reads past its buffer.
        seed: "contacts-snappy-groups",
        patch: &[(1448, 1, &[255]), (10896, 1, &[194])],
        panicked_at: "arrow-buffer bit_chunk_iterator.rs:235: offset + len out of bounds \
            (from parquet's definition level PackedDecoder)",
    },
    Finding {
        // Finding 5: 35 continuation bytes in a page where the RLE decoder
        // reads a run header: a variable-length integer longer than any i64.
        seed: "payments-types",
        patch: &[(120, 0, &[0xF5; 35])],
        panicked_at: "parquet bit_util.rs:1187: attempt to shift left with overflow \
            (BitReader::get_vlq_int; without overflow checks, its assertion on the length)",
    },
    Finding {
        // Finding 7: a page header rewritten (by bytes the fuzzer took from
        // the model's feature names) into a BYTE_STREAM_SPLIT page of the
        // wrong size.
        seed: "schedule-types",
        patch: &[
            (31, 0, &[255, 255, 255, 255, 255, 255, 255, 36]),
            (34, 21, b"max_days_late"),
            (103, 1, &[18]),
        ],
        panicked_at: "parquet byte_stream_split_decoder.rs:67: index out of bounds",
    },
];

/// Every finding, run as the fuzz target ran it (the seeds' valid tables
/// for the others, the same partition and strictness), is bad input.
#[test]
fn fuzz_findings_are_bad_input() {
    let seeds = seeds();
    for f in FINDINGS {
        let mut data = seeds[f.seed].clone();
        let mut patch = f.patch.to_vec();
        patch.sort_by_key(|p| std::cmp::Reverse(p.0));
        for (at, removed, inserted) in patch {
            data.splice(at + 1..at + 1 + removed, inserted.iter().copied());
        }
        let input = Input::parse(&data).unwrap();
        let w = Workdir::new();
        let mut args = Vec::new();
        for (t, table) in TABLES.iter().enumerate() {
            let file = format!("{table}.parquet");
            let bytes = if t == input.table {
                input.bytes
            } else {
                &seeds[&format!("{table}-valid")][1..]
            };
            std::fs::write(w.path(&file), bytes).unwrap();
            args.extend([format!("--{table}"), file]);
        }
        if let Some((index, count)) = input.partition {
            args.extend(["--partitions".into(), count.to_string()]);
            args.extend(["--partition".into(), index.to_string()]);
        }
        if input.strict {
            args.push("--strict".into());
        }
        let o = run_night(&w, &args);
        eprintln!("{} (panicked at {})", f.seed, f.panicked_at);
        assert_unreadable(&w, &o, &format!("{}.parquet", TABLES[input.table]));
    }
}
