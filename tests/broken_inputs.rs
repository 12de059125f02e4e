//! The broken-input corpus (issue 6): every way an input, a strategy, a
//! config file or a model can be broken, each run through `dunning run` (the
//! README's first command with one input replaced).
//!
//! Every case is built here from the committed sample, by code: truncated and
//! corrupted Parquet, files with missing columns or wrong types, nulls, NaN,
//! far-out dates, duplicates, huge amounts, odd ids, directories and
//! unreadable files where files should be, broken strategies, configs and
//! models, and memory bombs written by a small Parquet writer that writes the
//! sizes it is told (`raw`). Each case checks:
//!
//! - the documented exit code (65 bad input data, 78 bad config, strategy or
//!   model; 0 when the contract accepts the file and judges it row by row, in
//!   which case the rows are counted in the manifest and listed in
//!   rejects.parquet with a reason naming the column);
//! - a message that names the file (and the column, when one is at fault);
//! - no panic (no "panicked" on stderr);
//! - nothing written: no night directory, no staging directory, no temporary
//!   file (only the run lock file), and a previous night's directory exactly
//!   as it was.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array,
    ListArray, NullArray, RecordBatch, StringArray, TimestampMicrosecondArray,
    TimestampNanosecondArray,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};
use common::*;

const AS_OF: &str = "2025-12-31";
const TABLES: [&str; 4] = ["schedule", "payments", "borrowers", "contacts"];

/// Required columns of each input table (docs/input-contract.md).
const REQUIRED: [(&str, &[&str]); 4] = [
    ("schedule", &["borrower_id", "due_date", "amount_due"]),
    ("payments", &["borrower_id", "paid_date", "amount"]),
    ("borrowers", &["borrower_id"]),
    (
        "contacts",
        &["borrower_id", "contact_time", "channel", "outcome"],
    ),
];

/// A night's files in a scratch directory: copies of the sample inputs, the
/// default model and strategy, and a config file, for a case to break one.
struct Night {
    w: Workdir,
}

/// The files of a directory (recursively), with their bytes.
type Snapshot = BTreeMap<String, Vec<u8>>;

impl Night {
    fn new() -> Self {
        let w = Workdir::new();
        std::fs::create_dir_all(w.path("in")).unwrap();
        std::fs::create_dir_all(w.path("model")).unwrap();
        for t in TABLES {
            std::fs::copy(sample(t), w.path(&format!("in/{t}.parquet"))).unwrap();
        }
        std::fs::copy(
            repo("models/default/model.json"),
            w.path("model/model.json"),
        )
        .unwrap();
        std::fs::copy(repo("strategies/default.toml"), w.path("strategy.toml")).unwrap();
        // data/nightly.toml, with its paths pointing at this night's copies.
        let config = std::fs::read_to_string(repo("data/nightly.toml"))
            .unwrap()
            .replace("../models/default", "model")
            .replace("../strategies/default.toml", "strategy.toml")
            .replace("sample/", "in/")
            .replace("\"../out\"", "\"out\"");
        assert!(config.contains("\"in/payments.parquet\""), "{config}");
        std::fs::write(w.path("nightly.toml"), config).unwrap();
        Self { w }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.w.path(name)
    }

    fn input(&self, table: &str) -> PathBuf {
        self.path(&format!("in/{table}.parquet"))
    }

    /// The README's first command, with this night's files in place of the
    /// repository's (`data/sample/X` -> `in/X`, `models/default` -> `model`,
    /// `strategies/default.toml` -> `strategy.toml`).
    fn args(&self) -> Vec<String> {
        let readme = std::fs::read_to_string(repo("README.md")).unwrap();
        let line = readme
            .split("```sh\n")
            .nth(1)
            .and_then(|b| b.lines().next())
            .expect("the README's first command");
        let args: Vec<String> = line
            .strip_prefix("cargo run --release -- ")
            .expect("the first command runs the binary")
            .split_whitespace()
            .map(|a| {
                if let Some(f) = a.strip_prefix("data/sample/") {
                    self.path(&format!("in/{f}")).display().to_string()
                } else if a == "models/default" {
                    self.path("model").display().to_string()
                } else if a == "strategies/default.toml" {
                    self.path("strategy.toml").display().to_string()
                } else {
                    a.to_string()
                }
            })
            .collect();
        assert!(args.contains(&"--as-of".into()) && args.contains(&AS_OF.into()));
        assert!(
            args.contains(&"out".into()),
            "the night goes to out/: {args:?}"
        );
        args
    }

    /// The README's first command without `flag` and its value.
    fn args_without(&self, flag: &str) -> Vec<String> {
        let mut args = self.args();
        let i = args.iter().position(|a| a == flag).expect("flag");
        args.drain(i..i + 2);
        args
    }

    fn run(&self) -> Output {
        self.run_args(&self.args())
    }

    fn run_args(&self, args: &[String]) -> Output {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.w.run(&refs)
    }

    /// Runs `args` with the process's virtual memory limited to `kib` KiB
    /// (a memory bomb that is not bounded then fails to allocate and aborts).
    fn run_limited(&self, args: &[String], kib: u64) -> Output {
        Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_dunning"))
            .args(args)
            .current_dir(self.w.root())
            .env("RUST_LOG", "info")
            .output()
            .expect("run dunning")
    }

    /// Runs a good night first: the output a failed run must leave alone.
    fn previous_night(&self) -> Snapshot {
        let o = self.run();
        assert_exit(&o, 0);
        let s = snapshot(&self.night_dir());
        assert!(s.contains_key("scored.parquet"), "{s:?}");
        s
    }

    fn night_dir(&self) -> PathBuf {
        self.path(&format!("out/{AS_OF}"))
    }

    fn table(&self, t: &str) -> RecordBatch {
        nullable(&read_parquet(&self.input(t)))
    }

    fn write(&self, t: &str, b: &RecordBatch) {
        write_batch(&self.input(t), b);
    }

    /// Replaces input `t` with `bytes`.
    fn write_bytes(&self, t: &str, bytes: &[u8]) {
        std::fs::write(self.input(t), bytes).unwrap();
    }

