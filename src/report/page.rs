//! The offline HTML pages of the reports: `report.html` of a training run's
//! validation set, `backtest.html` and `compare.html`, each rendered from the
//! same structure as the JSON file beside it ([`ValidationReport`],
//! [`BacktestReport`], [`CompareReport`]), so the page and the JSON always
//! show the same numbers.
//!
//! Each page has a summary table of the metrics, the ROC and KS curves, the
//! calibration plot, the score distributions of repaid and not-repaid
//! borrowers, the risk-band mix with the repay rate of each band, and, where
//! the report has them, the treatment mix (a backtest with a strategy), the
//! roll-rate heat map with the cure rates (a backtest), PSI per feature
//! against the training population (train and backtest), the swap set of
//! two models (a comparison) and the bins of each feature of a scorecard (WoE)
//! model. Short paragraphs say what each chart means and how to read it.
//!
//! This module computes nothing that is not in the report structure (it only
//! formats and arranges) and writes no file: the jobs write the page with
//! [`crate::output::write_text`], which writes atomically. Figure ids are
//! stable (`roc`, `ks`, `calibration`, `score-histogram`, `band-mix`,
//! `repay-by-band`, `treatment-mix`, `repay-by-treatment`, `roll-rates`,
//! `psi`, `swap-set`, `swap-repay-rate`, `woe-FEATURE`; a comparison suffixes `-a` and `-b` where each
//! model has its own figure) and documented in docs/report-html.md.

use std::collections::BTreeSet;

use super::backtest::{Analysis, BacktestReport, Setup};
use super::compare::{CompareReport, Comparison};
use super::drift;
use super::drift::DriftReport;
use super::evaluation::{Evaluation, ModelInfo, RateRow, WoeFeature};
use super::html::Page;
use super::plot::{self, MatrixLabels};
use super::rollrate::RollRates;
use super::validation::ValidationReport;
use crate::model::Transform;

/// `f(x)`, or "n/a" when there is no value.
fn opt(x: Option<f64>, f: fn(f64) -> String) -> String {
    x.map_or_else(|| "n/a".to_owned(), f)
}

/// `part / whole`, or none when `whole` is 0.
fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn count(n: u64) -> String {
    plot::count(n as f64)
}

fn transform_name(t: Transform) -> &'static str {
    match t {
        Transform::Standardize => "standardized logistic regression",
        Transform::Woe => "scorecard (weight of evidence)",
    }
}

/// One line describing a model: name, version, kind and bands.
fn model_line(label: &str, m: &ModelInfo) -> String {
    let horizon = m
        .horizon_days
        .map(|h| format!(", trained for a {h}-day horizon"))
        .unwrap_or_default();
    format!(
        "{label}{} (version {}), a {}{horizon}, with risk bands {} (best first). model.json sha256 {}.",
        m.name,
        m.version,
        transform_name(m.transform),
        m.bands.join(", "),
        m.sha256
    )
}

const METRICS_HELP: &str = "How to read the metrics: AUC is the chance that a borrower who repaid was scored above one who did not (0.5 is a coin toss, 1 is perfect); Gini is 2 x AUC - 1. KS is the largest gap between the cumulative score distributions of the two groups (higher separates better). Brier score and log loss measure how close the predicted probabilities are to what happened (lower is better).";

/// The header cells and the cells of one row of the metrics table.
const METRIC_HEADERS: [&str; 8] = [
    "Scored",
    "Repaid",
    "Repay rate",
    "AUC",
    "Gini",
    "KS",
    "Brier",
    "Log loss",
];

fn metric_cells(e: &Evaluation) -> Vec<String> {
    let m = e.metrics.as_ref();
    vec![
        count(e.count),
        count(e.repaid),
        opt(ratio(e.repaid, e.count), plot::percent),
        opt(m.map(|m| m.auc), plot::decimal),
        opt(m.map(|m| m.gini), plot::decimal),
        opt(m.map(|m| m.ks), plot::decimal),
        opt(m.map(|m| m.brier), |v| format!("{v:.4}")),
        opt(m.map(|m| m.log_loss), |v| format!("{v:.4}")),
    ]
}

