//! Property tests of the nightly run on generated ledgers: every borrower in
//! the population once, one of the three treatments, no disputed borrower
//! contactable, and no call allowed beyond the rule pack's limits; and any
//! number of borrower partitions gives the bytes of the unpartitioned run.

use std::collections::HashSet;

use arrow::array::{Array, AsArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proptest::prelude::*;

use dunning::contract::InputPaths;
use dunning::dates::ymd;
use dunning::generate::{generate, GenerateOptions};
use dunning::jobs::run::{run, RunOptions};

fn read(path: &std::path::Path) -> arrow::array::RecordBatch {
    let b = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let schema = b.schema().clone();
    let batches: Vec<_> = b.build().unwrap().map(|x| x.unwrap()).collect();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

/// The options of a nightly run of the ledger in `dir/in` with the default
/// model, into `dir.join(out)`.
fn run_options(
    dir: &std::path::Path,
    strategy: std::path::PathBuf,
    as_of: dunning::dates::Day,
    out: &str,
    partitions: u32,
    partition: Option<u32>,
) -> RunOptions {
    RunOptions {
        model: format!("{}/models/default", env!("CARGO_MANIFEST_DIR")).into(),
        strategy,
        inputs: InputPaths::in_dir(&dir.join("in")),
        as_of,
        out: dir.join(out),
        tolerance: 0.01,
        strict: false,
        partitions,
        partition,
        pseudonym: None,
        drift: Default::default(),
        held_partitions: dunning::jobs::run::HELD_PARTITIONS,
    }
}

/// [`run_options`] of 2025-12-31 with the default strategy.
fn default_night(
    dir: &std::path::Path,
    out: &str,
    partitions: u32,
    partition: Option<u32>,
) -> RunOptions {
    let strategy = format!("{}/strategies/default.toml", env!("CARGO_MANIFEST_DIR"));
    let as_of = ymd(2025, 12, 31);
    run_options(dir, strategy.into(), as_of, out, partitions, partition)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn nightly_invariants(seed in any::<u64>(), pack in prop::sample::select(vec!["cn", "us"]), day in 0..60i32) {
        let dir = tempfile::tempdir().unwrap();
        generate(&GenerateOptions::new(400, seed, dir.path().join("in"))).unwrap();
        let root = env!("CARGO_MANIFEST_DIR");
        let strategy = std::fs::read_to_string(format!("{root}/strategies/default.toml")).unwrap()
            .replacen("pack = \"cn\"", &format!("pack = \"{pack}\""), 1);
        std::fs::write(dir.path().join("s.toml"), strategy).unwrap();
        let as_of = ymd(2025, 10, 1) + day;
        let m = run(&run_options(dir.path(), dir.path().join("s.toml"), as_of, "out", 1, None)).unwrap();
        let t = read(&dir.path().join(format!("out/{}/scored.parquet", m.as_of)));
        let ids = t.column_by_name("borrower_id").unwrap().as_primitive::<arrow::datatypes::Int64Type>();
        let unique: HashSet<i64> = ids.values().iter().copied().collect();
        prop_assert_eq!(unique.len(), t.num_rows());
        prop_assert_eq!(m.scored as usize + m.outside_population as usize, 400);
        let treatment = t.column_by_name("treatment").unwrap().as_string::<i32>();
        let channel = t.column_by_name("channel").unwrap().as_string::<i32>();
        let allowed = t.column_by_name("contact_allowed").unwrap().as_boolean();
        let calls_left = t.column_by_name("calls_left_today").unwrap().as_primitive::<arrow::datatypes::Int32Type>();
        let borrowers = read(&dir.path().join("in/borrowers.parquet"));
        let bid = borrowers.column_by_name("borrower_id").unwrap().as_primitive::<arrow::datatypes::Int64Type>();
        let dispute = borrowers.column_by_name("dispute").unwrap().as_boolean();
        let disputed: HashSet<i64> = (0..borrowers.num_rows()).filter(|&k| dispute.value(k)).map(|k| bid.value(k)).collect();
        let daily_max = if pack == "cn" { 6 } else { 7 };
        for k in 0..t.num_rows() {
            prop_assert!(["soft", "standard", "escalated"].contains(&treatment.value(k)));
            if disputed.contains(&ids.value(k)) {
                prop_assert!(!allowed.value(k));
            }
            prop_assert!(calls_left.is_valid(k));
            prop_assert!(calls_left.value(k) >= 0 && calls_left.value(k) <= daily_max);
            if channel.value(k) == "call" && calls_left.value(k) == 0 {
                prop_assert!(!allowed.value(k), "a call beyond the {} limits is allowed", pack);
            }
        }
    }

    #[test]
    fn partitions_change_no_byte(seed in any::<u64>(), partitions in 2u32..7, capacity in 0u64..80) {
        let dir = tempfile::tempdir().unwrap();
        let mut g = GenerateOptions::new(300, seed, dir.path().join("in"));
        g.bad_rows = 24;
        generate(&g).unwrap();
        let root = env!("CARGO_MANIFEST_DIR");
        let strategy = std::fs::read_to_string(format!("{root}/strategies/default.toml")).unwrap()
            .replacen("# [capacity]\n# escalated = 500", &format!("[capacity]\nescalated = {capacity}"), 1);
        std::fs::write(dir.path().join("s.toml"), strategy).unwrap();
        let opts = |out: &str, partitions: u32| {
            run_options(dir.path(), dir.path().join("s.toml"), ymd(2025, 12, 31), out, partitions, None)
        };
        let one = run(&opts("one", 1)).unwrap();
        let many = run(&opts("many", partitions)).unwrap();
        prop_assert_eq!(one.rejected, 22);
        for f in ["scored.parquet", "rejects.parquet"] {
            let a = std::fs::read(dir.path().join("one/2025-12-31").join(f)).unwrap();
            let b = std::fs::read(dir.path().join("many/2025-12-31").join(f)).unwrap();
            prop_assert!(a == b, "{} differs with {} partitions", f, partitions);
        }
        prop_assert_eq!(one.by_treatment, many.by_treatment);
        prop_assert_eq!(one.by_bucket_and_treatment, many.by_bucket_and_treatment);
    }
}

/// Generates `borrowers` borrowers into `dir/in` (with `bad_rows` defects)
/// and rewrites each table in row groups of `rows` rows (None: one), with
/// `string_ids`, its integer id columns as strings.
fn generated_ledger(
    dir: &std::path::Path,
    borrowers: u64,
    bad_rows: u64,
    rows: Option<usize>,
    string_ids: bool,
) {
    use arrow::datatypes::{DataType, Field, Schema};
    let mut g = GenerateOptions::new(borrowers, 11, dir.join("in"));
    g.bad_rows = bad_rows;
    generate(&g).unwrap();
    for table in ["schedule", "payments", "contacts", "borrowers"] {
        let path = dir.join(format!("in/{table}.parquet"));
        let t = read(&path);
        let schema = t.schema();
        let (fields, columns): (Vec<Field>, Vec<_>) = schema
            .fields()
            .iter()
            .zip(t.columns())
            .map(|(f, c)| {
                if string_ids && ["borrower_id", "loan_id"].contains(&f.name().as_str()) {
                    let ids = arrow::compute::cast(c, &DataType::Utf8).unwrap();
                    (Field::new(f.name(), DataType::Utf8, true), ids)
                } else {
                    (f.as_ref().clone(), c.clone())
                }
            })
            .unzip();
        let t =
            arrow::array::RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns)
                .unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(rows)
            .build();
        let file = std::fs::File::create(path).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, t.schema(), Some(props)).unwrap();
        w.write(&t).unwrap();
        w.close().unwrap();
    }
}