    fn bytes(&self, t: &str) -> Vec<u8> {
        std::fs::read(self.input(t)).unwrap()
    }
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn snapshot(dir: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    fn walk(root: &Path, dir: &Path, out: &mut Snapshot) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// What is wrong with a run that should have been refused with `code`,
/// naming each of `names` on stderr, and written nothing (leaving
/// `previous`, a good night's directory, as it was). Empty: nothing.
fn refusal_problems(
    n: &Night,
    o: &Output,
    code: i32,
    names: &[&str],
    previous: Option<&Snapshot>,
) -> Vec<String> {
    let err = stderr(o);
    let mut problems = Vec::new();
    if o.status.code() != Some(code) {
        problems.push(format!("exit {:?}, expected {code}", o.status));
    }
    if err.contains("panicked") {
        problems.push("stderr reports a panic".into());
    }
    for name in names {
        if !err.contains(name) {
            problems.push(format!("stderr does not name {name:?}"));
        }
    }
    let out = n.path("out");
    if out.exists() {
        let lock = format!(".{AS_OF}.lock");
        for entry in snapshot(&out).keys() {
            let night = entry.starts_with(&format!("{AS_OF}/")) || entry == &format!("{AS_OF}/");
            if !(entry == &lock || (night && previous.is_some())) {
                problems.push(format!("out/{entry} was left behind"));
            }
        }
    }
    if let Some(before) = previous {
        if !n.night_dir().is_dir() || &snapshot(&n.night_dir()) != before {
            problems.push("the previous night's directory changed".into());
        }
    }
    if !problems.is_empty() {
        problems.push(format!("stderr:\n{err}"));
    }
    problems
}

/// Asserts a run was refused with `code`, naming `names`, writing nothing.
fn assert_refused(n: &Night, o: &Output, code: i32, names: &[&str], previous: Option<&Snapshot>) {
    let problems = refusal_problems(n, o, code, names, previous);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Fails with every case's problems, by case name.
fn report(failures: Vec<(String, Vec<String>)>) {
    let failures: Vec<String> = failures
        .into_iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(name, p)| format!("case {name}:\n  {}", p.join("\n  ")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Cases run one after another on one night, each checked against the
/// night's previous output (a good night run first).
struct Cases<'a> {
    n: &'a Night,
    previous: Snapshot,
    failures: Vec<(String, Vec<String>)>,
}

impl<'a> Cases<'a> {
    /// Runs a good night on `n` first.
    fn new(n: &'a Night) -> Self {
        Self {
            previous: n.previous_night(),
            n,
            failures: Vec::new(),
        }
    }

    /// Checks that run `o` was refused with `code`, naming `names`, and
    /// left the previous night as it was.
    fn refused(&mut self, name: &str, o: &Output, code: i32, names: &[&str]) {
        let problems = refusal_problems(self.n, o, code, names, Some(&self.previous));
        if o.status.success() {
            // Wrongly accepted, it replaced the night: the next cases are
            // checked against this one.
            self.previous = snapshot(&self.n.night_dir());
        }
        self.failures.push((name.to_string(), problems));
    }

    /// A case that may be harmless: either accepted (a complete night that
    /// accounts for every row) or refused as bad input naming `file`.
    fn refused_or_accepted(&mut self, name: &str, o: &Output, file: &str) {
        if o.status.success() {
            accepted(self.n, o);
            self.previous = snapshot(&self.n.night_dir());
            return;
        }
        self.refused(name, o, 65, &[file]);
    }

    fn report(self) {
        report(self.failures);
    }
}

/// A successful night: its manifest and its rejects (empty when none).
struct Accepted {
    manifest: serde_json::Value,
    rejects: Vec<RejectRow>,
    scored: RecordBatch,
}

#[derive(Debug)]
struct RejectRow {
    table: String,
    file: String,
    row: u64,
    column: Option<String>,
    reason: String,
}

impl Accepted {
    /// The manifest's counts for `table`: (rows, used, rejected, unmatched).
    fn counts(&self, table: &str) -> (u64, u64, u64, u64) {
        let i = self.manifest["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["table"] == table)
            .unwrap_or_else(|| panic!("no input {table} in the manifest"));
        let n = |k: &str| i[k].as_u64().unwrap();
        (n("rows"), n("used"), n("rejected"), n("unmatched"))
    }

    /// The rejects of `table` from file row `first` on.
    fn rejects_from(&self, table: &str, first: u64) -> Vec<&RejectRow> {
        self.rejects_in(table, first..u64::MAX)
    }

    /// The rejects of `table` of file rows `rows`.
    fn rejects_in(&self, table: &str, rows: std::ops::Range<u64>) -> Vec<&RejectRow> {
        self.rejects
            .iter()
            .filter(|r| r.table == table && rows.contains(&r.row))
            .collect()
    }

    /// Asserts that rows `first..first + count` of `table` were rejected,
    /// each with `column` to blame and `reason` in its reason.
    fn assert_rejected(&self, table: &str, first: u64, count: u64, column: &str, reason: &str) {
        let got = self.rejects_in(table, first..first + count);
        assert_eq!(got.len() as u64, count, "{table} rejects: {got:#?}");
        for (k, r) in got.iter().enumerate() {
            assert_eq!(r.row, first + k as u64, "{r:?}");
            assert_eq!(r.column.as_deref(), Some(column), "{r:?}");
            assert!(r.reason.contains(reason), "{r:?} should say {reason:?}");
            assert!(r.file.ends_with(&format!("{table}.parquet")), "{r:?}");
        }
    }

    /// The scored borrower ids, as strings.
    fn scored_ids(&self) -> Vec<String> {
        let ids = self.scored.column_by_name("borrower_id").unwrap();
        (0..ids.len())
            .map(|k| arrow::util::display::array_value_to_string(ids, k).unwrap())
            .collect()
    }
}

/// Asserts the night succeeded and accounts for every row; returns it.
fn accepted(n: &Night, o: &Output) -> Accepted {
    assert_exit(o, 0);
    let err = stderr(o);
    assert!(!err.contains("panicked"), "{err}");
    let dir = n.night_dir();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut rejects = Vec::new();
    if dir.join("rejects.parquet").exists() {
        let b = read_parquet(&dir.join("rejects.parquet"));
        let s = |name: &str| b.column_by_name(name).unwrap().as_string::<i32>().clone();
        let (table, file, column, reason) =
            (s("table"), s("source_file"), s("column"), s("reason"));
        let row = b
            .column_by_name("row_index")
            .unwrap()
            .as_primitive::<arrow::datatypes::UInt64Type>()
            .clone();
        for k in 0..b.num_rows() {
            rejects.push(RejectRow {
                table: table.value(k).into(),
                file: file.value(k).into(),
                row: row.value(k),
                column: column.is_valid(k).then(|| column.value(k).to_string()),
                reason: reason.value(k).into(),
            });
        }
    }
    let a = Accepted {
        scored: read_parquet(&dir.join("scored.parquet")),
        manifest,
        rejects,
    };
    let mut rejected = 0;
    for i in a.manifest["inputs"].as_array().unwrap() {
        let n = |k: &str| i[k].as_u64().unwrap();
        assert_eq!(n("rows"), n("used") + n("rejected") + n("unmatched"), "{i}");
        rejected += n("rejected");
    }
    assert_eq!(rejected, a.rejects.len() as u64);
    assert_eq!(
        a.scored.num_rows() as u64,
        a.manifest["scored"].as_u64().unwrap()
    );
    a
}

// ---------------------------------------------------------------------------
// Building broken tables from the sample's.

/// `b` with every field nullable (so that rows with nulls can be added).
fn nullable(b: &RecordBatch) -> RecordBatch {
    let fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), b.columns().to_vec()).unwrap()
}

fn write_batch(path: &Path, b: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, b.schema(), None).unwrap();
    w.write(b).unwrap();
    w.close().unwrap();
}

/// `b` with column `name` replaced by `a` (of any type), or added.
fn with_column(b: &RecordBatch, name: &str, a: ArrayRef) -> RecordBatch {
    let mut fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns = b.columns().to_vec();
    let field = Field::new(name, a.data_type().clone(), true);
    match fields.iter().position(|f| f.name() == name) {
        Some(i) => {
            fields[i] = field;
            columns[i] = a;
        }
        None => {
            fields.push(field);
            columns.push(a);
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn without_column(b: &RecordBatch, name: &str) -> RecordBatch {
    let i = b.schema().index_of(name).unwrap();
    let mut b = b.clone();
    b.remove_column(i);
    b
}

/// Row `row` of `b`, with some columns given new (one-row) values.
fn row_with(b: &RecordBatch, row: usize, changes: &[(&str, ArrayRef)]) -> RecordBatch {
    let mut r = b.slice(row, 1);
    for (name, a) in changes {
        assert_eq!(a.len(), 1);
        let i = r.schema().index_of(name).unwrap();
        let mut columns = r.columns().to_vec();
        columns[i] = a.clone();
        r = RecordBatch::try_new(r.schema(), columns).unwrap();
    }
    r
}

/// `b` followed by `rows`.
fn append(b: &RecordBatch, rows: &[RecordBatch]) -> RecordBatch {
    let mut all = vec![b.clone()];
    all.extend(rows.iter().cloned());
    arrow::compute::concat_batches(&b.schema(), &all).unwrap()
}

fn f64s(v: f64) -> ArrayRef {
    Arc::new(Float64Array::from(vec![v]))
}

fn strs(v: &str) -> ArrayRef {
    Arc::new(StringArray::from(vec![v]))
}

fn date(s: &str) -> ArrayRef {
    Arc::new(Date32Array::from(vec![day(s)]))
}

fn null_of(b: &RecordBatch, column: &str) -> ArrayRef {
    let t = b.column_by_name(column).unwrap().data_type().clone();
    arrow::array::new_null_array(&t, 1)
}

/// The file offsets of a column chunk of `path`: (dictionary page or first
/// page, data page, end).
fn chunk_range(path: &Path, column: &str) -> (usize, usize, usize) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let rg = r.metadata().row_group(0);
    let c = rg
        .columns()
        .iter()
        .find(|c| c.column_path().string() == column)
        .unwrap();
    let (start, len) = c.byte_range();
    (
        start as usize,
        c.data_page_offset() as usize,
        (start + len) as usize,
    )
}

/// The footer's offset and length (the Thrift-encoded file metadata).
fn footer(bytes: &[u8]) -> (usize, usize) {
    let n = bytes.len();
    let len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    (n - 8 - len, len)
}

// ---------------------------------------------------------------------------
// Not Parquet, or Parquet broken in its structure: exit 65, the file named.

#[test]
fn truncated_and_non_parquet_files_are_refused() {
    let n = Night::new();
    let mut cases = Cases::new(&n);
    let good = n.bytes("payments");
    let (footer_at, footer_len) = footer(&good);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("empty file", Vec::new()),
        ("three bytes", b"PAR".to_vec()),
        ("only the magic", b"PAR1".to_vec()),
        ("cut in half", good[..good.len() / 2].to_vec()),
        ("last byte cut", good[..good.len() - 1].to_vec()),
        ("footer cut", {
            let mut v = good[..footer_at + footer_len / 2].to_vec();
            v.extend_from_slice(&good[good.len() - 8..]);
            v
        }),
        (
            "a CSV file",
            b"borrower_id,paid_date,amount\n1,2025-01-01,10.0\n".repeat(50),
        ),
        (
            "random bytes",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        ("wrong magic at the end", {
            let mut v = good.clone();
            let n = v.len();
            v[n - 4..].copy_from_slice(b"PAR0");
            v
        }),
        ("wrong magic at the start", {
            let mut v = good.clone();
            v[..4].copy_from_slice(b"PAR0");
            v
        }),
        ("footer length larger than the file", {
            let mut v = good.clone();
            let n = v.len();
            v[n - 8..n - 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
            v
        }),
        ("footer length zero", {
            let mut v = good.clone();
            let n = v.len();
            v[n - 8..n - 4].copy_from_slice(&0u32.to_le_bytes());
            v
        }),
        ("footer replaced by zeros", {
            let mut v = good.clone();
            v[footer_at..footer_at + footer_len].fill(0);
            v
        }),
        ("footer replaced by 0xFF", {
            let mut v = good.clone();
            v[footer_at..footer_at + footer_len].fill(0xFF);
            v
        }),
    ];
    for (name, bytes) in files {
        n.write_bytes("payments", &bytes);
        cases.refused(name, &n.run(), 65, &["in/payments.parquet"]);
    }
    cases.report();
}

#[test]
fn every_input_table_names_its_own_broken_file() {
    let mut failures = Vec::new();
    for t in TABLES {
        let n = Night::new();
        let bytes = n.bytes(t);
        n.write_bytes(t, &bytes[..bytes.len() * 2 / 3]);
        let o = n.run();
        let file = format!("in/{t}.parquet");
        failures.push((t.to_string(), refusal_problems(&n, &o, 65, &[&file], None)));
    }
    report(failures);
}

#[test]
fn flipped_bytes_in_the_footer_are_refused_or_harmless() {
    // A flipped byte may hit a statistic (then the file still reads, and
    // the run succeeds) or anything else (then the file is refused); never
    // a panic, a crash or a half-written night.
    let n = Night::new();
    let mut cases = Cases::new(&n);
    let good = n.bytes("payments");
    let (at, len) = footer(&good);
    let mut refused = 0;
    for k in 0..24 {
        let pos = at + k * len / 24;
        let mut v = good.clone();
        v[pos] ^= 0xFF;
        n.write_bytes("payments", &v);
        let o = n.run();
        refused += usize::from(!o.status.success());
        let name = format!("footer byte {pos} flipped");
        cases.refused_or_accepted(&name, &o, "in/payments.parquet");
    }
    cases.report();
    assert!(
        refused >= 12,
        "most footer bytes matter: {refused} of 24 refused"
    );
}

#[test]
fn flipped_bytes_in_pages_are_refused_or_judged() {
    let n = Night::new();
    let mut cases = Cases::new(&n);
    let good = n.bytes("payments");
    let path = n.input("payments");
    let (dict, data, end) = chunk_range(&path, "amount");
    let zstd_magic = [0x28, 0xB5, 0x2F, 0xFD];
    let frame = |from: usize| {
        from + good[from..end]
            .windows(4)
            .position(|w| w == zstd_magic)
            .expect("a zstd frame in the page")
    };
    // Certainly fatal: a page header, a compressed frame's magic.
    for (name, pos) in [
        ("dictionary page header", dict),
        ("data page header", data),
        ("dictionary page's frame magic", frame(dict)),
        ("data page's frame magic", frame(data)),
    ] {
        let mut v = good.clone();
        v[pos] ^= 0xFF;
        v[pos + 1] ^= 0xFF;
        n.write_bytes("payments", &v);
        cases.refused(name, &n.run(), 65, &["in/payments.parquet"]);
    }
    // Inside compressed data: refused, or (when the garbage still
    // decompresses) values judged row by row. Never a panic or a crash.
    let body = frame(data) + 8;
    for k in 0..8 {
        let pos = body + k * (end - body) / 8;
        let mut v = good.clone();
        v[pos] ^= 0x5A;
        n.write_bytes("payments", &v);
        let o = n.run();
        let name = format!("data page byte {pos}");
        cases.refused_or_accepted(&name, &o, "in/payments.parquet");
    }
    cases.report();
}

/// A small payments file written as the generator writes its tables
/// (dictionary pages, zstd), for in-process sweeps.
fn small_payments(dir: &Path) -> (PathBuf, Vec<u8>) {
    let n = 300;
    let b = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("borrower_id", DataType::Int64, false),
            Field::new("loan_id", DataType::Int64, true),
            Field::new("paid_date", DataType::Date32, false),
            Field::new("amount", DataType::Float64, false),
            Field::new("note", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(Int64Array::from_iter_values((0..n).map(|i| i / 3))),
            Arc::new(Int64Array::from_iter(
                (0..n).map(|i| (i % 4 != 0).then_some(i / 3 * 10)),
            )),
            Arc::new(Date32Array::from_iter_values(
                (0..n).map(|i| 20000 + (i as i32 % 50)),
            )),
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| (i % 17) as f64 * 12.5),
            )),
            Arc::new(StringArray::from_iter(
                (0..n).map(|i| (i % 5 == 0).then(|| format!("n{i}"))),
            )),
        ],
    )
    .unwrap();
    let path = dir.join("payments.parquet");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .set_data_page_row_count_limit(64)
        .set_write_batch_size(64)
        .build();
    let file = std::fs::File::create(&path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, b.schema(), Some(props)).unwrap();
    w.write(&b).unwrap();
    w.close().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

#[test]
fn no_flipped_byte_anywhere_in_a_file_escapes_the_reader() {
    // In process, every byte of a small file, twice: the reader returns the
    // table or a typed error naming the file; it never panics past its
    // boundary, aborts or allocates without bound.
    use dunning::contract::{read::read_table, ContractError, PAYMENTS};
    let w = Workdir::new();
    let (path, good) = small_payments(w.root());
    assert_eq!(read_table(&path, &PAYMENTS, None, None).unwrap().rows, 300);
    let shown = path.display().to_string();
    let mut failures = Vec::new();
    let mut refused = 0;
    for pos in 0..good.len() {
        for mask in [0xFFu8, 0x01] {
            let mut v = good.clone();
            v[pos] ^= mask;
            std::fs::write(&path, &v).unwrap();
            match read_table(&path, &PAYMENTS, None, None) {
                Ok(_) => {}
                Err(e) => {
                    refused += 1;
                    let typed = matches!(
                        e,
                        ContractError::Unreadable { .. }
                            | ContractError::MissingColumn { .. }
                            | ContractError::WrongType { .. }
                    );
                    let text = e.to_string();
                    if !typed || !text.contains(&shown) || text.contains("panicked") {
                        failures.push((format!("byte {pos} ^ {mask:#x}"), vec![text]));
                    }
                }
            }
        }
    }
    report(failures);
    assert!(refused > good.len() / 4, "{refused} refusals");
}

// ---------------------------------------------------------------------------
// Memory bombs: files whose footer or page headers claim sizes they do not
// have. Run with the process's address space limited to 1 GiB (a normal run
// on the sample needs far less), so an unbounded allocation aborts the run
// instead of passing.

const BOMB_LIMIT_KIB: u64 = 1024 * 1024;

#[test]
fn the_raw_writer_writes_files_the_reader_accepts() {
    // The bombs below are only meaningful if the writer is right: with honest
    // sizes its files read back, and a night runs on them.
    let n = Night::new();
    let pay = raw::payments(raw::Honest);
    n.write_bytes("payments", &pay);
    let b = read_parquet(&n.input("payments"));
    assert_eq!(b.num_rows(), 3);
    let amount = b
        .column_by_name("amount")
        .unwrap()
        .as_primitive::<arrow::datatypes::Float64Type>();
    assert_eq!(
        amount.iter().collect::<Vec<_>>(),
        [Some(10.0), Some(20.5), None]
    );
    let o = n.run_limited(&n.args(), BOMB_LIMIT_KIB);
    let a = accepted(&n, &o);
    assert_eq!(a.counts("payments").0, 3);
    a.assert_rejected("payments", 2, 1, "amount", "null amount");
}

#[test]
fn memory_bombs_are_refused_within_bounded_memory() {
    let mut failures = Vec::new();
    for (name, bomb) in [
        (
            "a page claiming 2 GiB uncompressed (snappy)",
            raw::Lie::PageSize,
        ),
        ("a column chunk claiming 1 TiB", raw::Lie::ChunkSize),
        (
            "a page claiming 2^31 null values, footer 3 rows",
            raw::Lie::RowsOverFooter,
        ),
        ("pages and footer claiming 2^31 rows", raw::Lie::Rows),
        ("a statistic claiming 2^40 bytes", raw::Lie::StatisticLength),
    ] {
        let n = Night::new();
        let previous = n.previous_night();
        n.write_bytes("payments", &raw::payments(bomb));
        let o = n.run_limited(&n.args(), BOMB_LIMIT_KIB);
        failures.push((
            name.to_string(),
            refusal_problems(&n, &o, 65, &["in/payments.parquet"], Some(&previous)),
        ));
    }
    report(failures);
}

#[test]
fn a_panic_of_the_decoder_is_reported_as_bad_input() {
    // The parquet crate panics on a dictionary-encoded page without a
    // dictionary: contained, it is a bad file named, and the default panic
    // message is not printed.
    let n = Night::new();
    let previous = n.previous_night();
    n.write_bytes("payments", &raw::payments(raw::Lie::MissingDictionary));
    let o = n.run();
    assert_refused(
        &n,
        &o,
        65,
        &[
            "in/payments.parquet",
            "the Parquet decoder gave up on this file",
        ],
        Some(&previous),
    );
}

/// A minimal Parquet writer that writes whatever sizes it is told: the
/// parquet crate's writer cannot lie, and the memory bombs must.
mod raw {
    /// Thrift compact protocol, just what a Parquet footer and page header need.
    #[derive(Default)]
    struct Thrift {
        out: Vec<u8>,
        last: Vec<i16>,
        field: i16,
    }

    const I32: u8 = 5;
    const I64: u8 = 6;
    const BINARY: u8 = 8;
    const LIST: u8 = 9;
    const STRUCT: u8 = 12;

    impl Thrift {
        fn varint(&mut self, mut v: u64) {
            while v >= 0x80 {
                self.out.push((v as u8) | 0x80);
                v >>= 7;
            }
            self.out.push(v as u8);
        }
        fn zigzag(&mut self, v: i64) {
            self.varint(((v << 1) ^ (v >> 63)) as u64);
        }
        fn header(&mut self, id: i16, ty: u8) {
            let delta = id - self.field;
            if (1..=15).contains(&delta) {
                self.out.push(((delta as u8) << 4) | ty);
            } else {
                self.out.push(ty);
                self.zigzag(i64::from(id));
            }
            self.field = id;
        }
        fn i32(&mut self, id: i16, v: i32) -> &mut Self {
            self.header(id, I32);
            self.zigzag(i64::from(v));
            self
        }
        fn i64(&mut self, id: i16, v: i64) -> &mut Self {
            self.header(id, I64);
            self.zigzag(v);
            self
        }
        fn binary(&mut self, id: i16, v: &[u8]) -> &mut Self {
            self.header(id, BINARY);
            self.varint(v.len() as u64);
            self.out.extend_from_slice(v);
            self
        }
        /// A binary field whose length prefix claims `len` bytes (only
        /// `v` follow).
        fn binary_claiming(&mut self, id: i16, len: u64, v: &[u8]) -> &mut Self {
            self.header(id, BINARY);
            self.varint(len);
            self.out.extend_from_slice(v);
            self
        }
        fn begin(&mut self, id: i16) -> &mut Self {
            self.header(id, STRUCT);
            self.last.push(self.field);
            self.field = 0;
            self
        }
        fn end(&mut self) -> &mut Self {
            self.out.push(0);
            self.field = self.last.pop().unwrap_or(0);
            self
        }
        fn list(&mut self, id: i16, elem: u8, n: usize) -> &mut Self {
            self.header(id, LIST);
            if n < 15 {
                self.out.push(((n as u8) << 4) | elem);
            } else {
                self.out.push(0xF0 | elem);
                self.varint(n as u64);
            }
            self
        }
        /// A struct element of a list.
        fn element(&mut self) -> &mut Self {
            self.last.push(self.field);
            self.field = 0;
            self
        }
        fn string_element(&mut self, s: &str) -> &mut Self {
            self.varint(s.len() as u64);
            self.out.extend_from_slice(s.as_bytes());
            self
        }
        fn i32_element(&mut self, v: i32) -> &mut Self {
            self.zigzag(i64::from(v));
            self
        }
    }

    /// The lie a file tells.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Lie {
        /// The amount page claims an uncompressed size of i32::MAX (snappy).
        PageSize,
        /// The amount column chunk claims 1 TiB of compressed data.
        ChunkSize,
        /// Each page claims i32::MAX values (all null, by one RLE run of
        /// definition levels); the footer says 3 rows.
        RowsOverFooter,
        /// The same, with a footer that agrees: i32::MAX rows.
        Rows,
        /// A page header statistic whose length prefix claims 2^40 bytes.
        StatisticLength,
        /// The amount page says it is dictionary-encoded, and there is no
        /// dictionary page (the parquet crate panics on this).
        MissingDictionary,
    }

    /// No lie: an honest file.
    #[allow(non_upper_case_globals)]
    pub const Honest: Option<Lie> = None;

    // Parquet's enums.
    const INT32: i32 = 1;
    const INT64: i32 = 2;
    const DOUBLE: i32 = 5;
    const OPTIONAL: i32 = 1;
    const DATE: i32 = 6;
    const PLAIN: i32 = 0;
    const RLE: i32 = 3;
    const RLE_DICTIONARY: i32 = 8;
    const UNCOMPRESSED: i32 = 0;
    const SNAPPY: i32 = 1;

    struct Col {
        name: &'static str,
        physical: i32,
        converted: Option<i32>,
        codec: i32,
        /// Definition levels and values, as stored (before compression).
        page: Vec<u8>,
        /// As written (after compression).
        stored: Vec<u8>,
        values: i32,
    }

    /// Definition levels of an optional column (bit width 1), as a data
    /// page v1 stores them: a 4-byte length, then RLE runs.
    fn levels(runs: &[(u32, u8)]) -> Vec<u8> {
        let mut t = Thrift::default();
        for &(count, level) in runs {
            t.varint(u64::from(count) << 1);
            t.out.push(level);
        }
        let mut out = (t.out.len() as u32).to_le_bytes().to_vec();
        out.extend(t.out);
        out
    }

    fn col(name: &'static str, physical: i32, converted: Option<i32>, values: &[&[u8]]) -> Col {
        // Present values get level 1; a None (an empty slice) level 0.
        let runs: Vec<(u32, u8)> = values
            .iter()
            .map(|v| (1, u8::from(!v.is_empty())))
            .collect();
        let mut page = levels(&runs);
        for v in values {
            page.extend_from_slice(v);
        }
        Col {
            name,
            physical,
            converted,
            codec: UNCOMPRESSED,
            stored: page.clone(),
            page,
            values: values.len() as i32,
        }
    }

    /// `data` as one snappy literal (snappy's raw format: the length, then
    /// literal elements of at most 60 bytes).
    fn snappy_literal(data: &[u8]) -> Vec<u8> {
        let mut t = Thrift::default();
        t.varint(data.len() as u64);
        for chunk in data.chunks(60) {
            t.out.push(((chunk.len() - 1) as u8) << 2);
            t.out.extend_from_slice(chunk);
        }
        t.out
    }

    /// A payments file (borrower_id, paid_date, amount; all optional), three
    /// rows of borrowers 1 and 2 of the sample, telling `bomb`'s lie.
    pub fn payments(bomb: impl Into<Option<Lie>>) -> Vec<u8> {
        let bomb = bomb.into();
        let d = 20_100i32.to_le_bytes();
        let mut cols = vec![
            col(
                "borrower_id",
                INT64,
                None,
                &[
                    &1i64.to_le_bytes(),
                    &1i64.to_le_bytes(),
                    &2i64.to_le_bytes(),
                ],
            ),
            col("paid_date", INT32, Some(DATE), &[&d, &d, &d]),
            col(
                "amount",
                DOUBLE,
                None,
                &[&10.0f64.to_le_bytes(), &20.5f64.to_le_bytes(), &[]],
            ),
        ];
        let mut rows = 3i64;
        match bomb {
            Some(Lie::PageSize) => {
                let amount = &mut cols[2];
                amount.codec = SNAPPY;
                amount.stored = snappy_literal(&amount.page);
            }
            Some(Lie::RowsOverFooter) | Some(Lie::Rows) => {
                for c in &mut cols {
                    c.page = levels(&[(i32::MAX as u32, 0)]);
                    c.stored = c.page.clone();
                    c.values = i32::MAX;
                }
                if bomb == Some(Lie::Rows) {
                    rows = i64::from(i32::MAX);
                }
            }
            _ => {}
        }
        let mut file = b"PAR1".to_vec();
        let mut offsets = Vec::new();
        for (i, c) in cols.iter().enumerate() {
            let mut h = Thrift::default();
            let uncompressed = if bomb == Some(Lie::PageSize) && i == 2 {
                i32::MAX
            } else {
                c.page.len() as i32
            };
            h.i32(1, 0) // DATA_PAGE
                .i32(2, uncompressed)
                .i32(3, c.stored.len() as i32);
            let encoding = if bomb == Some(Lie::MissingDictionary) && i == 2 {
                RLE_DICTIONARY
            } else {
                PLAIN
            };
            h.begin(5)
                .i32(1, c.values)
                .i32(2, encoding)
                .i32(3, RLE)
                .i32(4, RLE);
            if bomb == Some(Lie::StatisticLength) && i == 2 {
                // Statistics { 5: max_value, 6: min_value }.
                h.begin(5).binary_claiming(5, 1 << 40, &[0; 8]).end();
            }
            h.end();
            h.out.push(0);
            offsets.push((file.len() as i64, (h.out.len() + c.stored.len()) as i64));
            file.extend_from_slice(&h.out);
            file.extend_from_slice(&c.stored);
        }
        // FileMetaData.
        let mut m = Thrift::default();
        m.i32(1, 1);
        m.list(2, STRUCT, cols.len() + 1);
        m.element()
            .binary(4, b"schema")
            .i32(5, cols.len() as i32)
            .end();
        for c in &cols {
            m.element()
                .i32(1, c.physical)
                .i32(3, OPTIONAL)
                .binary(4, c.name.as_bytes());
            if let Some(t) = c.converted {
                m.i32(6, t);
            }
            m.end();
        }
        m.i64(3, rows);
        m.list(4, STRUCT, 1);
        m.element();
        m.list(1, STRUCT, cols.len());
        for (i, c) in cols.iter().enumerate() {
            let (offset, size) = offsets[i];
            let size = if bomb == Some(Lie::ChunkSize) && i == 2 {
                1 << 40
            } else {
                size
            };
            m.element().i64(2, offset);
            m.begin(3)
                .i32(1, c.physical)
                .list(2, I32, 2)
                .i32_element(PLAIN)
                .i32_element(RLE)
                .list(3, BINARY, 1)
                .string_element(c.name)
                .i32(4, c.codec)
                .i64(5, i64::from(c.values))
                .i64(6, size)
                .i64(7, size)
                .i64(9, offset)
                .end();
            m.end();
        }
        let total: i64 = offsets.iter().map(|o| o.1).sum();
        m.i64(2, total).i64(3, rows).end();
        m.out.push(0);
        file.extend_from_slice(&m.out);
        file.extend_from_slice(&(m.out.len() as u32).to_le_bytes());
        file.extend_from_slice(b"PAR1");
        file
    }
}

// ---------------------------------------------------------------------------
// Columns: missing, of the wrong type, of the wrong id class. Exit 65, the
// file and the column named.

#[test]
fn missing_required_columns_are_refused() {
    let mut failures = Vec::new();
    for (t, columns) in REQUIRED {
        let file = format!("in/{t}.parquet");
        for c in columns.iter() {
            let n = Night::new();
            n.write(t, &without_column(&n.table(t), c));
            let o = n.run();
            let col = format!("`{c}`");
            failures.push((
                format!("{t} without {c}"),
                refusal_problems(&n, &o, 65, &[&file, &col, t], None),
            ));
        }
        // Only some of the required columns: the first kept, the others gone.
        if columns.len() > 1 {
            let n = Night::new();
            let mut b = n.table(t);
            for c in &columns[1..] {
                b = without_column(&b, c);
            }
            n.write(t, &b);
            let o = n.run();
            let col = format!("`{}`", columns[1]);
            failures.push((
                format!("{t} with only {}", columns[0]),
                refusal_problems(&n, &o, 65, &[&file, &col], None),
            ));
        }
    }
    report(failures);
}

/// A column of `rows` values of a type the contract does not accept for it.
type Maker = fn(usize) -> ArrayRef;

fn floats(rows: usize) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values((0..rows).map(|i| i as f64)))
}
fn texts(rows: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(
        (0..rows).map(|_| "2025-01-01"),
    ))
}
fn bools(rows: usize) -> ArrayRef {
    Arc::new(BooleanArray::from_iter((0..rows).map(|i| Some(i % 2 == 0))))
}
fn ints(rows: usize) -> ArrayRef {
    Arc::new(Int32Array::from_iter_values((0..rows).map(|i| i as i32)))
}
fn dates(rows: usize) -> ArrayRef {
    Arc::new(Date32Array::from_iter_values((0..rows).map(|_| 20_000)))
}
fn nulls(rows: usize) -> ArrayRef {
    Arc::new(NullArray::new(rows))
}
fn lists(rows: usize) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
        (0..rows).map(|i| Some(vec![Some(i as i64)])),
    ))
}
fn twos(rows: usize) -> ArrayRef {
    Arc::new(Int32Array::from_iter_values(
        (0..rows).map(|i| (i % 3) as i32),
    ))
}