/// The ROC curve (one line per named evaluation) and an explanation.
fn roc_figure(page: &mut Page, id: &str, curves: &[(String, &Evaluation)], what: &str) {
    let named: Vec<(String, &[(f64, f64)])> = curves
        .iter()
        .map(|(name, e)| {
            let auc = e
                .metrics
                .as_ref()
                .map(|m| format!(" (AUC {:.3})", m.auc))
                .unwrap_or_default();
            (format!("{name}{auc}"), e.roc.as_slice())
        })
        .collect();
    let series: Vec<(&str, &[(f64, f64)])> = named.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    page.paragraph(
        "The ROC curve: going down the list from the best score to the worst, the share of borrowers who repaid that have been passed (up) against the share of those who did not (across). A model that ranks well rises steeply at first and hugs the top left corner; the dashed diagonal is a random ranking. The area under the curve is the AUC.",
    )
    .figure(format!("ROC curve of {what}."), &plot::roc(id, &series));
}

fn ks_figure(page: &mut Page, id: &str, e: &Evaluation, what: &str) {
    let k = &e.ks_curve;
    page.paragraph(
        "The KS chart: for each score, the share of borrowers who repaid (blue) and of those who did not (vermillion) scoring at or below it. Non-payers should pile up at low scores, so their line climbs first; the vertical line marks the largest gap between the two lines, the KS statistic.",
    )
    .figure(
        format!("KS curve of {what}."),
        &plot::ks(id, &k.score, &k.cum_repaid, &k.cum_not_repaid),
    );
}

fn calibration_figure(page: &mut Page, id: &str, e: &Evaluation, what: &str) {
    page.paragraph(
        "Calibration: the borrowers are sorted by predicted repayment probability and cut into ten groups of equal size; each dot is one group, its average prediction across and the share that really repaid up. Dots on the dashed diagonal mean the probabilities can be taken at face value; dots below it mean the model is too optimistic, above it too pessimistic.",
    );
    let bins = e.metrics.as_ref().map_or(&[][..], |m| &m.calibration[..]);
    page.figure(
        format!("Calibration of {what} by decile of predicted repayment probability."),
        &plot::calibration(id, bins),
    );
    if !bins.is_empty() {
        let rows: Vec<Vec<String>> = bins
            .iter()
            .map(|b| {
                vec![
                    b.bin.to_string(),
                    count(b.count),
                    format!("{:.3}", b.min_predicted),
                    format!("{:.3}", b.max_predicted),
                    plot::percent(b.mean_predicted),
                    plot::percent(b.observed_rate),
                    format!("{:+.1}", (b.observed_rate - b.mean_predicted) * 100.0),
                ]
            })
            .collect();
        page.table(
            &[
                "Decile",
                "Borrowers",
                "Lowest p",
                "Highest p",
                "Mean predicted",
                "Observed",
                "Observed - predicted (points)",
            ],
            &rows,
        );
    }
}

fn histogram_figure(page: &mut Page, id: &str, e: &Evaluation, what: &str) {
    let h = &e.score_histogram;
    page.paragraph(
        "Score distributions: the share of the borrowers who repaid (blue) and of those who did not (vermillion) in each score range. The less the two shapes overlap, the better the score separates them; each shape sums to 100% of its own group, so groups of different sizes compare.",
    )
    .figure(
        format!("Scores of {what}, by outcome."),
        &plot::histograms(
            id,
            &h.edges,
            &[("Repaid", &h.repaid), ("Not repaid", &h.not_repaid)],
        ),
    );
}

/// Mix and repay rate of groups (bands or treatments): two bar charts and a table.
fn rate_section(page: &mut Page, ids: (&str, &str), group: &str, rows: &[RateRow], what: &str) {
    let mix: Vec<(&str, f64)> = rows.iter().map(|r| (r.name.as_str(), r.share)).collect();
    let rate: Vec<(&str, f64)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.repay_rate.unwrap_or(f64::NAN)))
        .collect();
    page.figure(
        format!("{group} mix of {what}: the share of borrowers in each."),
        &plot::bars(ids.0, "Share of borrowers", &mix, &[]),
    )
    .figure(
        format!("Repay rate by {} of {what}.", group.to_lowercase()),
        &plot::bars(ids.1, "Repay rate", &rate, &[]),
    );
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                count(r.count),
                plot::percent(r.share),
                count(r.repaid),
                opt(r.repay_rate, plot::percent),
            ]
        })
        .collect();
    page.table(
        &[group, "Borrowers", "Share", "Repaid", "Repay rate"],
        &table,
    );
}

