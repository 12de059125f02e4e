//! The offline HTML report pages end to end: `dunning train` writes
//! `report.html` beside report.json, `dunning backtest` writes
//! `backtest.html` and `dunning compare` writes `compare.html`. Each page
//! must be valid HTML5 to a browser-grade parser, hold every expected figure
//! exactly once, load nothing from the network, and be exactly what the
//! report in the JSON file beside it renders to (the same numbers, the same
//! bytes).

mod common;

use std::path::Path;

use common::html::check_offline_page;
use common::*;
use dunning::report::backtest::BacktestReport;
use dunning::report::compare::CompareReport;
use dunning::report::page;
use dunning::report::validation::ValidationReport;

/// Sample as-of dates whose 30-day horizon ends within the ledger.
const SAMPLE_DATES: [&str; 2] = ["2025-08-31", "2025-11-30"];

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_html(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `dunning COMMAND --model ... [sample inputs] --as-of ... extra`.
fn on_sample(w: &Workdir, command: &str, models: &[&str], extra: &[&str]) {
    let mut args: Vec<String> = vec![command.into()];
    for m in models {
        args.extend(["--model".into(), m.to_string()]);
    }
    args.extend(sample_inputs());
    for d in SAMPLE_DATES {
        args.extend(["--as-of".into(), d.into()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_exit(&w.run(&args), 0);
}

/// Checks the page and that its figures are exactly `want`, in order.
fn check_figures(html: &str, want: &[String]) {
    let ids = check_offline_page(html);
    assert_eq!(ids, want, "figure ids");
    // Every figure drew its data (a "No data" figure would mean the wiring
    // passed the wrong numbers).
    assert!(!html.contains("No data"), "a figure has no data");
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn backtest_writes_its_page_with_treatments_and_roll_rates() {
    let w = Workdir::new();
    let strategy = repo("strategies/default.toml");
    on_sample(
        &w,
        "backtest",
        &[&repo("models/default")],
        &["--strategy", &strategy, "--out", "bt"],
    );
    let html = read_html(&w.path("bt/backtest.html"));
    check_figures(
        &html,
        &strings(&[
            "roc",
            "ks",
            "calibration",
            "score-histogram",
            "band-mix",
            "repay-by-band",
            "treatment-mix",
            "repay-by-treatment",
            "roll-rates",
            "psi",
        ]),
    );
    // The page is the JSON's report rendered: the same numbers.
    let report: BacktestReport = read_json(&w.path("bt/backtest.json"));
    assert_eq!(html, page::backtest_page(&report).render());
    let m = report.overall.evaluation.metrics.as_ref().unwrap();
    assert!(html.contains(&format!("<td class=\"num\">{:.3}</td>", m.auc)));
    for s in &report.snapshots {
        assert!(
            html.contains(&format!("<td>{}</td>", s.as_of)),
            "{}",
            s.as_of
        );
    }
    // PSI per feature: the pooled PSI of every item in the table.
    for item in report.drift.items() {
        assert!(
            html.contains(&format!("<td>{}</td>", item.name)),
            "{}",
            item.name
        );
    }
    for needle in [
        "escalated",
        "90+",
        "Cure rate",
        "All snapshots",
        "Population stability",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
}

#[test]
fn train_backtest_and_compare_pages_of_a_scorecard() {
    let w = Workdir::new();
    let o = w.run(&[
        "train",
        "--schedule",
        &sample("schedule"),
        "--payments",
        &sample("payments"),
        "--borrowers",
        &sample("borrowers"),
        "--contacts",
        &sample("contacts"),
        "--as-of",
        "2025-09-30",
        "--as-of",
        "2025-10-31",
        "--as-of",
        "2025-11-30",
        "--attributes",
        "income",
        "--binning",
        "woe",
        "--out",
        "woe",
    ]);
    assert_exit(&o, 0);

    // train: report.html beside report.json, with a WoE figure per feature.
    let report: ValidationReport = read_json(&w.path("woe/report.json"));
    assert!(!report.woe_bins.is_empty());
    let woe_ids: Vec<String> = report
        .woe_bins
        .iter()
        .map(|f| format!("woe-{}", f.feature.replace('_', "-")))
        .collect();
    let html = read_html(&w.path("woe/report.html"));
    let mut want = strings(&[
        "roc",
        "ks",
        "calibration",
        "score-histogram",
        "band-mix",
        "repay-by-band",
        "psi",
    ]);
    want.extend(woe_ids.iter().cloned());
    check_figures(&html, &want);
    assert_eq!(html, page::validation_page(&report).render());
    assert!(html.contains("Scorecard bins"));

    // backtest without a strategy: no treatment figures, the WoE bins.
    on_sample(&w, "backtest", &["woe"], &["--out", "bt"]);
    let html = read_html(&w.path("bt/backtest.html"));
    let mut want = strings(&[
        "roc",
        "ks",
        "calibration",
        "score-histogram",
        "band-mix",
        "repay-by-band",
        "roll-rates",
        "psi",
    ]);
    want.extend(woe_ids.iter().cloned());
    check_figures(&html, &want);
    let bt: BacktestReport = read_json(&w.path("bt/backtest.json"));
    assert_eq!(html, page::backtest_page(&bt).render());

    // compare: both models side by side and the swap set.
    on_sample(
        &w,
        "compare",
        &[&repo("models/default"), "woe"],
        &["--out", "cmp"],
    );
    let html = read_html(&w.path("cmp/compare.html"));
    check_figures(
        &html,
        &strings(&[
            "roc",
            "ks-a",
            "ks-b",
            "calibration-a",
            "calibration-b",
            "score-histogram-a",
            "score-histogram-b",
            "band-mix-a",
            "repay-by-band-a",
            "band-mix-b",
            "repay-by-band-b",
            "swap-set",
            "swap-repay-rate",
        ]),
    );
    let cmp: CompareReport = read_json(&w.path("cmp/compare.json"));
    assert_eq!(html, page::compare_page(&cmp).render());
    // The same bands under both: the page says how many keep their band.
    let same = cmp.overall.swap.same_band.expect("same band names");
    assert!(html.contains(&format!(
        "{} of {} borrower-snapshots",
        dunning::report::plot::count(same as f64),
        dunning::report::plot::count(cmp.overall.count as f64)
    )));
}