#[test]
fn wrong_types_in_every_contract_column_are_refused() {
    let cases: &[(&str, &str, Maker, &str)] = &[
        ("schedule", "borrower_id", floats, "Float64"),
        ("schedule", "borrower_id", bools, "Boolean"),
        ("schedule", "borrower_id", nulls, "Null"),
        ("schedule", "borrower_id", lists, "List"),
        ("schedule", "loan_id", floats, "Float64"),
        ("schedule", "due_date", texts, "Utf8"),
        ("schedule", "due_date", ints, "Int32"),
        ("schedule", "amount_due", texts, "Utf8"),
        ("schedule", "amount_due", bools, "Boolean"),
        ("payments", "borrower_id", floats, "Float64"),
        ("payments", "loan_id", texts, "Utf8"),
        ("payments", "paid_date", floats, "Float64"),
        ("payments", "amount", texts, "Utf8"),
        ("payments", "amount", lists, "List"),
        ("payments", "amount", nulls, "Null"),
        ("borrowers", "borrower_id", dates, "Date32"),
        ("borrowers", "hardship", texts, "Utf8"),
        ("borrowers", "dispute", twos, "Int32"),
        ("borrowers", "do_not_contact", floats, "Float64"),
        ("contacts", "borrower_id", floats, "Float64"),
        ("contacts", "contact_time", texts, "Utf8"),
        ("contacts", "contact_time", floats, "Float64"),
        ("contacts", "channel", ints, "Int32"),
        ("contacts", "outcome", floats, "Float64"),
        ("contacts", "promise_amount", texts, "Utf8"),
        ("contacts", "promise_date", texts, "Utf8"),
    ];
    let mut failures = Vec::new();
    for &(t, column, make, found) in cases {
        let n = Night::new();
        let b = n.table(t);
        n.write(t, &with_column(&b, column, make(b.num_rows())));
        let o = n.run();
        let file = format!("in/{t}.parquet");
        let col = format!("`{column}`");
        // An integer loan_id in the schedule and a text one in payments is
        // an id-class mismatch, reported as such.
        let expected: &[&str] = if (t, column) == ("payments", "loan_id") {
            &[&file, &col, "string"]
        } else {
            &[&file, &col, found]
        };
        failures.push((
            format!("{t}.{column} as {found}"),
            refusal_problems(&n, &o, 65, expected, None),
        ));
    }
    report(failures);
}