#[test]
fn range_partitions_skip_row_groups_and_change_no_byte() {
    let dir = tempfile::tempdir().unwrap();
    // Many small row groups in borrower order, as a large sorted export has.
    generated_ledger(dir.path(), 600, 12, Some(700), false);
    let opts = |out: &str, partitions: u32, partition: Option<u32>| {
        default_night(dir.path(), out, partitions, partition)
    };
    // Without capacity limits, the in-process run writes the night while
    // it scores the partitions, in order: the same bytes and counts.
    // The partitions' rows reach the writer in memory, or (held_partitions
    // 0, as when a partition ends far ahead of the writer) through scratch
    // files.
    let one = run(&opts("one", 1, None)).unwrap();
    let many = run(&opts("many", 4, None)).unwrap();
    let spilled = run(&RunOptions {
        held_partitions: 0,
        ..opts("spilled", 4, None)
    })
    .unwrap();
    for f in ["scored.parquet", "rejects.parquet"] {
        let a = std::fs::read(dir.path().join("one/2025-12-31").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("many/2025-12-31").join(f)).unwrap();
        let c = std::fs::read(dir.path().join("spilled/2025-12-31").join(f)).unwrap();
        assert!(a == b, "{f} differs under range partitions");
        assert!(
            a == c,
            "{f} differs under range partitions through scratch files"
        );
    }
    assert_eq!(many.by_treatment, spilled.by_treatment);
    assert_eq!(one.scored, many.scored);
    assert_eq!(one.rejected, many.rejected);
    assert_eq!(one.by_dpd_bucket, many.by_dpd_bucket);
    assert_eq!(one.by_band, many.by_band);
    assert_eq!(one.by_treatment, many.by_treatment);
    assert_eq!(one.by_bucket_and_treatment, many.by_bucket_and_treatment);
    // Each partition's share: the range scheme, and most rows never decoded
    // for it (counted as other partitions).
    let mut used = 0;
    for i in 0..4 {
        let m = run(&opts("parts", 4, Some(i))).unwrap();
        let p = m.partition.clone().unwrap();
        assert!(
            matches!(p.scheme, dunning::contract::PartitionScheme::Ranges { .. }),
            "{p:?}"
        );
        let schedule = &m.inputs[0];
        assert_eq!(
            schedule.rows,
            schedule.used + schedule.rejected + schedule.unmatched + schedule.other_partitions
        );
        assert!(
            schedule.other_partitions > schedule.rows / 2,
            "{schedule:?}"
        );
        used += schedule.used;
    }
    let one = run(&opts("one", 1, None)).unwrap();
    assert_eq!(used, one.inputs[0].used);
}

