//! Fitting an L2-penalized logistic regression with linfa-logistic.
//!
//! The objective is linfa's: the summed log loss over rows plus
//! `alpha / 2 * |w|^2` (the intercept is not penalized), so `alpha` is
//! scikit-learn's `1 / C`. Two linfa-logistic 0.8.1 traps are handled here:
//! its positive class is whichever class it labels positive (issue 393), so
//! the fitted orientation is read from `labels()` and the coefficients are
//! flipped to always mean log-odds of *repaying*; and its gradient tolerance
//! applies to the summed gradient, so it is scaled by the row count.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};

use super::{ModelError, Result};

/// Solver settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// L2 penalty ALPHA (summed log loss + ALPHA/2 |w|^2).
    pub alpha: f64,
    /// Tolerance on the gradient norm per row; linfa receives it times the row count.
    pub gradient_tolerance_per_row: f64,
    /// Iteration limit of linfa's L-BFGS.
    pub max_iterations: u64,
}

impl Default for FitOptions {
    /// alpha 1.0 (scikit-learn's default C = 1): on standardized features it
    /// is a light penalty that vanishes against thousands of rows yet keeps
    /// perfectly separated data finite. A per-row gradient tolerance of 1e-6
    /// gives coefficients stable to well below 1e-4 on the sample.
    fn default() -> Self {
        Self {
            alpha: 1.0,
            gradient_tolerance_per_row: 1e-6,
            max_iterations: 1000,
        }
    }
}

/// Fitted coefficients on the (transformed) inputs, oriented to log-odds of repaying.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// One coefficient per column.
    pub coefficients: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
}