#[test]
fn ids_of_another_class_than_the_schedule_s_are_refused() {
    let mut failures = Vec::new();
    for t in ["payments", "borrowers", "contacts"] {
        let n = Night::new();
        let b = n.table(t);
        let ids = arrow::compute::cast(b.column_by_name("borrower_id").unwrap(), &DataType::Utf8)
            .unwrap();
        n.write(t, &with_column(&b, "borrower_id", ids));
        let o = n.run();
        let file = format!("in/{t}.parquet");
        failures.push((
            t.to_string(),
            refusal_problems(&n, &o, 65, &[&file, "`borrower_id`", "string"], None),
        ));
    }
    report(failures);
}

#[test]
fn a_model_attribute_of_the_wrong_type_is_refused() {
    // The default model uses the borrowers' income; stored as text it cannot
    // be a feature.
    let n = Night::new();
    let b = n.table("borrowers");
    n.write("borrowers", &with_column(&b, "income", texts(b.num_rows())));
    let o = n.run();
    assert_refused(
        &n,
        &o,
        78,
        &["model/model.json", "in/borrowers.parquet", "income", "Utf8"],
        None,
    );
}

// ---------------------------------------------------------------------------
// Values the contract judges row by row: exit 0, the rows rejected with a
// reason naming the column, and counted.