#[test]
fn string_ids_with_empty_partitions_change_no_byte() {
    // String ids take the hash scheme; with more partitions than borrowers,
    // most partitions hold no row at all and must still carry string ids.
    let dir = tempfile::tempdir().unwrap();
    generated_ledger(dir.path(), 20, 6, None, true);
    let opts = |out: &str, partitions: u32, partition: Option<u32>| {
        default_night(dir.path(), out, partitions, partition)
    };
    let one = run(&opts("one", 1, None)).unwrap();
    let many = run(&opts("many", 64, None)).unwrap();
    for f in ["scored.parquet", "rejects.parquet"] {
        let a = std::fs::read(dir.path().join("one/2025-12-31").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("many/2025-12-31").join(f)).unwrap();
        assert!(a == b, "{f} differs with string ids and empty partitions");
    }
    let scored = read(&dir.path().join("one/2025-12-31/scored.parquet"));
    assert_eq!(
        scored
            .schema()
            .field_with_name("borrower_id")
            .unwrap()
            .data_type(),
        &arrow::datatypes::DataType::Utf8
    );
    assert_eq!(one.by_treatment, many.by_treatment);
    // A partition with no rows, run on its own, still scores string ids
    // (nobody), under the hash scheme.
    let empty = (0..64)
        .map(|i| (i, run(&opts("parts", 64, Some(i))).unwrap()))
        .find(|(_, m)| m.inputs[0].used == 0)
        .expect("an empty partition among 64 for 20 borrowers");
    assert_eq!(empty.1.scored, 0);
    assert_eq!(
        empty.1.partition.unwrap().scheme,
        dunning::contract::PartitionScheme::Hash
    );
    let part = read(
        &dunning::jobs::run::partition_dir(
            &dir.path().join("parts"),
            ymd(2025, 12, 31),
            empty.0,
            64,
        )
        .join("scored.parquet"),
    );
    assert_eq!(part.num_rows(), 0);
}