fn band_section(page: &mut Page, suffix: &str, e: &Evaluation, what: &str) {
    page.paragraph(
        "Risk bands group borrowers by score, best band first. The mix shows how the book is spread over the bands; the repay rate should fall from each band to the next; a band that repays more often than a better one means the cut-offs or the model need a look.",
    );
    rate_section(
        page,
        (
            &format!("band-mix{suffix}"),
            &format!("repay-by-band{suffix}"),
        ),
        "Band",
        &e.by_band,
        what,
    );
}

fn roll_rate_section(page: &mut Page, r: &RollRates, horizon_days: i32) {
    page.heading(2, "Roll rates and cures").paragraph(format!(
        "The roll-rate matrix: each row is a days-past-due bucket at the snapshot date, each column the bucket {horizon_days} days later, and each cell the share of the row's borrowers that went there (each row sums to 100%). The first column is the cure rate (back to current); cells right of the diagonal rolled into a worse bucket, cells left of it improved."
    ));
    let names: Vec<&str> = r.buckets.iter().map(String::as_str).collect();
    let shares: Vec<Vec<f64>> = r
        .shares
        .iter()
        .zip(&r.by_bucket)
        .map(|(row, b)| {
            if b.count == 0 {
                vec![f64::NAN; row.len()]
            } else {
                row.clone()
            }
        })
        .collect();
    page.figure(
        format!("Roll rates between DPD buckets from the snapshot date to {horizon_days} days later, all snapshots pooled (share of each row; n/a for a bucket without borrowers)."),
        &plot::matrix(
            "roll-rates",
            MatrixLabels {
                title: "Roll rates between DPD buckets",
                rows: "DPD bucket at the snapshot",
                cols: &format!("DPD bucket {horizon_days} days later"),
            },
            &names,
            &names,
            &shares,
            plot::percent,
        ),
    );
    let rows: Vec<Vec<String>> = r
        .by_bucket
        .iter()
        .map(|b| {
            vec![
                b.bucket.clone(),
                count(b.count),
                count(b.current_at_horizon),
                opt(b.cure_rate, plot::percent),
                count(b.rolled_forward),
                opt(b.roll_forward_rate, plot::percent),
            ]
        })
        .collect();
    page.paragraph("Cure rate: the share of a delinquent bucket that is current at the end of the horizon (not defined for the current bucket). Roll-forward rate: the share that moved into a worse bucket (not defined for the last one).")
        .table(
            &[
                "DPD bucket at the snapshot",
                "Borrowers",
                "Current later",
                "Cure rate",
                "Rolled forward",
                "Roll-forward rate",
            ],
            &rows,
        );
}

