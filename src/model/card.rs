//! The model card: a plain-language description of a trained model, written
//! beside model.json for the people who approve and audit it.

use std::fmt::Write;

use super::{Model, Transform};

/// Renders `model` as Markdown.
pub fn render(model: &Model) -> String {
    let mut s = String::new();
    let t = &model.training;
    let v = &model.validation;
    let _ = writeln!(s, "# Model card: {} ({})\n", model.name, model.version);
    let _ = writeln!(
        s,
        "Trained {} with dunning {}.\n",
        model.created_at, model.dunning_version
    );
    let _ = writeln!(s, "## What it predicts\n");
    let _ = writeln!(
        s,
        "The probability that a borrower who is overdue, or has an installment falling due, has nothing overdue {} days later (`repaid`). Higher scores mean more likely to repay on their own.\n",
        t.horizon_days.map_or("a horizon of".to_string(), |h| h.to_string())
    );
    let _ = writeln!(s, "## Data\n");
    let _ = writeln!(s, "- Snapshots: {}", t.as_of.join(", "));
    let _ = writeln!(s, "- Split: {} (seed {})", t.split, t.seed);
    let _ = writeln!(s, "- Rows: {} training (repaid {:.1}%), {} validation (repaid {:.1}%), {} without a label (not used)", t.train_rows, 100.0 * t.train_label_rate, t.validation_rows, 100.0 * t.validation_label_rate, t.unlabelled_rows);
    let _ = writeln!(s, "- Solver: {}; L2 penalty alpha = {} (summed log loss + alpha/2 |w|^2, i.e. scikit-learn C = {})\n", t.solver, model.penalty.l2_alpha, 1.0 / model.penalty.l2_alpha);
    let _ = writeln!(s, "## Features and coefficients\n");
    match model.transform {
        Transform::Standardize => {
            let _ = writeln!(s, "Each feature is standardized with the training mean and standard deviation; a coefficient is the change in log-odds of repaying per standard deviation.\n");
            let _ = writeln!(
                s,
                "| feature | coefficient | training mean | training std |\n|---|---|---|---|"
            );
            for f in &model.features {
                let _ = writeln!(
                    s,
                    "| `{}` | {:+.4} | {:.4} | {:.4} |",
                    f.name,
                    f.coefficient,
                    f.mean.unwrap_or(f64::NAN),
                    f.std.unwrap_or(f64::NAN)
                );
            }
        }
        Transform::Woe => {
            let _ = writeln!(s, "Each feature is binned (monotonic weight of evidence) and replaced by its bin's WoE; a coefficient scales the WoE.\n");
            let _ = writeln!(
                s,
                "| feature | coefficient | bins | information value |\n|---|---|---|---|"
            );
            for f in &model.features {
                let w = f.woe.as_ref();
                let _ = writeln!(
                    s,
                    "| `{}` | {:+.4} | {} | {:.4} |",
                    f.name,
                    f.coefficient,
                    w.map_or(0, |w| w.bins.len() + w.special.len()),
                    w.map_or(0.0, |w| w.iv)
                );
            }
        }
    }
    let _ = writeln!(s, "\nIntercept: {:+.4}.", model.intercept);
    if !model.excluded_features.is_empty() {
        let _ = writeln!(s, "\nLeft out:\n");
        for e in &model.excluded_features {
            let _ = writeln!(s, "- `{}`: {}", e.name, e.reason);
        }
    }
    let _ = writeln!(s, "\n## Validation\n");
    let _ = writeln!(s, "| metric | value |\n|---|---|");
    for (name, value) in [
        ("AUC", v.auc),
        ("Gini", v.gini),
        ("KS", v.ks),
        ("Brier score", v.brier),
        ("log loss", v.log_loss),
    ] {
        let _ = writeln!(s, "| {name} | {value:.4} |");
    }
    let _ = writeln!(s, "| rows | {} ({} repaid) |", v.count, v.repaid);
    let _ = writeln!(s, "\nCalibration by decile of predicted probability:\n");
    let _ = writeln!(
        s,
        "| decile | rows | mean predicted | observed repaid |\n|---|---|---|---|"
    );
    for b in &v.calibration {
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {:.3} |",
            b.bin, b.count, b.mean_predicted, b.observed_rate
        );
    }
    let _ = writeln!(s, "\n## Scores and bands\n");
    let sc = &model.scaling;
    let _ = writeln!(s, "score = {:.2} + {:.4} x ln(odds of repaying): {} points at odds {}:1, {} points to double the odds.\n", sc.offset, sc.factor, sc.points, sc.odds, sc.pdo);
    for b in &model.bands {
        let _ = match b.min_score {
            Some(m) => writeln!(s, "- band {}: score >= {m}", b.band),
            None => writeln!(s, "- band {}: below the bands above", b.band),
        };
    }
    let _ = writeln!(s, "\n## Caveats\n");
    let _ = writeln!(s, "- Trained on the population and period above; a different product mix, collection policy or economy shifts the relation. Watch the drift of the score and the features against the stored training distributions.");
    let _ = writeln!(s, "- Borrower attributes are as of today, not as of each snapshot: they can carry information from after the snapshot date.");
    let _ = writeln!(s, "- Collection contacts already given influence repayment; the model learns the outcome under the past collection policy, not what a borrower would do without contact.");
    let _ = writeln!(s, "- A score is a ranking aid for collection treatment, not a credit decision; reason codes name the features that lowered each borrower's score.");
    s
}