/// A row to append: its changes from the row it copies, the column to
/// blame and a part of the reason.
type Appended<'a> = (Vec<(&'a str, ArrayRef)>, &'a str, &'a str);

/// [`appended_rows_are_rejected`] for the schedule, payments and contacts,
/// every failing table reported.
fn appended_to_each_table_are_rejected(
    schedule: Vec<Appended>,
    payments: Vec<Appended>,
    contacts: Vec<Appended>,
) {
    report(
        [
            ("schedule", schedule),
            ("payments", payments),
            ("contacts", contacts),
        ]
        .into_iter()
        .map(|(t, rows)| (t.to_string(), appended_rows_are_rejected(t, 1, rows)))
        .collect(),
    );
}

/// Appends rows to table `t` (each a copy of row `like` with changes), runs
/// the night, and checks that each appended row was rejected naming its
/// column and reason.
fn appended_rows_are_rejected(t: &str, like: usize, rows: Vec<Appended>) -> Vec<String> {
    let n = Night::new();
    let b = n.table(t);
    let first = b.num_rows() as u64;
    let extra: Vec<RecordBatch> = rows.iter().map(|(c, _, _)| row_with(&b, like, c)).collect();
    n.write(t, &append(&b, &extra));
    let o = n.run();
    if o.status.code() != Some(0) || stderr(&o).contains("panicked") {
        return vec![format!("exit {:?}:\n{}", o.status, stderr(&o))];
    }
    let a = accepted(&n, &o);
    let got = a.rejects_from(t, first);
    let mut problems = Vec::new();
    for (k, (_, column, reason)) in rows.iter().enumerate() {
        let row = first + k as u64;
        match got.iter().find(|r| r.row == row) {
            Some(r) if r.column.as_deref() == Some(column) && r.reason.contains(reason) => {}
            other => problems.push(format!(
                "row {row}: expected a reject of `{column}` saying {reason:?}, got {other:?}"
            )),
        }
    }
    let (rows_read, _, _, _) = a.counts(t);
    if rows_read != first + rows.len() as u64 {
        problems.push(format!("the manifest counts {rows_read} rows"));
    }
    problems
}

#[test]
fn nulls_in_any_contract_column_reject_their_row() {
    // One appended row per required column, a copy of row 1 with that
    // column null. (In borrowers only a null id rejects a row: a null flag
    // is false, a null attribute a missing value.)
    let n = Night::new();
    let mut failures = Vec::new();
    for (t, columns) in REQUIRED {
        let b = n.table(t);
        let mut rows = Vec::new();
        for c in columns.iter() {
            let reason = match *c {
                "borrower_id" => "null or empty borrower_id",
                "channel" => "channel is not one of",
                "outcome" => "outcome is not one of",
                c => Box::leak(format!("null {c}").into_boxed_str()),
            };
            rows.push((vec![(*c, null_of(&b, c))], *c, reason));
        }
        failures.push((t.to_string(), appended_rows_are_rejected(t, 1, rows)));
    }
    report(failures);
}

#[test]
fn tables_of_nothing_but_nulls_are_rejected_row_by_row() {
    let mut failures = Vec::new();
    for t in ["schedule", "payments", "contacts", "borrowers"] {
        let n = Night::new();
        let b = n.table(t);
        let columns: Vec<ArrayRef> = b
            .columns()
            .iter()
            .map(|c| arrow::array::new_null_array(c.data_type(), c.len()))
            .collect();
        n.write(t, &RecordBatch::try_new(b.schema(), columns).unwrap());
        let o = n.run();
        if o.status.code() != Some(0) {
            failures.push((t.to_string(), vec![stderr(&o)]));
            continue;
        }
        let a = accepted(&n, &o);
        let rows = b.num_rows() as u64;
        let mut problems = Vec::new();
        if a.counts(t) != (rows, 0, rows, 0) {
            problems.push(format!("counts {:?}", a.counts(t)));
        }
        if !a
            .rejects_from(t, 0)
            .iter()
            .all(|r| r.column.as_deref() == Some("borrower_id") && r.reason.contains("null"))
        {
            problems.push("a reject does not blame the null borrower_id".into());
        }
        failures.push((t.to_string(), problems));
    }
    report(failures);
}

