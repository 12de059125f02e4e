//! The written schemas match docs/output-contract.md, column by column.

mod common;

use arrow::datatypes::{DataType, Schema};
use common::*;

/// The rows of the table marked `<!-- table:NAME -->`: (column, type, nullable).
fn documented(name: &str) -> Vec<(String, String, bool)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/output-contract.md"
    ))
    .unwrap();
    let start = text
        .find(&format!("<!-- table:{name} -->"))
        .expect("table marker");
    let end = start + text[start..].find("<!-- end -->").expect("end marker");
    text[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[1].trim_matches('`').to_string(),
                cells[2].to_string(),
                cells[3] == "yes",
            )
        })
        .collect()
}

fn type_name(t: &DataType) -> String {
    format!("{t:?}")
}

/// Checks that `schema` has the documented columns, in order, with their
/// types and nullability (id columns may be either documented type).
fn check(schema: &Schema, name: &str, keys_only: bool) {
    check_doc(schema, name, documented(name), keys_only)
}

/// [`check`] against the documented rows `doc`.
fn check_doc(schema: &Schema, name: &str, doc: Vec<(String, String, bool)>, keys_only: bool) {
    let fields: Vec<_> = schema.fields().iter().collect();
    let written: Vec<_> = if keys_only {
        fields
            .iter()
            .filter(|f| doc.iter().any(|d| &d.0 == f.name()))
            .collect()
    } else {
        fields.iter().collect()
    };
    assert_eq!(
        written.len(),
        doc.len(),
        "{name}: written {:?}",
        fields.iter().map(|f| f.name()).collect::<Vec<_>>()
    );
    for (f, (col, ty, nullable)) in written.iter().zip(&doc) {
        assert_eq!(f.name(), col, "{name}: column order");
        let t = type_name(f.data_type());
        assert!(
            ty.split(" or ").any(|d| d == t),
            "{name}.{col}: written {t}, documented {ty}"
        );
        assert_eq!(f.is_nullable(), *nullable, "{name}.{col}: nullability");
    }
    if keys_only {
        for f in fields
            .iter()
            .filter(|f| !doc.iter().any(|d| &d.0 == f.name()))
        {
            assert_eq!(
                f.data_type(),
                &DataType::Float64,
                "{name}.{}: features are Float64",
                f.name()
            );
            assert!(!f.is_nullable());
        }
    }
}

#[test]
fn written_schemas_match_the_output_contract() {
    let w = Workdir::new();
    let model = repo("models/default");
    let (s, p, b) = (sample("schedule"), sample("payments"), sample("borrowers"));
    let mut args = vec!["score".to_string(), "--model".into(), model.clone()];
    args.extend(sample_inputs());
    args.extend(["--as-of", "2025-12-31", "--out", "scored.parquet"].map(String::from));
    let o = w.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_exit(&o, 0);
    check(
        read_parquet(&w.path("scored.parquet")).schema().as_ref(),
        "scored",
        false,
    );
    assert_eq!(
        footer_metadata(&w.path("scored.parquet"))
            .get("dunning.schema_version")
            .map(String::as_str),
        Some("1")
    );

    let o = w.run(&[
        "features",
        "--schedule",
        &s,
        "--payments",
        &p,
        "--borrowers",
        &b,
        "--as-of",
        "2025-11-30",
        "--out",
        "f.parquet",
    ]);
    assert_exit(&o, 0);
    check(
        read_parquet(&w.path("f.parquet")).schema().as_ref(),
        "features",
        true,
    );

    // A payments file with a bad row, for the rejects schema.
    let bad = w.path("bad.parquet");
    write_parquet(
        &bad,
        vec![
            (
                "borrower_id",
                std::sync::Arc::new(arrow::array::Int64Array::from(vec![1]))
                    as arrow::array::ArrayRef,
            ),
            (
                "paid_date",
                std::sync::Arc::new(arrow::array::Date32Array::from(vec![day("2025-01-01")])),
            ),
            (
                "amount",
                std::sync::Arc::new(arrow::array::Float64Array::from(vec![f64::NAN])),
            ),
        ],
    );
    let o = w.run(&[
        "features",
        "--schedule",
        &s,
        "--payments",
        "bad.parquet",
        "--as-of",
        "2025-11-30",
        "--out",
        "g.parquet",
    ]);
    assert_exit(&o, 0);
    check(
        read_parquet(&w.path("g.rejects.parquet")).schema().as_ref(),
        "rejects",
        false,
    );
}

#[test]
fn pseudonymized_night_files_match_the_output_contract() {
    let w = Workdir::new();
    let mut args = vec![
        "run".to_string(),
        "--model".into(),
        repo("models/default"),
        "--strategy".into(),
        repo("strategies/default.toml"),
    ];
    args.extend(sample_inputs());
    args.extend(
        [
            "--as-of",
            "2025-12-31",
            "--out",
            "out",
            "--pseudonymize-ids",
            "--pseudonym-map",
        ]
        .map(String::from),
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dunning"))
        .args(&args)
        .current_dir(w.root())
        .env(dunning::pseudonym::KEY_ENV, "a key for the contract test")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let dir = w.path("out/2025-12-31");
    let mut doc = documented("scored");
    doc.extend(documented("run"));
    let scored = read_parquet(&dir.join("scored.parquet"));
    check_doc(scored.schema().as_ref(), "run", doc, false);
    assert_eq!(
        scored.schema().field(0).data_type(),
        &DataType::Utf8,
        "pseudonyms are text"
    );
    check(
        read_parquet(&dir.join("pseudonyms.parquet"))
            .schema()
            .as_ref(),
        "pseudonyms",
        false,
    );
    check(
        read_parquet(&dir.join("rejects.parquet")).schema().as_ref(),
        "rejects",
        false,
    );
}