/// Fits `y` (true = repaid) on the columns of `x`.
pub fn fit_logistic(x: &Array2<f64>, y: &[bool], opts: &FitOptions) -> Result<Fitted> {
    if x.nrows() != y.len() {
        return Err(ModelError::Training(format!(
            "{} rows of features but {} labels",
            x.nrows(),
            y.len()
        )));
    }
    let repaid = y.iter().filter(|&&v| v).count();
    if repaid == 0 || repaid == y.len() {
        return Err(ModelError::Training(format!(
            "the training labels are all {} ({} rows): a model needs both outcomes",
            if repaid == 0 { "not repaid" } else { "repaid" },
            y.len()
        )));
    }
    if !(opts.alpha.is_finite() && opts.alpha > 0.0) {
        return Err(ModelError::Options(format!(
            "--l2 must be a positive, finite number, got {}",
            opts.alpha
        )));
    }
    let targets = Array1::from_iter(y.iter().copied());
    let dataset = Dataset::new(x.clone(), targets);
    let tolerance = opts.gradient_tolerance_per_row * x.nrows() as f64;
    let model = LogisticRegression::default()
        .alpha(opts.alpha)
        .gradient_tolerance(tolerance)
        .max_iterations(opts.max_iterations)
        .fit(&dataset)
        .map_err(|e| ModelError::Solver(e.to_string()))?;
    // linfa's probabilities are of labels().pos; flip when that is "not repaid".
    let sign = if model.labels().pos.class { 1.0 } else { -1.0 };
    Ok(Fitted {
        coefficients: model.params().iter().map(|w| sign * w).collect(),
        intercept: sign * model.intercept(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::needless_range_loop)] // index loops mirror the textbook algebra
    /// Newton's method on the same objective, written out independently:
    /// minimize -sum log sigma(s_i z_i) + alpha/2 |w|^2, z = b + x w, s = +-1.
    fn newton(x: &Array2<f64>, y: &[bool], alpha: f64) -> (Vec<f64>, f64) {
        let (n, k) = x.dim();
        let mut beta = vec![0.0; k + 1]; // [w..., b]
        for _ in 0..50 {
            let mut grad = vec![0.0; k + 1];
            let mut hess = vec![vec![0.0; k + 1]; k + 1];
            for i in 0..n {
                let mut z = beta[k];
                for j in 0..k {
                    z += x[[i, j]] * beta[j];
                }
                let p = 1.0 / (1.0 + (-z).exp());
                let r = p - if y[i] { 1.0 } else { 0.0 };
                let wgt = p * (1.0 - p);
                let row: Vec<f64> = (0..k).map(|j| x[[i, j]]).chain([1.0]).collect();
                for a in 0..=k {
                    grad[a] += r * row[a];
                    for b in 0..=k {
                        hess[a][b] += wgt * row[a] * row[b];
                    }
                }
            }
            for j in 0..k {
                grad[j] += alpha * beta[j];
                hess[j][j] += alpha;
            }
            // Solve hess * step = grad by Gaussian elimination.
            let m = k + 1;
            let mut aug: Vec<Vec<f64>> = (0..m)
                .map(|r| hess[r].iter().copied().chain([grad[r]]).collect())
                .collect();
            for c in 0..m {
                let piv = (c..m)
                    .max_by(|&a, &b| aug[a][c].abs().total_cmp(&aug[b][c].abs()))
                    .unwrap();
                aug.swap(c, piv);
                for r in 0..m {
                    if r != c {
                        let f = aug[r][c] / aug[c][c];
                        for cc in c..=m {
                            aug[r][cc] -= f * aug[c][cc];
                        }
                    }
                }
            }
            for j in 0..m {
                beta[j] -= aug[j][m] / aug[j][j];
            }
        }
        (beta[..k].to_vec(), beta[k])
    }

    /// Rows from a known logistic model, with a simple LCG for noise.
    fn data(n: usize, intercept: f64) -> (Array2<f64>, Vec<bool>) {
        let mut state = 12345u64;
        let mut u = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut x = Array2::zeros((n, 3));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            for j in 0..3 {
                x[[i, j]] = u() * 2.0 - 1.0;
            }
            let z = intercept + 1.5 * x[[i, 0]] - 2.0 * x[[i, 1]] + 0.1 * x[[i, 2]];
            y.push(u() < 1.0 / (1.0 + (-z).exp()));
        }
        (x, y)
    }

    #[test]
    fn matches_an_independent_newton_solver() {
        let (x, y) = data(2000, 0.8);
        let opts = FitOptions {
            alpha: 1.0,
            gradient_tolerance_per_row: 1e-9,
            max_iterations: 5000,
        };
        let fit = fit_logistic(&x, &y, &opts).unwrap();
        let (w, b) = newton(&x, &y, 1.0);
        // Both minimize the same strictly convex objective; L-BFGS stopped at
        // a summed-gradient norm of 2e-6 leaves coefficients within ~1e-6.
        for (a, e) in fit.coefficients.iter().zip(&w) {
            assert!((a - e).abs() < 1e-5, "{a} vs {e}");
        }
        assert!((fit.intercept - b).abs() < 1e-5, "{} vs {b}", fit.intercept);
    }

    #[test]
    fn orientation_holds_when_repaid_is_the_minority() {
        // Intercept -2: about 15% repaid. linfa 0.8.1 would make the majority
        // (not repaid) the positive class; the fit must still be P(repaid).
        let (x, y) = data(3000, -2.0);
        let share = y.iter().filter(|&&v| v).count() as f64 / y.len() as f64;
        assert!(share < 0.3, "{share}");
        let fit = fit_logistic(&x, &y, &FitOptions::default()).unwrap();
        assert!(fit.intercept < -1.0, "{}", fit.intercept);
        assert!(
            fit.coefficients[0] > 1.0 && fit.coefficients[1] < -1.0,
            "{:?}",
            fit.coefficients
        );
        // And when repaid is the majority.
        let (x, y) = data(3000, 2.0);
        let fit = fit_logistic(&x, &y, &FitOptions::default()).unwrap();
        assert!(fit.intercept > 1.0 && fit.coefficients[0] > 1.0, "{fit:?}");
    }

    #[test]
    fn separated_data_gives_finite_coefficients() {
        let x = Array2::from_shape_vec((6, 1), vec![-3.0, -2.0, -1.0, 1.0, 2.0, 3.0]).unwrap();
        let y = [false, false, false, true, true, true];
        let fit = fit_logistic(&x, &y, &FitOptions::default()).unwrap();
        assert!(fit.coefficients[0].is_finite() && fit.coefficients[0] > 0.0);
    }

    #[test]
    fn rejects_one_class_and_bad_alpha() {
        let x = Array2::zeros((3, 1));
        assert!(matches!(
            fit_logistic(&x, &[true; 3], &FitOptions::default()),
            Err(ModelError::Training(_))
        ));
        let opts = FitOptions {
            alpha: -1.0,
            ..FitOptions::default()
        };
        assert!(matches!(
            fit_logistic(&x, &[true, false, true], &opts),
            Err(ModelError::Options(_))
        ));
    }
}