#[test]
fn nan_infinite_and_huge_amounts_are_rejected() {
    // Appended rows with `column` set to each value, rejected with the reason.
    let rows = |column: &'static str, cases: &[(f64, &'static str)]| -> Vec<Appended<'static>> {
        cases
            .iter()
            .map(|&(v, reason)| (vec![(column, f64s(v))], column, reason))
            .collect()
    };
    let (nan, out, neg) = ("not a finite number", "out of range", "negative");
    let schedule = rows(
        "amount_due",
        &[
            (f64::NAN, nan),
            (f64::INFINITY, nan),
            (f64::NEG_INFINITY, nan),
            (1e300, out),
            (f64::MAX, out),
            (1.000_001e13, out),
            (-1e300, neg),
            (-0.01, neg),
        ],
    );
    let payments = rows(
        "amount",
        &[
            (f64::NAN, nan),
            (f64::INFINITY, nan),
            (f64::NEG_INFINITY, nan),
            (1e300, out),
            (-1e300, out),
            (f64::MIN, out),
        ],
    );
    let contacts = rows(
        "promise_amount",
        &[
            (f64::NAN, nan),
            (f64::INFINITY, nan),
            (1e300, out),
            (-5.0, neg),
        ],
    );
    appended_to_each_table_are_rejected(schedule, payments, contacts);
}

#[test]
fn nan_infinite_and_huge_attributes_are_missing_values() {
    // The contract: an asked-for attribute that is null or not finite is a
    // missing value. A finite but absurd one (1e300) must not break the
    // scores either.
    let n = Night::new();
    let b = n.table("borrowers");
    let mut income: Vec<Option<f64>> = {
        let c = b
            .column_by_name("income")
            .unwrap()
            .as_primitive::<arrow::datatypes::Float64Type>();
        c.iter().collect()
    };
    for (k, v) in [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e300,
        -1e300,
        f64::MAX,
    ]
    .into_iter()
    .enumerate()
    {
        income[k] = Some(v);
    }
    n.write(
        "borrowers",
        &with_column(&b, "income", Arc::new(Float64Array::from(income))),
    );
    let a = accepted(&n, &n.run());
    assert_eq!(a.counts("borrowers").2, 0, "attributes never reject a row");
    let p = a
        .scored
        .column_by_name("p_repay")
        .unwrap()
        .as_primitive::<arrow::datatypes::Float64Type>();
    assert!(p
        .values()
        .iter()
        .all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
}

#[test]
fn dates_far_out_of_range_are_rejected() {
    let d = |v: i32| -> ArrayRef { Arc::new(Date32Array::from(vec![v])) };
    let out = "out of range";
    let schedule = vec![
        (vec![("due_date", d(i32::MIN))], "due_date", out),
        (vec![("due_date", d(i32::MAX))], "due_date", out),
        (vec![("due_date", date("1899-12-31"))], "due_date", out),
        (vec![("due_date", date("2201-01-01"))], "due_date", out),
    ];
    let payments = vec![
        (vec![("paid_date", d(i32::MIN))], "paid_date", out),
        (vec![("paid_date", d(i32::MAX))], "paid_date", out),
        (vec![("paid_date", date("1066-10-14"))], "paid_date", out),
    ];
    let t = |v: i64| -> ArrayRef { Arc::new(TimestampMicrosecondArray::from(vec![v])) };
    let contacts = vec![
        (vec![("contact_time", t(i64::MIN))], "contact_time", out),
        (vec![("contact_time", t(i64::MAX))], "contact_time", out),
        (
            vec![("contact_time", t(-2_208_988_800_000_001))],
            "contact_time",
            out,
        ),
        (
            vec![
                ("promise_amount", f64s(10.0)),
                ("promise_date", d(i32::MAX)),
            ],
            "promise_date",
            out,
        ),
        (
            vec![
                ("promise_amount", f64s(10.0)),
                ("promise_date", d(i32::MIN)),
            ],
            "promise_date",
            out,
        ),
    ];
    appended_to_each_table_are_rejected(schedule, payments, contacts);
}

#[test]
fn extreme_timestamps_of_every_unit_are_rejected_not_wrapped() {
    // paid_date stored as UTC nanosecond timestamps, as pyarrow and Spark
    // write them (accepted, truncated to the date); contact_time as
    // seconds, whose extremes overflow microseconds.
    {
        let n = Night::new();
        let b = n.table("payments");
        let days = b
            .column_by_name("paid_date")
            .unwrap()
            .as_primitive::<arrow::datatypes::Date32Type>()
            .clone();
        let ns: ArrayRef = Arc::new(
            TimestampNanosecondArray::from_iter(
                days.iter()
                    .map(|d| d.map(|d| i64::from(d) * 86_400_000_000_000)),
            )
            .with_timezone("UTC"),
        );
        let b = with_column(&b, "paid_date", ns);
        let first = b.num_rows() as u64;
        let extreme = |v: i64| -> ArrayRef {
            Arc::new(TimestampNanosecondArray::from(vec![v]).with_timezone("UTC"))
        };
        let rows = [i64::MIN, i64::MAX].map(|v| row_with(&b, 1, &[("paid_date", extreme(v))]));
        n.write("payments", &append(&b, &rows));
        let a = accepted(&n, &n.run());
        // i64::MIN ns is 1677-09-21, i64::MAX ns 2262-04-11: both outside.
        a.assert_rejected("payments", first, 2, "paid_date", "out of range");
        // The other rows read as the dates they were.
        let (rows, used, rejected, unmatched) = a.counts("payments");
        assert_eq!((rows, rejected), (first + 2, 4 + 2));
        assert!(used > 0 && unmatched == 0);
    }
    {
        let n = Night::new();
        let b = n.table("contacts");
        let s = arrow::compute::cast(
            b.column_by_name("contact_time").unwrap(),
            &DataType::Timestamp(TimeUnit::Second, None),
        )
        .unwrap();
        let b = with_column(&b, "contact_time", s);
        let first = b.num_rows() as u64;
        let extreme =
            |v: i64| -> ArrayRef { Arc::new(arrow::array::TimestampSecondArray::from(vec![v])) };
        let rows = [i64::MIN, i64::MAX, i64::MAX / 1000]
            .map(|v| row_with(&b, 1, &[("contact_time", extreme(v))]));
        n.write("contacts", &append(&b, &rows));
        let a = accepted(&n, &n.run());
        a.assert_rejected("contacts", first, 3, "contact_time", "out of range");
    }
}

// ---------------------------------------------------------------------------
// Duplicates.

#[test]
fn a_borrower_on_two_rows_of_borrowers_is_rejected_on_both() {
    let n = Night::new();
    let b = n.table("borrowers");
    let first = b.num_rows() as u64;
    n.write("borrowers", &append(&b, &[b.slice(5, 1)]));
    let a = accepted(&n, &n.run());
    let got = a.rejects_from("borrowers", 0);
    let rows: Vec<u64> = got.iter().map(|r| r.row).collect();
    assert_eq!(rows, [5, first], "{got:#?}");
    for r in got {
        assert_eq!(r.column.as_deref(), Some("borrower_id"));
        assert!(r.reason.contains("appears 2 times"), "{r:?}");
    }
}

#[test]
fn the_same_payment_twice_is_two_payments() {
    // Two identical rows cannot be told from two equal payments made on the
    // same day; the contract keeps both (docs/input-contract.md). The same
    // holds for a repeated installment or contact.
    let base = Night::new();
    let before = accepted(&base, &base.run());
    for t in ["payments", "schedule", "contacts"] {
        let n = Night::new();
        let b = n.table(t);
        n.write(t, &append(&b, &[b.slice(0, 1)]));
        let a = accepted(&n, &n.run());
        let (rows, used, rejected, unmatched) = before.counts(t);
        assert_eq!(
            a.counts(t),
            (rows + 1, used + 1, rejected, unmatched),
            "{t}"
        );
    }
}

// ---------------------------------------------------------------------------
// Ids: empty, blank, 10 kB long, Unicode (a ledger with string ids).

/// The night's tables with string ids (borrower_id and loan_id as text).
fn string_ids(n: &Night) {
    for t in TABLES {
        let mut b = n.table(t);
        for c in ["borrower_id", "loan_id"] {
            if let Some(col) = b.column_by_name(c) {
                let s = arrow::compute::cast(col, &DataType::Utf8).unwrap();
                b = with_column(&b, c, s);
            }
        }
        n.write(t, &b);
    }
}

#[test]
fn empty_and_blank_ids_are_rejected() {
    let n = Night::new();
    string_ids(&n);
    let s = n.table("schedule");
    let p = n.table("payments");
    let first_s = s.num_rows() as u64;
    let first_p = p.num_rows() as u64;
    let blank = ["", "   ", "\t", "\u{3000}"];
    let mut rows: Vec<RecordBatch> = blank
        .iter()
        .map(|id| row_with(&s, 1, &[("borrower_id", strs(id))]))
        .collect();
    rows.push(row_with(&s, 1, &[("loan_id", strs(""))]));
    n.write("schedule", &append(&s, &rows));
    let prow = [
        row_with(&p, 1, &[("borrower_id", strs(""))]),
        row_with(&p, 1, &[("loan_id", strs(" "))]),
    ];
    n.write("payments", &append(&p, &prow));
    let a = accepted(&n, &n.run());
    a.assert_rejected(
        "schedule",
        first_s,
        4,
        "borrower_id",
        "null or empty borrower_id",
    );
    let loan = a.rejects_from("schedule", first_s + 4);
    assert!(
        loan.len() == 1 && loan[0].column.as_deref() == Some("loan_id"),
        "{loan:#?}"
    );
    let pr = a.rejects_from("payments", first_p);
    let cols: Vec<Option<&str>> = pr.iter().map(|r| r.column.as_deref()).collect();
    assert_eq!(cols, [Some("borrower_id"), Some("loan_id")], "{pr:#?}");
}

#[test]
fn long_and_unicode_ids_are_kept_exactly() {
    let n = Night::new();
    string_ids(&n);
    let long = "x".repeat(10 * 1024);
    let long_loan = "L".repeat(10 * 1024);
    let ids: Vec<&str> = vec![
        &long,
        "借款人-42",
        "Zoë",
        "\u{1F642}",
        "e\u{301}",
        "\u{e9}",
        "مقترض",
        "tab\there",
        "line\nbreak",
        "nul\0byte",
        " padded ",
    ];
    let s = n.table("schedule");
    let first = s.num_rows() as u64;
    // One overdue installment each (due three months before the night), so
    // each is in tonight's population.
    let rows: Vec<RecordBatch> = ids
        .iter()
        .map(|id| {
            let loan = if *id == long { long_loan.as_str() } else { id };
            row_with(
                &s,
                1,
                &[
                    ("borrower_id", strs(id)),
                    ("loan_id", strs(loan)),
                    ("due_date", date("2025-10-01")),
                    ("amount_due", f64s(100.0)),
                ],
            )
        })
        .collect();
    n.write("schedule", &append(&s, &rows));
    let p = n.table("payments");
    let pay = row_with(
        &p,
        1,
        &[
            ("borrower_id", strs(&long)),
            ("loan_id", strs(&long_loan)),
            ("paid_date", date("2025-10-02")),
            ("amount", f64s(40.0)),
        ],
    );
    n.write("payments", &append(&p, &[pay]));
    let a = accepted(&n, &n.run());
    assert!(
        a.rejects_from("schedule", first).is_empty(),
        "{:#?}",
        a.rejects
    );
    let scored = a.scored_ids();
    for id in &ids {
        // Ids are kept as given: no trimming, no normalization (NFC and
        // NFD spellings of é are two borrowers).
        let want = if id.trim().is_empty() {
            continue;
        } else {
            id.to_string()
        };
        assert_eq!(
            scored.iter().filter(|s| **s == want).count(),
            1,
            "{:?} scored once",
            want.chars().take(20).collect::<String>()
        );
    }
}

// ---------------------------------------------------------------------------
// Zero rows.

#[test]
fn zero_row_files_are_empty_tables() {
    // A file with the contract's columns and no rows is an empty table: no
    // payments (or contacts, or borrower flags) tonight.
    for t in ["payments", "borrowers", "contacts"] {
        let n = Night::new();
        n.write(t, &n.table(t).slice(0, 0));
        let a = accepted(&n, &n.run());
        assert_eq!(a.counts(t), (0, 0, 0, 0), "{t}");
        assert!(a.scored.num_rows() > 0, "{t}");
    }
}

#[test]
fn a_zero_row_schedule_is_refused() {
    // No schedule rows means no borrowers: an export that failed, not a
    // night to publish over the previous one.
    let n = Night::new();
    let previous = n.previous_night();
    n.write("schedule", &n.table("schedule").slice(0, 0));
    let o = n.run();
    assert_refused(
        &n,
        &o,
        65,
        &["in/schedule.parquet", "no rows"],
        Some(&previous),
    );
}

// ---------------------------------------------------------------------------
// Files that are not files.

/// Whether this process can read a file whose permissions forbid it (root can).
fn can_read_unreadable(path: &Path) -> bool {
    std::fs::read(path).is_ok()
}

fn make_unreadable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if can_read_unreadable(path) {
        // Written to stderr directly, not with eprintln!, so that the test
        // harness does not capture it: a skipped case is never silent.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "NOTE: skipping the unreadable-file case for {}: this process can read a file \
             with mode 000 (it runs as root), so the case cannot be built",
            path.display()
        );
        return false;
    }
    true
}