/// A figure id for a feature: `woe-` and the name with every character other
/// than ASCII letters and digits made `-`, suffixed with a number when two
/// names give the same id.
fn woe_id(feature: &str, taken: &mut BTreeSet<String>) -> String {
    let slug: String = feature
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let base = format!("woe-{slug}");
    let mut id = base.clone();
    let mut n = 2;
    while !taken.insert(id.clone()) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

fn woe_section(page: &mut Page, features: &[WoeFeature]) {
    if features.is_empty() {
        return;
    }
    page.heading(2, "Scorecard bins").paragraph(
        "Each feature of the scorecard is cut into bins, and each bin carries a weight of evidence (WoE): above zero (blue), borrowers in that bin repaid more often than the training population as a whole; below zero (vermillion), less often. The lower panel shows how many training borrowers fell in each bin. The information value (IV) sums up how strongly a feature separates payers from non-payers (under 0.02 weak, 0.1 to 0.3 medium, above 0.3 strong).",
    );
    let summary: Vec<Vec<String>> = features
        .iter()
        .map(|f| {
            vec![
                f.feature.clone(),
                format!("{:.3}", f.iv),
                format!("{:?}", f.trend).to_lowercase(),
                format!("{:.3}", f.coefficient),
                f.bins.len().to_string(),
            ]
        })
        .collect();
    page.table(
        &["Feature", "IV", "WoE trend", "Coefficient", "Bins"],
        &summary,
    );
    let mut taken = BTreeSet::new();
    for f in features {
        let bins: Vec<(&str, f64, f64)> = f
            .bins
            .iter()
            .map(|b| (b.label.as_str(), b.woe, b.share))
            .collect();
        let id = woe_id(&f.feature, &mut taken);
        page.figure(
            format!(
                "WoE bins of {} (IV {:.3}), fitted on the training rows.",
                f.feature, f.iv
            ),
            &plot::woe_bins(&id, &f.feature, &bins),
        );
    }
}

/// PSI per feature: the bars of `drift` (the score first, then each
/// feature) with the warn and fail lines, and a table with one PSI column
/// per entry of `columns` (the same items in the same order).
fn psi_section(page: &mut Page, drift: &DriftReport, what: &str, columns: &[(&str, &DriftReport)]) {
    let t = &drift.thresholds;
    page.heading(2, "Population stability").paragraph(format!(
        "The population stability index (PSI) compares the borrowers of {what} with the training population: both are counted in the training population's ten ranges (deciles, stored in model.json) of the score and of each feature, and the PSI adds up how far the shares moved. Below {warn} the population is stable; {warn} to {fail} it has shifted enough to look at why; above {fail} the model is scoring a population it was not built for, and its probabilities should not be trusted without a check. A feature whose PSI is high is where to look first.",
        warn = t.warn_above,
        fail = t.fail_above.unwrap_or(drift::USUAL_FAIL_ABOVE),
    ));
    let items: Vec<(&str, f64)> = drift.items().map(|i| (i.name.as_str(), i.psi)).collect();
    let mut lines = vec![("warn", t.warn_above)];
    if let Some(fail) = t.fail_above {
        lines.push(("fail", fail));
    }
    page.figure(
        format!(
            "PSI of the score and each feature, {what} ({} rows) against the training population; dashed lines at the warn and fail levels.",
            count(drift.rows)
        ),
        &plot::bars("psi", "PSI", &items, &lines),
    );
    let mut headers = vec!["Score or feature"];
    headers.extend(columns.iter().map(|(name, _)| *name));
    headers.push("Status");
    let rows: Vec<Vec<String>> = drift
        .items()
        .enumerate()
        .map(|(k, item)| {
            let mut cells = vec![item.name.clone()];
            cells.extend(columns.iter().map(|(_, d)| {
                d.items()
                    .nth(k)
                    .map_or_else(|| "n/a".to_owned(), |i| format!("{:.3}", i.psi))
            }));
            cells.push(item.status.as_str().to_owned());
            cells
        })
        .collect();
    page.table(&headers, &rows);
}

fn inputs_section(page: &mut Page, setup: &Setup) {
    page.heading(2, "Inputs").paragraph(format!(
        "Repaid means nothing overdue (beyond a tolerance of {}) at the end of the {}-day horizon. The ledger ends on {}. Rows rejected on reading: {}{}.",
        setup.tolerance,
        setup.horizon_days,
        setup.data_end,
        count(setup.rejected),
        setup
            .rejects_file
            .as_ref()
            .map(|f| format!(" (listed in {f})"))
            .unwrap_or_default()
    ));
    let rows: Vec<Vec<String>> = setup
        .inputs
        .iter()
        .map(|t| {
            vec![
                t.table.clone(),
                t.file.clone(),
                count(t.rows_read),
                count(t.rows_used),
                count(t.rows_rejected),
                count(t.rows_unmatched),
            ]
        })
        .collect();
    page.table(
        &[
            "Table",
            "File",
            "Rows read",
            "Used",
            "Rejected",
            "Unmatched",
        ],
        &rows,
    );
}

/// The page of a training run's validation report (`report.html`).
pub fn validation_page(r: &ValidationReport) -> Page {
    let e = &r.evaluation;
    let title = format!("Validation of model {}", r.model.name);
    let mut page = Page::new(title.clone());
    page.heading(1, title)
        .paragraph(model_line("Model ", &r.model))
        .paragraph(format!(
            "Trained on the snapshots {}. These are the rows training held out ({}): {} borrower-snapshots the model never saw, of which {} repaid. Every number here is also in report.json beside this page.",
            r.as_of.join(", "),
            r.split,
            count(e.count),
            opt(ratio(e.repaid, e.count), plot::percent),
        ))
        .heading(2, "Summary")
        .paragraph(METRICS_HELP);
    let mut cells = vec!["Validation set".to_owned()];
    cells.extend(metric_cells(e));
    let mut headers = vec!["Rows"];
    headers.extend(METRIC_HEADERS);
    page.table(&headers, &[cells]);
    page.heading(2, "Ranking");
    roc_figure(
        &mut page,
        "roc",
        &[("Validation set".into(), e)],
        "the validation set",
    );
    ks_figure(&mut page, "ks", e, "the validation set");
    page.heading(2, "Calibration and score distributions");
    calibration_figure(&mut page, "calibration", e, "the validation set");
    histogram_figure(&mut page, "score-histogram", e, "the validation set");
    page.heading(2, "Risk bands");
    band_section(&mut page, "", e, "the validation set");
    psi_section(
        &mut page,
        &r.drift,
        "the validation set",
        &[("PSI", &r.drift)],
    );
    woe_section(&mut page, &r.woe_bins);
    page
}

/// The per-snapshot and overall metrics table of a backtest.
fn backtest_summary(page: &mut Page, r: &BacktestReport) {
    let mut headers = vec!["As of", "Outcome read on", "Borrowers", "Not in population"];
    headers.extend(METRIC_HEADERS);
    let row = |label: &str, end: &str, a: &Analysis| {
        let mut cells = vec![
            label.to_owned(),
            end.to_owned(),
            count(a.borrowers),
            count(a.outside_population),
        ];
        cells.extend(metric_cells(&a.evaluation));
        cells
    };
    let mut rows: Vec<Vec<String>> = r
        .snapshots
        .iter()
        .map(|s| row(&s.as_of, &s.horizon_end, &s.analysis))
        .collect();
    rows.push(row("All snapshots", "", &r.overall));
    page.table(&headers, &rows);
}

/// The page of a backtest (`backtest.html`).
pub fn backtest_page(r: &BacktestReport) -> Page {
    let title = format!("Backtest of model {}", r.model.name);
    let dates: Vec<&str> = r.snapshots.iter().map(|s| s.as_of.as_str()).collect();
    let e = &r.overall.evaluation;
    let what = "all snapshots pooled";
    let mut page = Page::new(title.clone());
    page.heading(1, title)
        .paragraph(model_line("Model ", &r.model))
        .paragraph(format!(
            "The model scored the book as it stood on {} ({} snapshot{}), and each borrower's outcome was read {} days later from the ledger: repaid means nothing overdue then. {}. Every number here is also in backtest.json beside this page.",
            dates.join(", "),
            dates.len(),
            if dates.len() == 1 { "" } else { "s" },
            r.setup.horizon_days,
            r.strategy.as_ref().map_or_else(
                || "No strategy was given, so there is no treatment section".to_owned(),
                |s| format!("Treatments were assigned with strategy {} ({}, sha256 {})", s.version, s.path, s.sha256),
            ),
        ))
        .heading(2, "Summary")
        .paragraph("One row per snapshot and one for all snapshots pooled (a borrower counts once per snapshot). The population is the borrowers overdue or with an installment due within the horizon; the others are not scored.")
        .paragraph(METRICS_HELP);
    backtest_summary(&mut page, r);
    page.heading(2, "Ranking");
    let mut curves: Vec<(String, &Evaluation)> = r
        .snapshots
        .iter()
        .map(|s| (s.as_of.clone(), &s.analysis.evaluation))
        .collect();
    if r.snapshots.len() > 1 {
        curves.push(("All snapshots".into(), e));
    }
    roc_figure(&mut page, "roc", &curves, "each snapshot");
    ks_figure(&mut page, "ks", e, what);
    page.heading(2, "Calibration and score distributions");
    calibration_figure(&mut page, "calibration", e, what);
    histogram_figure(&mut page, "score-histogram", e, what);
    page.heading(2, "Risk bands");
    band_section(&mut page, "", e, what);
    if let Some(t) = &r.overall.by_treatment {
        page.heading(2, "Treatments").paragraph(
            "The treatment the strategy would have given each borrower on the snapshot date, with how often they went on to repay. Escalated borrowers should be the least likely to repay and soft ones the most; if not, the strategy spends its effort in the wrong place.",
        );
        rate_section(
            &mut page,
            ("treatment-mix", "repay-by-treatment"),
            "Treatment",
            t,
            what,
        );
    }
    roll_rate_section(&mut page, &r.overall.roll_rates, r.setup.horizon_days);
    let mut columns: Vec<(String, &DriftReport)> = r
        .snapshots
        .iter()
        .map(|s| (format!("PSI {}", s.as_of), &s.drift))
        .collect();
    columns.push(("PSI pooled".to_owned(), &r.drift));
    let columns: Vec<(&str, &DriftReport)> =
        columns.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    psi_section(&mut page, &r.drift, "all snapshots pooled", &columns);
    woe_section(&mut page, &r.woe_bins);
    inputs_section(&mut page, &r.setup);
    page
}

/// The side-by-side metrics table of a comparison.
fn compare_summary(page: &mut Page, r: &CompareReport) {
    let headers = [
        "As of",
        "Scored",
        "Repaid",
        "AUC A",
        "AUC B",
        "Gini A",
        "Gini B",
        "KS A",
        "KS B",
        "Brier A",
        "Brier B",
        "Log loss A",
        "Log loss B",
    ];
    let row = |label: &str, c: &Comparison| {
        let (a, b) = (c.a.metrics.as_ref(), c.b.metrics.as_ref());
        let pair = |f: fn(&crate::model::metrics::Metrics) -> f64, fmt: fn(f64) -> String| {
            [opt(a.map(f), fmt), opt(b.map(f), fmt)]
        };
        let four = |v: f64| format!("{v:.4}");
        let mut cells = vec![
            label.to_owned(),
            count(c.count),
            opt(ratio(c.repaid, c.count), plot::percent),
        ];
        cells.extend(pair(|m| m.auc, plot::decimal));
        cells.extend(pair(|m| m.gini, plot::decimal));
        cells.extend(pair(|m| m.ks, plot::decimal));
        cells.extend(pair(|m| m.brier, four));
        cells.extend(pair(|m| m.log_loss, four));
        cells
    };
    let mut rows: Vec<Vec<String>> = r
        .snapshots
        .iter()
        .map(|s| row(&s.as_of, &s.comparison))
        .collect();
    rows.push(row("All snapshots", &r.overall));
    page.table(&headers, &rows);
}

fn swap_section(page: &mut Page, r: &CompareReport) {
    let s = &r.overall.swap;
    let rows: Vec<&str> = s.rows.iter().map(String::as_str).collect();
    let cols: Vec<&str> = s.cols.iter().map(String::as_str).collect();
    let moved = s.same_band.map(|same| {
        format!(
            " {} of {} borrower-snapshots ({}) keep their band; {} move.",
            count(same),
            count(r.overall.count),
            opt(ratio(same, r.overall.count), plot::percent),
            count(r.overall.count - same),
        )
    });
    page.heading(2, "Swap set").paragraph(format!(
        "Who moves between risk bands when model B replaces model A: each row is a band under A, each column a band under B, and each cell the number of borrower-snapshots (all snapshots pooled) in both.{} Borrowers off the diagonal are the swap set: a better model moves payers up and non-payers down, which the second matrix (repay rate of each cell) shows.",
        moved.unwrap_or_default()
    ));
    let counts: Vec<Vec<f64>> = s
        .counts
        .iter()
        .map(|r| r.iter().map(|&c| c as f64).collect())
        .collect();
    let rates: Vec<Vec<f64>> = s
        .repay_rate
        .iter()
        .map(|r| r.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        .collect();
    let a_desc = format!("Band under A ({})", r.a.name);
    let b_desc = format!("Band under B ({})", r.b.name);
    page.figure(
        "Swap set: borrower-snapshots by band under model A (rows) and model B (columns).",
        &plot::matrix(
            "swap-set",
            MatrixLabels {
                title: "Swap set: borrowers by band",
                rows: &a_desc,
                cols: &b_desc,
            },
            &rows,
            &cols,
            &counts,
            plot::count,
        ),
    )
    .figure(
        "Repay rate of each cell of the swap set (n/a for an empty cell).",
        &plot::matrix(
            "swap-repay-rate",
            MatrixLabels {
                title: "Swap set: repay rate by cell",
                rows: &a_desc,
                cols: &b_desc,
            },
            &rows,
            &cols,
            &rates,
            plot::percent,
        ),
    );
}

/// The page of a model comparison (`compare.html`).
pub fn compare_page(r: &CompareReport) -> Page {
    let title = format!("Comparison of models {} and {}", r.a.name, r.b.name);
    let dates: Vec<&str> = r.snapshots.iter().map(|s| s.as_of.as_str()).collect();
    let c = &r.overall;
    let what = "all snapshots pooled";
    let mut page = Page::new(title.clone());
    page.heading(1, title)
        .paragraph(model_line("Model A: ", &r.a))
        .paragraph(model_line("Model B: ", &r.b))
        .paragraph(format!(
            "Both models scored the same borrowers on {} and each outcome was read {} days later from the ledger (repaid: nothing overdue then). Every number here is also in compare.json beside this page.",
            dates.join(", "),
            r.setup.horizon_days
        ))
        .heading(2, "Summary")
        .paragraph(METRICS_HELP);
    compare_summary(&mut page, r);
    page.heading(2, "Ranking");
    roc_figure(
        &mut page,
        "roc",
        &[
            (format!("A: {}", r.a.name), &c.a),
            (format!("B: {}", r.b.name), &c.b),
        ],
        &format!("both models, {what}"),
    );
    ks_figure(&mut page, "ks-a", &c.a, &format!("model A, {what}"));
    ks_figure(&mut page, "ks-b", &c.b, &format!("model B, {what}"));
    page.heading(2, "Calibration and score distributions");
    calibration_figure(
        &mut page,
        "calibration-a",
        &c.a,
        &format!("model A, {what}"),
    );
    calibration_figure(
        &mut page,
        "calibration-b",
        &c.b,
        &format!("model B, {what}"),
    );
    histogram_figure(
        &mut page,
        "score-histogram-a",
        &c.a,
        &format!("model A, {what}"),
    );
    histogram_figure(
        &mut page,
        "score-histogram-b",
        &c.b,
        &format!("model B, {what}"),
    );
    page.heading(2, "Risk bands");
    band_section(&mut page, "-a", &c.a, &format!("model A, {what}"));
    band_section(&mut page, "-b", &c.b, &format!("model B, {what}"));
    swap_section(&mut page, r);
    inputs_section(&mut page, &r.setup);
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn woe_ids_are_slugs_and_unique() {
        let mut taken = BTreeSet::new();
        assert_eq!(
            woe_id("days_since_last_payment", &mut taken),
            "woe-days-since-last-payment"
        );
        assert_eq!(
            woe_id("days-since-last-payment", &mut taken),
            "woe-days-since-last-payment-2"
        );
        assert_eq!(woe_id("DPD <30>", &mut taken), "woe-dpd--30-");
    }

    #[test]
    fn missing_values_read_n_a() {
        assert_eq!(opt(None, plot::percent), "n/a");
        assert_eq!(opt(Some(0.25), plot::percent), "25.0%");
        assert_eq!(ratio(1, 0), None);
        assert_eq!(ratio(1, 4), Some(0.25));
    }
}