#[test]
fn missing_unreadable_and_directory_inputs_are_refused() {
    let mut failures = Vec::new();
    for t in TABLES {
        let file = format!("in/{t}.parquet");
        let n = Night::new();
        let mut cases = Cases::new(&n);
        // Missing.
        std::fs::remove_file(n.input(t)).unwrap();
        cases.refused(&format!("{t} missing"), &n.run(), 65, &[&file]);
        // A directory in its place (with a file inside, as a careless copy
        // of a partitioned export would leave).
        std::fs::create_dir(n.input(t)).unwrap();
        std::fs::copy(sample(t), n.input(t).join("part-0.parquet")).unwrap();
        cases.refused(&format!("{t} a directory"), &n.run(), 65, &[&file]);
        failures.extend(cases.failures);
        // Unreadable.
        let n = Night::new();
        if make_unreadable(&n.input(t)) {
            let o = n.run();
            failures.push((
                format!("{t} unreadable"),
                refusal_problems(&n, &o, 65, &[&file], None),
            ));
        }
    }
    report(failures);
}

// ---------------------------------------------------------------------------
// Strategy files: exit 78, the file named (and the key or line).

#[test]
fn strategy_files_with_every_kind_of_mistake_are_refused() {
    let good = std::fs::read_to_string(repo("strategies/default.toml")).unwrap();
    let replace = |from: &str, to: &str| -> Vec<u8> {
        assert!(good.contains(from), "{from}");
        good.replacen(from, to, 1).into_bytes()
    };
    let appended = |tail: &str| format!("{good}\n{tail}\n").into_bytes();
    let challenger = |share: &str| {
        let rows = ["current", "\"1-29\"", "\"30-59\"", "\"60-89\"", "\"90+\""]
            .map(|b| format!("{b} = [\"soft\", \"soft\", \"soft\", \"soft\", \"soft\"]"))
            .join("\n");
        appended(&format!(
            "[challenger]\nshare = {share}\nsalt = \"s\"\n[challenger.matrix]\n{rows}"
        ))
    };
    let mut invalid_in_value = replace("version = \"default-1\"", "version = \"default-?\"");
    let at = invalid_in_value.iter().position(|&b| b == b'?').unwrap();
    invalid_in_value[at] = 0xFF;
    let files: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("empty file", Vec::new(), &["version"]),
        ("not TOML", appended("this is not toml"), &["line"]),
        (
            "binary junk",
            (0..2000u32).map(|i| (i * 7919 % 251) as u8).collect(),
            &[],
        ),
        ("invalid UTF-8 in a comment", {
            let mut v = good.clone().into_bytes();
            v.extend_from_slice(b"\n# caf\xe9\n");
            v
        }, &["UTF-8"]),
        ("invalid UTF-8 in a value", invalid_in_value, &["UTF-8"]),
        ("unknown key", format!("colour = \"red\"\n{good}").into_bytes(), &["colour"]),
        (
            "unknown nested key",
            replace("channels = [\"call\"]", "channels = [\"call\"]\nretries = 3"),
            &["retries"],
        ),
        ("key twice", format!("version = \"x\"\n{good}").into_bytes(), &["version"]),
        ("missing version", replace("version = \"default-1\"", ""), &["version"]),
        ("empty version", replace("version = \"default-1\"", "version = \" \""), &["version"]),
        (
            "wrong value type",
            replace("bands = [\"A\", \"B\", \"C\", \"D\", \"E\"]", "bands = \"A\""),
            &["bands"],
        ),
        ("overlapping buckets", replace("min_dpd = 30", "min_dpd = 29"), &["overlaps"]),
        ("a gap between buckets", replace("min_dpd = 30", "min_dpd = 31"), &["gap"]),
        (
            "a closed last bucket",
            replace("name = \"90+\"", "name = \"90+\"\nmax_dpd = 999"),
            &["max_dpd"],
        ),
        ("unknown treatment", replace("current = [\"soft\"", "current = [\"gentle\""), &["gentle"]),
        ("unknown channel", replace("channels = [\"call\"]", "channels = [\"pigeon\"]"), &["pigeon"]),
        ("a short matrix row", replace("current = [\"soft\", ", "current = ["), &["matrix.current"]),
        (
            "a missing matrix row",
            replace(
                "\"90+\" = [\"escalated\", \"escalated\", \"escalated\", \"escalated\", \"escalated\"]",
                "",
            ),
            &["90+"],
        ),
        (
            "a matrix row for no bucket",
            replace("[matrix]", "[matrix]\n\"120+\" = [\"soft\", \"soft\", \"soft\", \"soft\", \"soft\"]"),
            &["120+"],
        ),
        (
            "band cut-offs increasing",
            replace(
                "# band_cutoffs = [0.9, 0.75, 0.5, 0.25]",
                "band_cutoffs = [0.25, 0.5, 0.75, 0.9]",
            ),
            &["band_cutoffs"],
        ),
        ("challenger share above 1", challenger("1.5"), &["share"]),
        ("challenger share NaN", challenger("nan"), &["share"]),
        (
            "negative capacity",
            appended("[capacity]\nescalated = -1"),
            &["escalated"],
        ),
        ("unknown contact rule pack", replace("pack = \"cn\"", "pack = \"xx\""), &["contact_limits"]),
        (
            "contact window hour 25",
            replace("pack = \"cn\"", "pack = \"cn\"\nwindow_start_hour = 25"),
            &["window"],
        ),
        (
            "negative reminder days",
            replace("days_before_due = 3", "days_before_due = -3"),
            &["days_before_due"],
        ),
        (
            "bands that are not the model's",
            replace(
                "bands = [\"A\", \"B\", \"C\", \"D\", \"E\"]",
                "bands = [\"A\", \"B\", \"C\", \"D\", \"X\"]",
            ),
            &["bands"],
        ),
    ];
    let n = Night::new();
    let mut cases = Cases::new(&n);
    for (name, bytes, names) in files {
        std::fs::write(n.path("strategy.toml"), &bytes).unwrap();
        let mut expected = vec!["strategy.toml"];
        expected.extend_from_slice(names);
        cases.refused(name, &n.run(), 78, &expected);
    }
    // Not a file.
    std::fs::remove_file(n.path("strategy.toml")).unwrap();
    cases.refused("missing", &n.run(), 78, &["strategy.toml"]);
    std::fs::create_dir(n.path("strategy.toml")).unwrap();
    cases.refused("a directory", &n.run(), 78, &["strategy.toml"]);
    let mut failures = cases.failures;
    let n = Night::new();
    if make_unreadable(&n.path("strategy.toml")) {
        let o = n.run();
        failures.push((
            "unreadable".into(),
            refusal_problems(&n, &o, 78, &["strategy.toml"], None),
        ));
    }
    report(failures);
}

// ---------------------------------------------------------------------------
// Config files (`--config nightly.toml`): exit 78, the file named.

#[test]
fn config_files_with_every_kind_of_mistake_are_refused() {
    let n = Night::new();
    let good = std::fs::read_to_string(n.path("nightly.toml")).unwrap();
    let config: Vec<String> = ["run", "--config", "nightly.toml"]
        .map(String::from)
        .to_vec();
    // The config as written runs the night (the previous night of the cases).
    let o = n.run_args(&config);
    assert_exit(&o, 0);
    let mut cases = Cases {
        n: &n,
        previous: snapshot(&n.night_dir()),
        failures: Vec::new(),
    };
    let replace = |from: &str, to: &str| -> Vec<u8> {
        assert!(good.contains(from), "{from}");
        good.replacen(from, to, 1).into_bytes()
    };
    // TOML errors name the line (never an excerpt of the file).
    let at_line = |key: &str, what: &'static str| -> &'static [&'static str] {
        let at = good.lines().position(|l| l.starts_with(key)).expect("key");
        let line: &'static str = Box::leak(format!("line {}:", at + 1).into_boxed_str());
        Box::leak(vec![line, what].into_boxed_slice())
    };
    let files: Vec<(&str, Vec<u8>, i32, &[&str])> = vec![
        (
            "not TOML",
            format!("{good}\n[[[\n").into_bytes(),
            78,
            &["line"],
        ),
        (
            "unknown key",
            format!("modle = \"x\"\n{good}").into_bytes(),
            78,
            &["modle"],
        ),
        (
            "key twice",
            format!("{good}\nas_of = \"2025-12-30\"\n").into_bytes(),
            78,
            &["line", "duplicate key"],
        ),
        (
            "wrong type",
            replace("partitions = 1 ", "partitions = \"two\" "),
            78,
            at_line("partitions =", "expected u32"),
        ),
        (
            "wrong type of a flag",
            replace("strict = false", "strict = \"no\""),
            78,
            at_line("strict =", "expected a boolean"),
        ),
        (
            "a date that is no date",
            replace("as_of = \"2025-12-31\"", "as_of = \"2025-02-30\""),
            78,
            &["as_of", "2025-02-30"],
        ),
        (
            "a date out of range",
            replace("as_of = \"2025-12-31\"", "as_of = \"2525-12-31\""),
            78,
            &["as_of", "2525-12-31"],
        ),
        (
            "a date as a number",
            replace("as_of = \"2025-12-31\"", "as_of = 20251231"),
            78,
            at_line("as_of =", "expected a string"),
        ),
        (
            "a negative tolerance",
            replace("tolerance = 0.01", "tolerance = -1.0"),
            78,
            &["tolerance"],
        ),
        (
            "a NaN tolerance",
            replace("tolerance = 0.01", "tolerance = nan"),
            78,
            &["tolerance"],
        ),
        (
            "zero partitions",
            replace("partitions = 1 ", "partitions = 0 "),
            78,
            &["partitions"],
        ),
        (
            "a partition beyond the partitions",
            replace("# partition = 0", "partition = 3"),
            78,
            &["partition"],
        ),
        (
            "invalid UTF-8",
            {
                let mut v = good.clone().into_bytes();
                v.extend_from_slice(b"\n# \xff\xfe\n");
                v
            },
            78,
            &["UTF-8"],
        ),
        (
            "a missing model",
            replace("model = \"model\"", "model = \"no-such-model\""),
            78,
            &["no-such-model"],
        ),
        (
            "a missing input",
            replace("\"in/payments.parquet\"", "\"in/no-such.parquet\""),
            65,
            &["in/no-such.parquet"],
        ),
        (
            "nothing but comments",
            good.lines()
                .map(|l| format!("# {l}\n"))
                .collect::<String>()
                .into_bytes(),
            64,
            &["is needed"],
        ),
    ];
    for (name, bytes, code, names) in files {
        std::fs::write(n.path("nightly.toml"), &bytes).unwrap();
        let mut expected = names.to_vec();
        if code == 78 && name != "a missing model" {
            expected.push("nightly.toml");
        }
        cases.refused(name, &n.run_args(&config), code, &expected);
    }
    std::fs::remove_file(n.path("nightly.toml")).unwrap();
    cases.refused("missing", &n.run_args(&config), 78, &["nightly.toml"]);
    std::fs::create_dir(n.path("nightly.toml")).unwrap();
    cases.refused("a directory", &n.run_args(&config), 78, &["nightly.toml"]);
    cases.report();
}

// ---------------------------------------------------------------------------
// Models: exit 78, model.json named.

#[test]
fn model_files_with_every_kind_of_mistake_are_refused() {
    let good: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("models/default/model.json")).unwrap())
            .unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| -> Vec<u8> {
        let mut v = good.clone();
        f(&mut v);
        serde_json::to_vec_pretty(&v).unwrap()
    };
    let text = serde_json::to_vec_pretty(&good).unwrap();
    let files: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "a future format version",
            edit(&|v| v["format_version"] = 2.into()),
            &["format version 2"],
        ),
        (
            "a huge format version",
            edit(&|v| v["format_version"] = 99_999_999_999u64.into()),
            &["format version"],
        ),
        (
            "format version as text",
            edit(&|v| v["format_version"] = "1".into()),
            &["format_version"],
        ),
        (
            "no format version",
            edit(&|v| {
                v.as_object_mut().unwrap().remove("format_version");
            }),
            &["format_version"],
        ),
        (
            "an unknown feature",
            edit(&|v| v["features"][3]["name"] = "bogus_feature".into()),
            &["bogus_feature"],
        ),
        (
            "a feature twice",
            edit(&|v| {
                let f = v["features"][0].clone();
                v["features"].as_array_mut().unwrap().push(f);
            }),
            &["dpd"],
        ),
        (
            "no features",
            edit(&|v| v["features"] = serde_json::json!([])),
            &["features"],
        ),
        (
            "a coefficient of 1e300",
            edit(&|v| v["features"][0]["coefficient"] = 1e300.into()),
            &["coefficient"],
        ),
        (
            "a feature without its name",
            edit(&|v| {
                v["features"][0].as_object_mut().unwrap().remove("name");
            }),
            &["name"],
        ),
        ("empty file", Vec::new(), &[]),
        ("not JSON", b"model: default\n".to_vec(), &[]),
        ("truncated", text[..text.len() / 2].to_vec(), &[]),
        ("JSON null", b"null".to_vec(), &[]),
        (
            "invalid UTF-8",
            {
                let mut v = text.clone();
                let i = v.windows(7).position(|w| w == b"default").unwrap();
                v[i] = 0xFF;
                v
            },
            &[],
        ),
    ];
    let n = Night::new();
    let mut cases = Cases::new(&n);
    for (name, bytes, names) in files {
        std::fs::write(n.path("model/model.json"), &bytes).unwrap();
        let mut expected = vec!["model/model.json"];
        expected.extend_from_slice(names);
        cases.refused(name, &n.run(), 78, &expected);
    }
    // A model that needs the contact features, on a night without contacts.
    std::fs::copy(
        repo("models/default/model.json"),
        n.path("model/model.json"),
    )
    .unwrap();
    let o = n.run_args(&n.args_without("--contacts"));
    cases.refused(
        "contact features without contacts",
        &o,
        78,
        &["model/model.json", "contacts_7d"],
    );
    // A model that needs an attribute the borrowers table lacks.
    let b = n.table("borrowers");
    n.write("borrowers", &without_column(&b, "income"));
    cases.refused(
        "an attribute the borrowers lack",
        &n.run(),
        78,
        &["model/model.json", "income", "in/borrowers.parquet"],
    );
    n.write("borrowers", &b);
    // Not a file.
    std::fs::remove_file(n.path("model/model.json")).unwrap();
    cases.refused("missing", &n.run(), 78, &["model/model.json"]);
    std::fs::create_dir(n.path("model/model.json")).unwrap();
    cases.refused("a directory", &n.run(), 78, &["model/model.json"]);
    let mut failures = cases.failures;
    let n = Night::new();
    if make_unreadable(&n.path("model/model.json")) {
        let o = n.run();
        failures.push((
            "unreadable".into(),
            refusal_problems(&n, &o, 78, &["model/model.json"], None),
        ));
    }
    report(failures);
}
