//! The plots of the HTML validation report, drawn with `plotters` into inline
//! SVG strings.
//!
//! Each function takes plain numbers and returns one self-contained
//! `<svg id="…" class="plot" …>…</svg>` element for [`super::html::Page::figure`]:
//! no fonts, images, scripts or URLs inside (not even the `xmlns` attribute,
//! which inline SVG in HTML5 does not need), text as SVG `<text>` elements in
//! the browser's sans-serif font, and the same bytes for the same data. Every
//! figure has a title (drawn, and as the SVG `<title>` that screen readers
//! announce), axes with ticks and labels, and a legend row under the title
//! when it shows several series; the legend sits outside the plotting area so
//! it never hides data.
//!
//! Plots never fail and never panic: data that cannot be drawn (no points,
//! lengths that disagree, only NaN) gives a figure of the same id and size
//! that says "No data" and why, because a report with one empty figure is
//! more use than no report. Non-finite points are dropped; rates are clamped
//! to [0, 1]; a degenerate range (one point, all values equal, all zeros) is
//! widened to a sensible one.
//!
//! Why `plotters` without its font features: its SVG backend writes text as
//! `<text>` elements and lets the browser pick the font, so it needs no font
//! files or font libraries; the layout only estimates text widths (about 0.57
//! of the font size per character), which is why label areas here are sized
//! from the label lengths with some slack.
//!
//! This module does not compute anything it shows (ROC points, KS curves,
//! calibration bins, PSI, roll rates and WoE bins come from the callers),
//! does not downsample (callers pass a few hundred points at most; a curve is
//! one `<polyline>` whatever its length), and does not write files.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::html::escape;
use crate::model::metrics::CalibrationBin;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;
type Chart<'a, X, Y> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>;

/// Blue: the first series, and "repaid" wherever the two classes appear.
const BLUE: RGBColor = RGBColor(0x00, 0x72, 0xB2);
/// Vermillion: the second series, and "not repaid".
const VERMILLION: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
/// The colour-blind-safe palette of Okabe and Ito, without its yellow (too
/// pale on white) and black (kept for text).
const PALETTE: [RGBColor; 6] = [
    BLUE,
    VERMILLION,
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x56, 0xB4, 0xE9),
];
/// Threshold lines: the first (e.g. PSI 0.1, warn) orange, the second (0.25,
/// fail) vermillion, then the rest of the palette.
const THRESHOLD_COLORS: [RGBColor; 4] = [
    RGBColor(0xE6, 0x9F, 0x00),
    VERMILLION,
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x00, 0x9E, 0x73),
];
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
const GRID: RGBColor = RGBColor(0xE3, 0xE3, 0xE3);
const CHANCE: RGBColor = RGBColor(0x99, 0x99, 0x99);
const SHARE_BAR: RGBColor = RGBColor(0x9A, 0xA5, 0xB1);
const NO_VALUE: RGBColor = RGBColor(0xEE, 0xEE, 0xEE);

/// The SVG backend writes `font-size = size / 1.24`; sizes below are in CSS
/// pixels, so they are multiplied back.
const FONT_SCALE: f64 = 1.24;
const TITLE_PX: f64 = 15.0;
const LABEL_PX: f64 = 12.0;
/// Estimated width of one character of [`LABEL_PX`] text, a little wider than
/// plotters' own estimate so that wide system fonts still fit.
const CHAR_PX: f64 = 7.0;
/// Height of the title band, and of one legend row under it.
const TITLE_BAND: u32 = 30;
const LEGEND_ROW: u32 = 22;
/// Longest category label drawn in full; longer ones end in "…".
const MAX_LABEL_CHARS: usize = 32;

/// One entry of a legend row: a name and how its series is drawn.
struct Key {
    name: String,
    color: RGBColor,
    mark: Mark,
}

#[derive(Clone, Copy)]
enum Mark {
    Line,
    Dashed,
    Block,
}

impl Key {
    fn new(name: impl Into<String>, color: RGBColor, mark: Mark) -> Self {
        Key {
            name: name.into(),
            color,
            mark,
        }
    }
}

/// ROC curves: one line per named curve of (false positive rate, true positive
/// rate) points, ascending, over the dashed diagonal of a random ranking.
///
/// "Positive" is the metrics convention of [`crate::model::metrics`]: repaid.
/// A curve with an empty name is drawn but left out of the legend.
pub fn roc(id: &str, curves: &[(&str, &[(f64, f64)])]) -> String {
    const TITLE: &str = "ROC curve";
    let cleaned: Vec<(&str, Vec<(f64, f64)>)> = curves
        .iter()
        .map(|(name, points)| (*name, unit_points(points)))
        .collect();
    if cleaned.iter().all(|(_, points)| points.is_empty()) {
        return no_data(
            id,
            TITLE,
            "no finite (false positive rate, true positive rate) point",
        );
    }
    let mut keys: Vec<Key> = cleaned
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| !name.is_empty())
        .map(|(i, (name, _))| Key::new(*name, series_color(i), Mark::Line))
        .collect();
    keys.push(Key::new("Random ranking", CHANCE, Mark::Dashed));
    render(id, TITLE, (560, 500), &keys, |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(58)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
        mesh(
            &mut chart,
            "False positive rate",
            "True positive rate",
            &|v| fmt_axis(*v),
            &|v| fmt_axis(*v),
        )?;
        chart.draw_series(dashed(vec![(0.0, 0.0), (1.0, 1.0)], CHANCE))?;
        for (i, (_, points)) in cleaned.iter().enumerate() {
            let style = series_color(i).stroke_width(2);
            chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
            chart.draw_series(lone_point(points, series_color(i)))?;
        }
        Ok(())
    })
}

/// The KS chart: the cumulative shares of repaid and of not-repaid rows at or
/// below each score, and the KS statistic (their largest gap) marked with a
/// vertical line, its value and score in the legend.
///
/// The three slices are read as columns of one table; points with a
/// non-finite value are dropped and the rest are drawn in ascending score.
pub fn ks(id: &str, score: &[f64], cum_repaid: &[f64], cum_not_repaid: &[f64]) -> String {
    const TITLE: &str = "KS: cumulative shares by score";
    if score.len() != cum_repaid.len() || score.len() != cum_not_repaid.len() {
        let why = format!(
            "the series have different lengths ({} scores, {} repaid shares, {} not-repaid shares)",
            score.len(),
            cum_repaid.len(),
            cum_not_repaid.len()
        );
        return no_data(id, TITLE, &why);
    }
    let mut points: Vec<(f64, f64, f64)> = (0..score.len())
        .map(|i| (score[i], cum_repaid[i], cum_not_repaid[i]))
        .filter(|(s, r, n)| s.is_finite() && r.is_finite() && n.is_finite())
        .map(|(s, r, n)| (s, r.clamp(0.0, 1.0), n.clamp(0.0, 1.0)))
        .collect();
    if points.is_empty() {
        return no_data(id, TITLE, "no finite (score, cumulative share) point");
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The first largest gap, so ties resolve the same way every time.
    let gap = points.iter().fold(points[0], |best, p| {
        if (p.1 - p.2).abs() > (best.1 - best.2).abs() {
            *p
        } else {
            best
        }
    });
    let x_range = padded_range(points.iter().map(|p| p.0));
    let keys = [
        Key::new("Repaid", BLUE, Mark::Line),
        Key::new("Not repaid", VERMILLION, Mark::Line),
        // The value goes in the legend, not beside the line, where it
        // would cross one of the curves.
        Key::new(
            format!(
                "KS = {:.3} at score {}",
                (gap.1 - gap.2).abs(),
                fmt_value(gap.0)
            ),
            INK,
            Mark::Line,
        ),
    ];
    render(id, TITLE, (640, 420), &keys, |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(58)
            .build_cartesian_2d(x_range.clone(), 0f64..1f64)?;
        mesh(
            &mut chart,
            "Score",
            "Cumulative share",
            &|v| fmt_axis(*v),
            &|v| fmt_percent_axis(*v),
        )?;
        let repaid: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.1)).collect();
        chart.draw_series(LineSeries::new(
            repaid.iter().copied(),
            BLUE.stroke_width(2),
        ))?;
        chart.draw_series(lone_point(&repaid, BLUE))?;
        let not_repaid: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.2)).collect();
        chart.draw_series(LineSeries::new(
            not_repaid.iter().copied(),
            VERMILLION.stroke_width(2),
        ))?;
        chart.draw_series(lone_point(&not_repaid, VERMILLION))?;
        let (lower, upper) = (gap.1.min(gap.2), gap.1.max(gap.2));
        chart.draw_series(LineSeries::new(
            [(gap.0, lower), (gap.0, upper)],
            INK.stroke_width(2),
        ))?;
        Ok(())
    })
}

/// The calibration plot: per bin, the observed repayment rate against the mean
/// predicted probability, over the dashed diagonal of perfect calibration.
///
/// The axes cover the bins, rounded out to tenths (not always 0 to 1, so a
/// book whose predictions all lie between 0.8 and 1 is not squeezed into a
/// corner). Bins without rows or with a non-finite rate are left out.
pub fn calibration(id: &str, bins: &[CalibrationBin]) -> String {
    const TITLE: &str = "Calibration: observed against predicted";
    let points: Vec<(f64, f64)> = bins
        .iter()
        .filter(|b| b.count > 0 && b.mean_predicted.is_finite() && b.observed_rate.is_finite())
        .map(|b| {
            (
                b.mean_predicted.clamp(0.0, 1.0),
                b.observed_rate.clamp(0.0, 1.0),
            )
        })
        .collect();
    if points.is_empty() {
        return no_data(id, TITLE, "no calibration bin with rows and finite rates");
    }
    let lo = points.iter().map(|p| p.0.min(p.1)).fold(1.0, f64::min);
    let hi = points.iter().map(|p| p.0.max(p.1)).fold(0.0, f64::max);
    let (mut lo, mut hi) = ((lo * 10.0).floor() / 10.0, (hi * 10.0).ceil() / 10.0);
    if hi - lo < 0.2 {
        lo = (lo - 0.1).max(0.0);
        hi = (hi + 0.1).min(1.0);
    }
    let keys = [
        Key::new("Observed per bin", BLUE, Mark::Line),
        Key::new("Perfect calibration", CHANCE, Mark::Dashed),
    ];
    render(id, TITLE, (560, 500), &keys, |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(58)
            .build_cartesian_2d(lo..hi, lo..hi)?;
        mesh(
            &mut chart,
            "Predicted repayment probability (bin mean)",
            "Observed repayment rate",
            &|v| fmt_axis(*v),
            &|v| fmt_axis(*v),
        )?;
        chart.draw_series(dashed(vec![(lo, lo), (hi, hi)], CHANCE))?;
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            BLUE.stroke_width(2),
        ))?;
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, BLUE.filled())))?;
        Ok(())
    })
}

/// Score distributions: for each named series of counts per bin (e.g. repaid
/// and not repaid), the share of that series' rows in each bin, as a step
/// line over a light fill, so series of very different sizes compare.
///
/// `edges` are the bin edges (one more than each series' counts), finite and
/// strictly increasing.
pub fn histograms(id: &str, edges: &[f64], series: &[(&str, &[u64])]) -> String {
    const TITLE: &str = "Score distribution";
    if let Some(why) = check_histograms(edges, series) {
        return no_data(id, TITLE, &why);
    }
    let shares: Vec<Vec<f64>> = series
        .iter()
        .map(|(_, counts)| {
            let total: u64 = counts.iter().sum();
            counts
                .iter()
                .map(|&c| {
                    if total == 0 {
                        0.0
                    } else {
                        c as f64 / total as f64
                    }
                })
                .collect()
        })
        .collect();
    let top = shares.iter().flatten().copied().fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let keys: Vec<Key> = series
        .iter()
        .enumerate()
        .map(|(i, (name, counts))| {
            let n: u64 = counts.iter().sum();
            Key::new(
                format!("{name} (n = {})", fmt_count(n as f64)),
                series_color(i),
                Mark::Block,
            )
        })
        .collect();
    let x_range = edges[0]..edges[edges.len() - 1];
    render(id, TITLE, (640, 420), &keys, |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(58)
            .build_cartesian_2d(x_range, 0.0..top)?;
        mesh(
            &mut chart,
            "Score",
            "Share of the series' rows",
            &|v| fmt_axis(*v),
            &|v| fmt_percent_axis(*v),
        )?;
        for (i, bin_shares) in shares.iter().enumerate() {
            let color = series_color(i);
            let outline = step_outline(edges, bin_shares);
            chart.draw_series(std::iter::once(Polygon::new(
                outline.clone(),
                color.mix(0.15).filled(),
            )))?;
            chart.draw_series(LineSeries::new(outline, color.stroke_width(2)))?;
        }
        Ok(())
    })
}

/// Labelled horizontal bars, one per item in the given order (top to bottom),
/// with the value written at the end of each bar, and dashed vertical lines at
/// the named thresholds (e.g. PSI `("warn", 0.1)` and `("fail", 0.25)`).
///
/// `y_label` names the values; the bars lie horizontally (long labels such as
/// feature names stay readable), so it labels the horizontal axis and is also
/// the title. A bar at or past a positive threshold takes that threshold's
/// colour. A non-finite value shows as "n/a".
pub fn bars(id: &str, y_label: &str, items: &[(&str, f64)], thresholds: &[(&str, f64)]) -> String {
    let title = if y_label.is_empty() {
        "Values"
    } else {
        y_label
    };
    let values: Vec<f64> = items
        .iter()
        .map(|i| i.1)
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() {
        return no_data(id, title, "no item with a finite value");
    }
    let thresholds: Vec<(&str, f64)> = thresholds
        .iter()
        .copied()
        .filter(|t| t.1.is_finite())
        .collect();
    let all = values
        .iter()
        .chain(thresholds.iter().map(|t| &t.1))
        .copied();
    let (lo, hi) = all.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    // Room for the value labels beyond the longest bars.
    let x_range = (if lo < 0.0 { lo - 0.18 * span } else { 0.0 })..(if hi > 0.0 || lo >= 0.0 {
        hi.max(lo + span) + 0.18 * span
    } else {
        0.0
    });
    let n = items.len();
    let value_label = shared_format(&values);
    let labels: Vec<String> = items.iter().map(|i| truncate(i.0)).collect();
    let left = label_width(labels.iter().map(String::as_str)) + 24;
    let keys: Vec<Key> = thresholds
        .iter()
        .enumerate()
        .map(|(i, (name, v))| {
            Key::new(
                format!("{name} ({})", fmt_axis(*v)),
                threshold_color(i),
                Mark::Dashed,
            )
        })
        .collect();
    let height = 70 + 26 * n as u32 + if keys.is_empty() { 0 } else { LEGEND_ROW };
    render(id, title, (640, height.max(170)), &keys, |area| {
        let y_range = categories(n);
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(left)
            .build_cartesian_2d(x_range.clone(), y_range)?;
        let category = |v: &f64| category_label(&labels, n, *v, true);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(y_label)
            .x_label_formatter(&|v| fmt_axis(*v))
            .y_label_formatter(&category)
            .x_labels(6)
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()?;
        for (i, (_, value)) in items.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            if !value.is_finite() {
                let style = label_font()
                    .color(&MUTED)
                    .pos(Pos::new(HPos::Left, VPos::Center));
                chart.draw_series(std::iter::once(
                    EmptyElement::at((0.0, y)) + Text::new("n/a", (4, 0), style),
                ))?;
                continue;
            }
            let color = thresholds
                .iter()
                .enumerate()
                .filter(|(_, t)| t.1 > 0.0 && *value >= t.1)
                .map(|(k, _)| threshold_color(k))
                .next_back()
                .unwrap_or(BLUE);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - 0.32), (*value, y + 0.32)],
                color.filled(),
            )))?;
            let (h_pos, dx) = if *value < 0.0 {
                (HPos::Right, -4)
            } else {
                (HPos::Left, 4)
            };
            let style = label_font().pos(Pos::new(h_pos, VPos::Center));
            chart.draw_series(std::iter::once(
                EmptyElement::at((*value, y)) + Text::new(value_label(*value), (dx, 0), style),
            ))?;
        }
        let (bottom, top) = (-0.5, n as f64 - 0.5);
        for (k, (_, t)) in thresholds.iter().enumerate() {
            chart.draw_series(dashed(vec![(*t, bottom), (*t, top)], threshold_color(k)))?;
        }
        if lo < 0.0 {
            chart.draw_series(LineSeries::new(
                [(0.0, bottom), (0.0, top)],
                MUTED.stroke_width(1),
            ))?;
        }
        Ok(())
    })
}

/// A labelled matrix, e.g. roll rates between DPD buckets (row shares) or the
/// swap set of two models (counts), with rows read as "from" and columns as
/// "to". Cells are shaded from white (zero) to dark blue (the largest value)
/// and each is labelled with `value_format` (see [`percent`], [`count`] and
/// [`decimal`]); a non-finite cell is grey and reads "n/a".
///
/// `values` has one row per entry of `rows`, each with one value per entry of
/// `cols`.
pub fn heat_map(
    id: &str,
    rows: &[&str],
    cols: &[&str],
    values: &[Vec<f64>],
    value_format: impl Fn(f64) -> String,
) -> String {
    matrix(
        id,
        MatrixLabels {
            title: "Transition matrix",
            rows: "From",
            cols: "To",
        },
        rows,
        cols,
        values,
        value_format,
    )
}

/// The title and axis names of a [`matrix`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatrixLabels<'a> {
    /// The drawn title (and the SVG `<title>`).
    pub title: &'a str,
    /// What the rows are (the vertical axis), e.g. "Band under model A".
    pub rows: &'a str,
    /// What the columns are (the horizontal axis).
    pub cols: &'a str,
}

/// [`heat_map`] with its own title and axis names, for a matrix whose rows
/// and columns are not "from" and "to" (e.g. the swap set of two models:
/// band under model A against band under model B).
pub fn matrix(
    id: &str,
    labels: MatrixLabels<'_>,
    rows: &[&str],
    cols: &[&str],
    values: &[Vec<f64>],
    value_format: impl Fn(f64) -> String,
) -> String {
    let title = labels.title;
    if let Some(why) = check_matrix(rows, cols, values) {
        return no_data(id, title, &why);
    }
    let (n_rows, n_cols) = (rows.len(), cols.len());
    let top = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let cells: Vec<Vec<String>> = values
        .iter()
        .map(|row| {
            row.iter()
                .map(|&v| {
                    if v.is_finite() {
                        value_format(v)
                    } else {
                        "n/a".to_owned()
                    }
                })
                .collect()
        })
        .collect();
    let row_labels: Vec<String> = rows.iter().map(|r| truncate(r)).collect();
    let col_labels: Vec<String> = cols.iter().map(|c| truncate(c)).collect();
    let widest = cells
        .iter()
        .flatten()
        .chain(&col_labels)
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(1);
    let cell_w = (widest as f64 * CHAR_PX + 16.0).max(64.0) as u32;
    let cell_h = 34;
    let left = label_width(row_labels.iter().map(String::as_str)) + 30;
    let width = (left + cell_w * n_cols as u32 + 30).max(360);
    let height = TITLE_BAND + 24 + cell_h * n_rows as u32 + 56;
    render(id, title, (width, height), &[], |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(left)
            .build_cartesian_2d(categories(n_cols), categories(n_rows))?;
        let col_label = |v: &f64| category_label(&col_labels, n_cols, *v, false);
        let row_label = |v: &f64| category_label(&row_labels, n_rows, *v, true);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(labels.cols)
            .y_desc(labels.rows)
            .x_label_formatter(&col_label)
            .y_label_formatter(&row_label)
            .axis_style(MUTED)
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()?;
        for (i, row) in values.iter().enumerate() {
            let y = (n_rows - 1 - i) as f64;
            for (j, &v) in row.iter().enumerate() {
                let x = j as f64;
                let (fill, ink) = heat_color(v, top);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                    fill.filled(),
                )))?;
                let style = label_font()
                    .color(ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                chart.draw_series(std::iter::once(Text::new(
                    cells[i][j].clone(),
                    (x, y),
                    style,
                )))?;
            }
        }
        // Thin white rules between cells.
        let rules = (1..n_cols)
            .map(|j| {
                [
                    (j as f64 - 0.5, -0.5),
                    (j as f64 - 0.5, n_rows as f64 - 0.5),
                ]
            })
            .chain((1..n_rows).map(|i| {
                [
                    (-0.5, i as f64 - 0.5),
                    (n_cols as f64 - 0.5, i as f64 - 0.5),
                ]
            }));
        chart.draw_series(rules.map(|r| PathElement::new(r.to_vec(), WHITE.stroke_width(2))))?;
        Ok(())
    })
}

/// The bins of one weight-of-evidence feature: on top the WoE of each bin as a
/// bar from zero (blue above zero: the bin repays more often than the whole
/// population; vermillion below), underneath each bin's share of the
/// population. `bins` holds (bin label, WoE, population share in [0, 1]).
pub fn woe_bins(id: &str, feature: &str, bins: &[(&str, f64, f64)]) -> String {
    let title = format!("Weight of evidence by bin: {feature}");
    if bins.is_empty() {
        return no_data(id, &title, "no bins");
    }
    if bins.iter().all(|b| !b.1.is_finite() && !b.2.is_finite()) {
        return no_data(id, &title, "no bin with a finite WoE or share");
    }
    let n = bins.len();
    let labels: Vec<String> = bins.iter().map(|b| truncate(b.0)).collect();
    let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1);
    let slot = (widest as f64 * CHAR_PX + 12.0).max(56.0);
    let width = ((slot * n as f64) as u32 + 110).clamp(560, 1400);
    let woes = bins.iter().map(|b| b.1).filter(|v| v.is_finite());
    let (lo, hi) = woes.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let woe_range = (lo - 0.2 * span).min(0.0)..(hi + 0.2 * span).max(0.0);
    let woe_range = if lo == 0.0 && hi == 0.0 {
        -1.0..1.0
    } else {
        woe_range
    };
    let top_share = bins
        .iter()
        .map(|b| b.2)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let share_range = 0.0..if top_share > 0.0 {
        top_share * 1.25
    } else {
        1.0
    };
    let keys = [
        Key::new("WoE > 0: repays more than average", BLUE, Mark::Block),
        Key::new("WoE < 0: repays less", VERMILLION, Mark::Block),
        Key::new("Share of population", SHARE_BAR, Mark::Block),
    ];
    render(id, &title, (width, 520), &keys, |area| {
        let (upper, lower) = area.split_vertically(area.dim_in_pixel().1 * 3 / 5);
        let empty = |_: &f64| String::new();
        let category = |v: &f64| category_label(&labels, n, *v, false);
        let mut chart = ChartBuilder::on(&upper)
            .margin(12)
            .margin_bottom(4)
            .x_label_area_size(8)
            .y_label_area_size(64)
            .build_cartesian_2d(categories(n), woe_range)?;
        mesh_categories(&mut chart, "", "Weight of evidence", &empty, &|v| {
            fmt_axis(*v)
        })?;
        chart.draw_series(LineSeries::new(
            [(-0.5, 0.0), (n as f64 - 0.5, 0.0)],
            MUTED.stroke_width(1),
        ))?;
        for (i, bin) in bins.iter().enumerate() {
            let color = if bin.1 >= 0.0 { BLUE } else { VERMILLION };
            value_bar(&mut chart, i as f64, bin.1, color, format!("{:.2}", bin.1))?;
        }
        let mut chart = ChartBuilder::on(&lower)
            .margin(12)
            .margin_top(4)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(categories(n), share_range)?;
        mesh_categories(
            &mut chart,
            &format!("Bin of {feature}"),
            "Share",
            &category,
            &|v| fmt_percent_axis(*v),
        )?;
        for (i, bin) in bins.iter().enumerate() {
            value_bar(&mut chart, i as f64, bin.2, SHARE_BAR, percent(bin.2))?;
        }
        Ok(())
    })
}

/// Formats a share as a percentage with one decimal: `0.1234` -> `12.3%`.
pub fn percent(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", v * 100.0)
    } else {
        "n/a".to_owned()
    }
}

/// Formats a count with thousands separators: `12345.0` -> `12,345`.
pub fn count(v: f64) -> String {
    fmt_count(v)
}

/// Formats a value with three decimals: `0.12345` -> `0.123`.
pub fn decimal(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "n/a".to_owned()
    }
}

/// Draws a figure: a white canvas, the title, the legend row(s), then `draw`
/// on the area below them; returns the finished `<svg>` element, or a "No
/// data" figure if plotters reports an error.
fn render(
    id: &str,
    title: &str,
    size: (u32, u32),
    keys: &[Key],
    draw: impl FnOnce(&Area) -> DrawResult,
) -> String {
    let mut body = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut body, size).into_drawing_area();
        let drawn = root.fill(&WHITE).and_then(|()| {
            let legend_rows = legend_rows(keys, size.0);
            let header = TITLE_BAND + LEGEND_ROW * legend_rows.len() as u32;
            let (head, rest) = root.split_vertically(header);
            draw_header(&head, title, &legend_rows, size.0)?;
            draw(&rest)
        });
        drawn.and_then(|()| root.present())
    };
    match drawn {
        Ok(()) => finish(id, title, size, &body),
        Err(e) => no_data(id, title, &format!("the figure could not be drawn: {e}")),
    }
}

/// A figure that says "No data" and why, with the same id as the figure it
/// replaces.
fn no_data(id: &str, title: &str, why: &str) -> String {
    let size = (560, 200);
    let mut body = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut body, size).into_drawing_area();
        let drawn = root.fill(&WHITE).and_then(|()| {
            let (head, rest) = root.split_vertically(TITLE_BAND);
            draw_header(&head, title, &[], size.0)?;
            let (w, h) = rest.dim_in_pixel();
            rest.draw(&Rectangle::new(
                [(12, 4), (w as i32 - 12, h as i32 - 12)],
                GRID.stroke_width(1),
            ))?;
            let center = Pos::new(HPos::Center, VPos::Center);
            let big = font(TITLE_PX).color(&MUTED).pos(center);
            rest.draw_text("No data", &big, (w as i32 / 2, h as i32 / 2 - 14))?;
            let small = label_font().color(&MUTED).pos(center);
            rest.draw_text(why, &small, (w as i32 / 2, h as i32 / 2 + 12))
        });
        drawn.and_then(|()| root.present())
    };
    // Drawing text and rectangles into a String cannot fail; if it ever did,
    // the figure keeps its id and title with an empty canvas.
    finish(id, title, size, if drawn.is_ok() { &body } else { "" })
}

/// Replaces plotters' opening `<svg …>` line (which carries an `xmlns` URL)
/// with one that has the caller's id, a class for the page's CSS, the title
/// for screen readers, and no URL.
fn finish(id: &str, title: &str, (w, h): (u32, u32), body: &str) -> String {
    let inner = match body.split_once('\n') {
        Some((open, rest)) if open.starts_with("<svg ") => {
            rest.strip_suffix("</svg>\n").unwrap_or(rest)
        }
        _ => "",
    };
    format!(
        "<svg id=\"{}\" class=\"plot\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">\n<title>{}</title>\n{inner}</svg>",
        escape(id),
        escape(title)
    )
}

/// The title, centred, and the legend rows under it.
fn draw_header(head: &Area, title: &str, rows: &[Vec<&Key>], width: u32) -> DrawResult {
    let title_style = font(TITLE_PX)
        .color(&INK)
        .pos(Pos::new(HPos::Center, VPos::Center));
    head.draw_text(
        title,
        &title_style,
        (width as i32 / 2, TITLE_BAND as i32 / 2 + 2),
    )?;
    for (r, row) in rows.iter().enumerate() {
        let y = (TITLE_BAND + LEGEND_ROW * r as u32 + LEGEND_ROW / 2) as i32;
        let total: u32 = row.iter().map(|k| key_width(k)).sum();
        let mut x = (width.saturating_sub(total) / 2) as i32;
        for key in row {
            draw_key(head, key, x, y)?;
            x += key_width(key) as i32;
        }
    }
    Ok(())
}

fn draw_key(head: &Area, key: &Key, x: i32, y: i32) -> DrawResult {
    match key.mark {
        Mark::Line => head.draw(&PathElement::new(
            vec![(x, y), (x + 22, y)],
            key.color.stroke_width(2),
        ))?,
        Mark::Dashed => {
            for start in [x, x + 9, x + 18] {
                head.draw(&PathElement::new(
                    vec![(start, y), (start + 5, y)],
                    key.color.stroke_width(2),
                ))?;
            }
        }
        Mark::Block => head.draw(&Rectangle::new(
            [(x + 5, y - 6), (x + 17, y + 6)],
            key.color.filled(),
        ))?,
    }
    let style = label_font()
        .color(&INK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    head.draw_text(&key.name, &style, (x + 28, y))
}

/// Width of a legend entry: its mark, its text and a gap.
fn key_width(key: &Key) -> u32 {
    28 + (key.name.chars().count() as f64 * CHAR_PX) as u32 + 22
}

/// Splits the legend entries into rows that fit the figure's width.
fn legend_rows(keys: &[Key], width: u32) -> Vec<Vec<&Key>> {
    let mut rows: Vec<Vec<&Key>> = Vec::new();
    let mut used = 0;
    for key in keys {
        let w = key_width(key);
        match rows.last_mut() {
            Some(row) if used + w <= width.saturating_sub(24) => row.push(key),
            _ => {
                rows.push(vec![key]);
                used = 0;
            }
        }
        used += w;
    }
    rows
}

/// The house style of every grid: light grey lines at the labelled ticks
/// only, grey axes, 12 px labels, with the axes' descriptions and formats.
fn house_mesh<'m, 'a, 'b, X: Ranged, Y: Ranged>(
    mesh: &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, SVGBackend<'a>>,
    (x_desc, y_desc): (&str, &str),
    x_fmt: &'b dyn Fn(&X::ValueType) -> String,
    y_fmt: &'b dyn Fn(&Y::ValueType) -> String,
) -> &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, SVGBackend<'a>> {
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(x_fmt)
        .y_label_formatter(y_fmt)
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(MUTED)
        .label_style(label_font())
        .axis_desc_style(label_font())
}

/// The usual grid of a numeric chart.
fn mesh(
    chart: &mut Chart<'_, RangedCoordf64, RangedCoordf64>,
    x_desc: &str,
    y_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    y_fmt: &dyn Fn(&f64) -> String,
) -> DrawResult {
    house_mesh(&mut chart.configure_mesh(), (x_desc, y_desc), x_fmt, y_fmt)
        .x_labels(6)
        .y_labels(6)
        .draw()
}

/// The grid of a chart with categories on the x axis.
fn mesh_categories(
    chart: &mut Chart<'_, Categories, RangedCoordf64>,
    x_desc: &str,
    y_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    y_fmt: &dyn Fn(&f64) -> String,
) -> DrawResult {
    house_mesh(&mut chart.configure_mesh(), (x_desc, y_desc), x_fmt, y_fmt)
        .disable_x_mesh()
        .y_labels(5)
        .draw()
}

/// A vertical bar from zero to `value` at category `x`, labelled with `text`
/// above it (below it when negative).
fn value_bar(
    chart: &mut Chart<'_, Categories, RangedCoordf64>,
    x: f64,
    value: f64,
    color: RGBColor,
    text: String,
) -> DrawResult {
    if !value.is_finite() {
        let style = label_font()
            .color(&MUTED)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(std::iter::once(
            EmptyElement::at((x, 0.0)) + Text::new("n/a", (0, -3), style),
        ))?;
        return Ok(());
    }
    chart.draw_series(std::iter::once(Rectangle::new(
        [(x - 0.35, 0.0), (x + 0.35, value)],
        color.filled(),
    )))?;
    let (v_pos, dy) = if value < 0.0 {
        (VPos::Top, 3)
    } else {
        (VPos::Bottom, -3)
    };
    let style = label_font().pos(Pos::new(HPos::Center, v_pos));
    chart.draw_series(std::iter::once(
        EmptyElement::at((x, value)) + Text::new(text, (0, dy), style),
    ))?;
    Ok(())
}

/// A category axis: `n` slots centred on 0, 1, …, n - 1, with ticks (and
/// labels, through a formatter) at the centres only. (plotters'
/// `with_key_points` would do, but its axis cannot take a label formatter.)
#[derive(Debug, Clone, Copy)]
struct Categories(usize);

impl Ranged for Categories {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        // As plotters maps f64 axes.
        let t = (value + 0.5) / self.0.max(1) as f64;
        let length = f64::from(limit.1 - limit.0);
        if length >= 0.0 {
            limit.0 + (length * t + 1e-3).floor() as i32
        } else {
            limit.0 + (length * t - 1e-3).ceil() as i32
        }
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            (0..self.0).map(|i| i as f64).collect()
        }
    }

    fn range(&self) -> Range<f64> {
        -0.5..self.0 as f64 - 0.5
    }
}

fn categories(n: usize) -> Categories {
    Categories(n)
}

/// The label of the category at axis position `v`; categories listed top to
/// bottom sit at descending positions when `top_down`.
fn category_label(labels: &[String], n: usize, v: f64, top_down: bool) -> String {
    let slot = v.round();
    if slot < 0.0 || slot >= n as f64 || (v - slot).abs() > 1e-6 {
        return String::new();
    }
    let i = slot as usize;
    let i = if top_down { n - 1 - i } else { i };
    labels[i].clone()
}

/// A dashed straight line between two points (plotters draws each dash as
/// its own short `<polyline>`, so the lines drawn with it stay short).
fn dashed(
    points: Vec<(f64, f64)>,
    color: RGBColor,
) -> DashedLineSeries<std::vec::IntoIter<(f64, f64)>, u32> {
    DashedLineSeries::new(points, 6, 5, color.stroke_width(1))
}

/// A dot for a series of one point, which as a line would be invisible;
/// nothing for longer series.
fn lone_point(points: &[(f64, f64)], color: RGBColor) -> Vec<Circle<(f64, f64), u32>> {
    match points {
        [only] => vec![Circle::new(*only, 4, color.filled())],
        _ => Vec::new(),
    }
}

/// The outline of a histogram of shares: up and down each bin's edges.
fn step_outline(edges: &[f64], shares: &[f64]) -> Vec<(f64, f64)> {
    let mut outline = Vec::with_capacity(2 * shares.len() + 2);
    outline.push((edges[0], 0.0));
    for (i, &s) in shares.iter().enumerate() {
        outline.push((edges[i], s));
        outline.push((edges[i + 1], s));
    }
    outline.push((edges[edges.len() - 1], 0.0));
    outline
}

/// Why these histograms cannot be drawn, if they cannot.
fn check_histograms(edges: &[f64], series: &[(&str, &[u64])]) -> Option<String> {
    if edges.len() < 2 {
        return Some(format!("{} bin edges: at least 2 are needed", edges.len()));
    }
    if let Some(i) =
        (0..edges.len()).find(|&i| !edges[i].is_finite() || (i > 0 && edges[i] <= edges[i - 1]))
    {
        return Some(format!(
            "bin edge {i} ({}) is not finite and above the one before",
            edges[i]
        ));
    }
    if series.is_empty() {
        return Some("no series".to_owned());
    }
    let bins = edges.len() - 1;
    series
        .iter()
        .find(|(_, counts)| counts.len() != bins)
        .map(|(name, counts)| {
            format!(
                "series \"{name}\" has {} counts for {bins} bins",
                counts.len()
            )
        })
}

/// Why this matrix cannot be drawn, if it cannot.
fn check_matrix(rows: &[&str], cols: &[&str], values: &[Vec<f64>]) -> Option<String> {
    if rows.is_empty() || cols.is_empty() {
        return Some(format!("{} rows and {} columns", rows.len(), cols.len()));
    }
    if values.len() != rows.len() {
        return Some(format!(
            "{} rows of values for {} row labels",
            values.len(),
            rows.len()
        ));
    }
    let (i, row) = values
        .iter()
        .enumerate()
        .find(|(_, row)| row.len() != cols.len())?;
    Some(format!(
        "row {i} has {} values for {} columns",
        row.len(),
        cols.len()
    ))
}

/// The fill of a heat-map cell (white to dark blue as `v` goes from 0 to
/// `top`) and the ink that reads on it.
fn heat_color(v: f64, top: f64) -> (RGBColor, &'static RGBColor) {
    if !v.is_finite() {
        return (NO_VALUE, &MUTED);
    }
    let t = if top > 0.0 {
        (v / top).clamp(0.0, 1.0)
    } else {
        0.0
    };
    // Three stops of ColorBrewer's "Blues": near white, mid blue, dark blue.
    let (from, to, u) = if t < 0.5 {
        ((0xF7, 0xFB, 0xFF), (0x6B, 0xAE, 0xD6), t * 2.0)
    } else {
        ((0x6B, 0xAE, 0xD6), (0x08, 0x30, 0x6B), t * 2.0 - 1.0)
    };
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * u).round() as u8;
    let fill = RGBColor(mix(from.0, to.0), mix(from.1, to.1), mix(from.2, to.2));
    (fill, if t > 0.6 { &WHITE } else { &INK })
}

/// Points with both coordinates finite, clamped to [0, 1].
fn unit_points(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (x.clamp(0.0, 1.0), y.clamp(0.0, 1.0)))
        .collect()
}

/// The range of finite values, widened when it is a single value.
fn padded_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return 0.0..1.0;
    }
    if hi > lo {
        return lo..hi;
    }
    let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
    lo - pad..hi + pad
}

fn series_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn threshold_color(i: usize) -> RGBColor {
    THRESHOLD_COLORS[i % THRESHOLD_COLORS.len()]
}

fn font(px: f64) -> TextStyle<'static> {
    TextStyle::from(("sans-serif", px * FONT_SCALE).into_font()).color(&INK)
}

fn label_font() -> TextStyle<'static> {
    font(LABEL_PX)
}

/// Width in pixels of the widest label, for the label area beside an axis.
fn label_width<'a>(labels: impl Iterator<Item = &'a str>) -> u32 {
    let chars = labels.map(|l| l.chars().count()).max().unwrap_or(0);
    (chars as f64 * CHAR_PX) as u32
}

/// A label cut to [`MAX_LABEL_CHARS`] characters, ending in "…" if cut.
fn truncate(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label.to_owned();
    }
    let mut cut: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// An axis tick: as few decimals as tell the ticks apart.
fn fmt_axis(v: f64) -> String {
    let v = if v.abs() < 1e-12 { 0.0 } else { v };
    if (v - v.round()).abs() < 1e-9 && v.abs() >= 1.0 {
        return fmt_count(v);
    }
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A share tick as a whole percentage.
fn fmt_percent_axis(v: f64) -> String {
    let p = v * 100.0;
    if (p - p.round()).abs() < 1e-6 {
        format!("{:.0}%", p)
    } else {
        format!("{p:.1}%")
    }
}

/// A value written beside a bar or a mark: integers with thousands
/// separators, otherwise three significant-looking decimals.
fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_owned();
    }
    if v == v.round() && v.abs() < 1e15 {
        return fmt_count(v);
    }
    match v.abs() {
        a if a >= 1000.0 => fmt_count(v),
        a if a >= 100.0 => format!("{v:.1}"),
        a if a >= 10.0 => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    }
}

/// One format for the labels of a set of values: whole numbers when all are
/// whole, otherwise the decimals that the largest magnitude calls for, so the
/// labels of one chart read alike ("0.000" beside "0.042", not "0").
fn shared_format(values: &[f64]) -> impl Fn(f64) -> String {
    let whole = values.iter().all(|v| *v == v.round());
    let top = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let decimals = match top {
        _ if whole => 0,
        t if t >= 1000.0 => 0,
        t if t >= 100.0 => 1,
        t if t >= 10.0 => 2,
        _ => 3,
    };
    move |v: f64| match decimals {
        _ if !v.is_finite() => "n/a".to_owned(),
        0 => fmt_count(v),
        d => format!("{v:.d$}"),
    }
}

fn fmt_count(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_owned();
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if v.round() < 0.0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    use super::*;
    use crate::model::metrics;
    use crate::report::html::Page;

    /// A made-up scored population for the demo page: a latent repayment
    /// propensity, the true probability, and two models' predictions (model
    /// B noisier). Clearly a demo: nothing here comes from data/sample.
    struct Demo {
        y: Vec<bool>,
        p_a: Vec<f64>,
        p_b: Vec<f64>,
    }

    fn demo_population(n: usize) -> Demo {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let normal = Normal::new(0.0, 1.0).expect("unit normal");
        let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
        let (mut y, mut p_a, mut p_b) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let z: f64 = normal.sample(&mut rng);
            let truth = sigmoid(0.5 + 1.4 * z);
            y.push(rng.random::<f64>() < truth);
            p_a.push(sigmoid(0.45 + 1.3 * z + 0.3 * normal.sample(&mut rng)));
            p_b.push(sigmoid(0.6 + 1.0 * z + 0.9 * normal.sample(&mut rng)));
        }
        Demo { y, p_a, p_b }
    }

    /// ROC points at `steps` + 1 thresholds down the ranking (repaid is the
    /// positive class).
    fn roc_points(p: &[f64], y: &[bool], steps: usize) -> Vec<(f64, f64)> {
        let mut order: Vec<usize> = (0..p.len()).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
        let pos = y.iter().filter(|&&r| r).count() as f64;
        let neg = y.len() as f64 - pos;
        let (mut tp, mut fp) = (0.0, 0.0);
        let mut points = vec![(0.0, 0.0)];
        for (k, &i) in order.iter().enumerate() {
            if y[i] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            if (k + 1) % (p.len() / steps).max(1) == 0 || k + 1 == p.len() {
                points.push((fp / neg, tp / pos));
            }
        }
        points
    }

    /// The demo page with one figure of each kind, and their svg ids.
    pub(crate) fn demo_page() -> (Page, Vec<&'static str>) {
        let demo = demo_population(4000);
        let (y, p_a, p_b) = (&demo.y, &demo.p_a, &demo.p_b);
        let metrics_a = metrics::evaluate(p_a, y).expect("two classes");
        let metrics_b = metrics::evaluate(p_b, y).expect("two classes");
        let roc_a = roc_points(p_a, y, 100);
        let roc_b = roc_points(p_b, y, 100);
        let name_a = format!("Model A (AUC {:.3})", metrics_a.auc);
        let name_b = format!("Model B (AUC {:.3})", metrics_b.auc);

        let thresholds: Vec<f64> = (0..=100).map(|k| k as f64 / 100.0).collect();
        let repaid = y.iter().filter(|&&r| r).count() as f64;
        let not_repaid = y.len() as f64 - repaid;
        let share_below = |t: f64, class: bool, total: f64| {
            p_a.iter()
                .zip(y)
                .filter(|(p, r)| **p <= t && **r == class)
                .count() as f64
                / total
        };
        let cum_repaid: Vec<f64> = thresholds
            .iter()
            .map(|&t| share_below(t, true, repaid))
            .collect();
        let cum_not: Vec<f64> = thresholds
            .iter()
            .map(|&t| share_below(t, false, not_repaid))
            .collect();

        let edges: Vec<f64> = (0..=20).map(|k| k as f64 / 20.0).collect();
        let mut counts_repaid = vec![0u64; 20];
        let mut counts_not = vec![0u64; 20];
        for (p, r) in p_a.iter().zip(y) {
            let bin = ((p * 20.0) as usize).min(19);
            if *r {
                counts_repaid[bin] += 1;
            } else {
                counts_not[bin] += 1;
            }
        }

        let band_mix = [
            ("A", 0.18),
            ("B", 0.27),
            ("C", 0.24),
            ("D", 0.19),
            ("E", 0.12),
        ];
        let repay_by_band = [
            ("A", 0.91),
            ("B", 0.78),
            ("C", 0.61),
            ("D", 0.42),
            ("E", 0.19),
        ];
        let treatment_mix = [("soft", 0.46), ("standard", 0.38), ("escalated", 0.16)];
        let psi = [
            ("score", 0.042),
            ("dpd", 0.018),
            ("overdue_ratio", 0.131),
            ("days_since_last_payment", 0.067),
            ("late_ge30_12m", 0.009),
            ("paid_30d_ratio", 0.284),
            ("promises_broken", 0.003),
            ("months_since_first_due", 0.0),
        ];
        let buckets = ["current", "1-30", "31-60", "61-90", "90+"];
        let roll = vec![
            vec![0.93, 0.06, 0.01, 0.0, 0.0],
            vec![0.41, 0.38, 0.19, 0.02, 0.0],
            vec![0.12, 0.10, 0.31, 0.44, 0.03],
            vec![0.05, 0.02, 0.06, 0.22, 0.65],
            vec![0.01, 0.0, 0.01, 0.02, 0.96],
        ];
        let woe = [
            ("missing", -0.42, 0.03),
            ("[0, 1)", 0.88, 0.41),
            ("[1, 15)", 0.31, 0.22),
            ("[15, 30)", -0.18, 0.14),
            ("[30, 60)", -0.74, 0.11),
            ("[60, +inf)", -1.52, 0.09),
        ];

        let mut page = Page::new("Demo report: made-up data");
        page.heading(1, "Demo report (made-up data)")
            .paragraph("Every number on this page is invented by a test to show the figures; none comes from a ledger or a model.")
            .heading(2, "Ranking")
            .table(
                &["Model", "Rows", "AUC", "Gini", "KS", "Brier", "Log loss"],
                &[&metrics_a, &metrics_b]
                    .iter()
                    .zip(["A", "B"])
                    .map(|(m, name)| {
                        vec![
                            name.to_owned(),
                            count(m.count as f64),
                            decimal(m.auc),
                            decimal(m.gini),
                            decimal(m.ks),
                            decimal(m.brier),
                            decimal(m.log_loss),
                        ]
                    })
                    .collect::<Vec<_>>(),
            )
            .figure(
                "ROC curves of the two demo models on the same 4,000 made-up borrowers.",
                &roc("roc", &[(name_a.as_str(), roc_a.as_slice()), (name_b.as_str(), roc_b.as_slice())]),
            )
            .figure("KS of model A.", &ks("ks", &thresholds, &cum_repaid, &cum_not))
            .heading(2, "Calibration and distributions")
            .figure("Calibration of model A by decile of prediction.", &calibration("calibration", &metrics_a.calibration))
            .figure(
                "Predicted repayment probability of model A, by outcome.",
                &histograms("scores", &edges, &[("Repaid", &counts_repaid), ("Not repaid", &counts_not)]),
            )
            .heading(2, "Bands and treatments")
            .figure("Risk band mix.", &bars("band-mix", "Share of borrowers", &band_mix, &[]))
            .figure("Repay rate by risk band.", &bars("repay-by-band", "Repay rate", &repay_by_band, &[]))
            .figure("Treatment mix.", &bars("treatment-mix", "Share of borrowers", &treatment_mix, &[]))
            .heading(2, "Roll rates and drift")
            .figure(
                "Roll rates from T to T+30 days (share of each row).",
                &heat_map("roll-rates", &buckets, &buckets, &roll, percent),
            )
            .figure(
                "PSI of the score and each feature, training against tonight.",
                &bars("psi", "PSI", &psi, &[("warn", 0.1), ("fail", 0.25)]),
            )
            .heading(2, "Scorecard bins")
            .figure("WoE bins of days_since_last_payment.", &woe_bins("woe-days-since-last-payment", "days_since_last_payment", &woe));
        let ids = vec![
            "roc",
            "ks",
            "calibration",
            "scores",
            "band-mix",
            "repay-by-band",
            "treatment-mix",
            "roll-rates",
            "psi",
            "woe-days-since-last-payment",
        ];
        (page, ids)
    }

    /// Writes the demo page for a look in a browser:
    /// `cargo test --lib report::plot::tests::write_demo_page -- --ignored`
    /// writes `$DUNNING_REPORT_DEMO` (default: report-demo.html in the
    /// system's temporary directory), then e.g.
    /// `chromium --headless --no-sandbox --disable-gpu --screenshot=/tmp/report.png --window-size=1200,4000 file:///tmp/report-demo.html`.
    #[test]
    #[ignore = "writes a file for a person to look at"]
    fn write_demo_page() {
        let path = std::env::var_os("DUNNING_REPORT_DEMO")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("report-demo.html"));
        crate::output::write_text(&path, &demo_page().0.render()).expect("writing the demo page");
        eprintln!("wrote {}", path.display());
    }

    /// Asserts the common shape of every figure: one `<svg>` with the id,
    /// a title, no URL, and a bounded number of elements.
    fn assert_figure(svg: &str, id: &str, title: &str) {
        assert!(
            svg.starts_with(&format!("<svg id=\"{}\" class=\"plot\" ", escape(id))),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"), "{svg}");
        assert_eq!(svg.matches("<svg").count(), 1);
        assert_eq!(svg.matches("</svg>").count(), 1);
        assert!(
            svg.contains(&format!("<title>{}</title>", escape(title))),
            "{svg}"
        );
        for bad in ["http", "xmlns", "href", "src=", "<script", "<image"] {
            assert!(!svg.contains(bad), "{bad} in {svg}");
        }
        assert!(
            svg.matches('<').count() < 1500,
            "{} elements",
            svg.matches('<').count()
        );
    }

    fn is_no_data(svg: &str) -> bool {
        svg.contains(">\nNo data\n</text>")
    }

    fn ramp(n: usize) -> Vec<(f64, f64)> {
        (0..=n)
            .map(|k| k as f64 / n as f64)
            .map(|x| (x, x.sqrt()))
            .collect()
    }

    #[test]
    fn roc_draws_each_curve_as_one_line_with_a_legend() {
        let a = ramp(200);
        let b = ramp(10);
        let svg = roc("roc-1", &[("Model A", &a), ("Model <B> & co", &b)]);
        assert_figure(&svg, "roc-1", "ROC curve");
        assert!(!is_no_data(&svg));
        // Two curves of 201 and 11 points: each one polyline, not 200 lines.
        assert!(
            svg.matches("<polyline").count() < 120,
            "{}",
            svg.matches("<polyline").count()
        );
        assert!(svg.contains("Model A") && svg.contains("Model &lt;B&gt; &amp; co"));
        assert!(svg.contains("Random ranking"));
        assert!(svg.contains("False positive rate") && svg.contains("True positive rate"));
        assert!(svg.matches("<text").count() >= 12, "tick labels");
    }

    #[test]
    fn roc_without_finite_points_says_no_data() {
        let nan = [(f64::NAN, 0.5), (0.5, f64::INFINITY)];
        for svg in [
            roc("r", &[]),
            roc("r", &[("empty", &[])]),
            roc("r", &[("nan", &nan)]),
        ] {
            assert_figure(&svg, "r", "ROC curve");
            assert!(is_no_data(&svg), "{svg}");
        }
        // One point is a curve, not an error.
        let svg = roc("r", &[("one", &[(0.5, 0.5)])]);
        assert!(!is_no_data(&svg) && svg.matches("<circle").count() == 1);
    }

    #[test]
    fn ks_marks_the_largest_gap() {
        // Hand-computed: gaps 0, 0.2, 0.5, 0.3, 0 -> KS 0.5 at score 2.
        let score = [0.0, 1.0, 2.0, 3.0, 4.0];
        let repaid = [0.0, 0.1, 0.2, 0.6, 1.0];
        let not_repaid = [0.0, 0.3, 0.7, 0.9, 1.0];
        let svg = ks("ks-1", &score, &repaid, &not_repaid);
        assert_figure(&svg, "ks-1", "KS: cumulative shares by score");
        assert!(svg.contains("KS = 0.500 at score 2\n"), "{svg}");
        assert!(svg.contains("Not repaid") && svg.contains("Cumulative share"));
        // Unsorted input gives the same figure.
        let svg2 = ks(
            "ks-1",
            &[4.0, 2.0, 0.0, 3.0, 1.0],
            &[1.0, 0.2, 0.0, 0.6, 0.1],
            &[1.0, 0.7, 0.0, 0.9, 0.3],
        );
        assert_eq!(svg, svg2);
    }

    #[test]
    fn ks_degenerate_inputs() {
        let svg = ks("k", &[1.0, 2.0], &[0.5], &[0.5, 1.0]);
        assert!(
            is_no_data(&svg)
                && svg
                    .contains("different lengths (2 scores, 1 repaid shares, 2 not-repaid shares)")
        );
        assert!(is_no_data(&ks("k", &[], &[], &[])));
        assert!(is_no_data(&ks("k", &[f64::NAN], &[0.1], &[0.2])));
        // One point, or all scores equal: drawn on a widened axis.
        let svg = ks("k", &[600.0], &[0.3], &[0.7]);
        assert_eq!(svg.matches("<circle").count(), 2, "one dot per class");
        assert!(
            !is_no_data(&svg) && svg.contains("KS = 0.400 at score 600\n"),
            "{svg}"
        );
        assert!(!is_no_data(&ks("k", &[0.0, 0.0], &[0.0, 0.0], &[0.0, 0.0])));
    }

    fn bin(bin: u32, count: u64, mean_predicted: f64, observed_rate: f64) -> CalibrationBin {
        CalibrationBin {
            bin,
            count,
            min_predicted: mean_predicted,
            max_predicted: mean_predicted,
            mean_predicted,
            observed_rate,
        }
    }

    #[test]
    fn calibration_draws_a_point_per_bin() {
        let bins: Vec<CalibrationBin> = (1..=10)
            .map(|k| bin(k, 100, k as f64 / 11.0, (k as f64 / 11.0 + 0.03).min(1.0)))
            .collect();
        let svg = calibration("cal", &bins);
        assert_figure(&svg, "cal", "Calibration: observed against predicted");
        assert_eq!(svg.matches("<circle").count(), 10);
        assert!(svg.contains("Perfect calibration"));
    }

    #[test]
    fn calibration_degenerate_inputs() {
        assert!(is_no_data(&calibration("c", &[])));
        assert!(is_no_data(&calibration(
            "c",
            &[bin(1, 0, 0.5, 0.5), bin(2, 10, f64::NAN, 0.5)]
        )));
        // One bin at the top corner, or all zeros: still a figure.
        let svg = calibration("c", &[bin(1, 10, 1.0, 1.0)]);
        assert!(!is_no_data(&svg) && svg.matches("<circle").count() == 1);
        assert!(!is_no_data(&calibration("c", &[bin(1, 10, 0.0, 0.0)])));
    }

    #[test]
    fn histograms_show_shares_of_each_series() {
        let edges = [0.0, 0.25, 0.5, 0.75, 1.0];
        let repaid: [u64; 4] = [1, 1, 3, 5];
        let not_repaid: [u64; 4] = [6, 2, 2, 0];
        let svg = histograms(
            "h",
            &edges,
            &[("Repaid", &repaid), ("Not repaid", &not_repaid)],
        );
        assert_figure(&svg, "h", "Score distribution");
        assert!(svg.contains("Repaid (n = 10)") && svg.contains("Not repaid (n = 10)"));
        assert_eq!(svg.matches("<polygon").count(), 2);
        // Largest share 0.6, axis to 0.66: a 60% tick.
        assert!(svg.contains(">\n60%\n</text>"), "{svg}");
        // All zeros: a flat figure, not a failure.
        let zeros: [u64; 4] = [0; 4];
        assert!(!is_no_data(&histograms("h", &edges, &[("Nobody", &zeros)])));
    }

    #[test]
    fn histograms_reject_bad_shapes() {
        let counts: [u64; 2] = [1, 2];
        let svg = histograms("h", &[0.0, 1.0], &[("x", &counts)]);
        assert!(
            is_no_data(&svg) && svg.contains("series &quot;x&quot; has 2 counts for 1 bins"),
            "{svg}"
        );
        assert!(is_no_data(&histograms("h", &[0.0], &[])));
        assert!(is_no_data(&histograms("h", &[0.0, 1.0], &[])));
        let svg = histograms("h", &[0.0, 1.0, 1.0], &[("x", &counts)]);
        assert!(
            svg.contains("bin edge 2 (1) is not finite and above the one before"),
            "{svg}"
        );
        assert!(is_no_data(&histograms(
            "h",
            &[0.0, f64::NAN, 1.0],
            &[("x", &counts)]
        )));
    }

    #[test]
    fn bars_label_each_item_and_colour_bars_past_a_threshold() {
        let items = [
            ("score", 0.05),
            ("dpd", 0.12),
            ("overdue & <ratio>", 0.31),
            ("broken", f64::NAN),
        ];
        let svg = bars("psi", "PSI", &items, &[("warn", 0.1), ("fail", 0.25)]);
        assert_figure(&svg, "psi", "PSI");
        for text in [
            "score",
            "dpd",
            "overdue &amp; &lt;ratio&gt;",
            "0.050",
            "0.120",
            "0.310",
            "n/a",
            "warn (0.1)",
            "fail (0.25)",
        ] {
            assert!(
                svg.contains(&format!(">\n{text}\n</text>")),
                "{text} in {svg}"
            );
        }
        // Below both thresholds blue, past the first orange, past both vermillion.
        for fill in ["#0072B2", "#E69F00", "#D55E00"] {
            assert!(
                svg.contains(&format!("opacity=\"1\" fill=\"{fill}\" stroke=\"none\"")),
                "{fill}"
            );
        }
    }

    #[test]
    fn bars_degenerate_inputs() {
        assert!(is_no_data(&bars("b", "Share", &[], &[])));
        assert!(is_no_data(&bars("b", "Share", &[("a", f64::NAN)], &[])));
        for items in [
            &[("a", 0.0)][..],
            &[("a", 0.0), ("b", 0.0)],
            &[("neg", -2.0), ("pos", 1.0)],
            &[("neg", -1.0)],
        ] {
            let svg = bars("b", "Share", items, &[]);
            assert!(!is_no_data(&svg), "{items:?}");
        }
        let long = "a_feature_name_that_is_far_too_long_to_show_in_full";
        let svg = bars("b", "PSI", &[(long, 0.2)], &[]);
        assert!(svg.contains("a_feature_name_that_is_far_too_…"), "{svg}");
    }

    #[test]
    fn heat_map_labels_every_cell() {
        let rows = ["current", "1-30"];
        let cols = ["current", "1-30", "31+"];
        let values = vec![vec![0.9, 0.1, 0.0], vec![0.4, f64::NAN, 0.6]];
        let svg = heat_map("roll", &rows, &cols, &values, percent);
        assert_figure(&svg, "roll", "Transition matrix");
        for text in [
            "90.0%", "10.0%", "0.0%", "40.0%", "n/a", "60.0%", "From", "To", "31+",
        ] {
            assert!(
                svg.contains(&format!(">\n{text}\n</text>")),
                "{text} in {svg}"
            );
        }
        // The largest value is the darkest cell, with white text.
        assert!(svg.contains("fill=\"#08306B\""), "{svg}");
        let counts = heat_map("swap", &["A"], &["A"], &[vec![12345.0]], count);
        assert!(counts.contains(">\n12,345\n</text>"));
    }

    #[test]
    fn heat_map_degenerate_inputs() {
        assert!(is_no_data(&heat_map("h", &[], &[], &[], percent)));
        let ragged = heat_map(
            "h",
            &["a", "b"],
            &["x"],
            &[vec![0.1], vec![0.2, 0.3]],
            percent,
        );
        assert!(is_no_data(&ragged) && ragged.contains("row 1 has 2 values for 1 columns"));
        let short = heat_map("h", &["a", "b"], &["x"], &[vec![0.1]], percent);
        assert!(short.contains("1 rows of values for 2 row labels"));
        let zeros = heat_map("h", &["a"], &["x", "y"], &[vec![0.0, 0.0]], |v| {
            format!("{v}")
        });
        assert!(!is_no_data(&zeros) && zeros.matches(">\n0\n</text>").count() >= 2);
    }

    #[test]
    fn woe_bins_show_woe_and_share_per_bin() {
        let bins = [
            ("missing", -0.4, 0.05),
            ("[0, 10)", 0.7, 0.6),
            ("[10, +inf)", -0.9, 0.35),
        ];
        let svg = woe_bins("woe-dpd", "dpd", &bins);
        assert_figure(&svg, "woe-dpd", "Weight of evidence by bin: dpd");
        for text in [
            "-0.40",
            "0.70",
            "-0.90",
            "5.0%",
            "60.0%",
            "35.0%",
            "missing",
            "[0, 10)",
            "[10, +inf)",
            "Bin of dpd",
        ] {
            assert!(
                svg.contains(&format!(">\n{text}\n</text>")),
                "{text} in {svg}"
            );
        }
        assert!(is_no_data(&woe_bins("w", "dpd", &[])));
        assert!(is_no_data(&woe_bins(
            "w",
            "dpd",
            &[("a", f64::NAN, f64::NAN)]
        )));
        assert!(!is_no_data(&woe_bins("w", "dpd", &[("all", 0.0, 1.0)])));
    }

    #[test]
    fn ids_and_titles_are_escaped() {
        let svg = bars("a\"b<c", "x & y", &[("a", 1.0)], &[]);
        assert!(
            svg.starts_with("<svg id=\"a&quot;b&lt;c\" class=\"plot\""),
            "{svg}"
        );
        assert!(svg.contains("<title>x &amp; y</title>"));
    }

    #[test]
    fn the_same_data_gives_the_same_bytes() {
        let (first, ids) = demo_page();
        let (second, _) = demo_page();
        assert_eq!(first.render(), second.render());
        assert_eq!(ids.len(), 10);
    }

    #[test]
    fn formats() {
        assert_eq!(percent(0.1234), "12.3%");
        assert_eq!(percent(f64::NAN), "n/a");
        assert_eq!(count(1_234_567.0), "1,234,567");
        assert_eq!(count(-1234.0), "-1,234");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(0.0), "0");
        assert_eq!(decimal(0.12345), "0.123");
        assert_eq!(fmt_axis(0.2), "0.2");
        assert_eq!(fmt_axis(1000.0), "1,000");
        assert_eq!(fmt_axis(-0.0), "0");
        assert_eq!(fmt_axis(1e-17), "0");
        assert_eq!(fmt_percent_axis(0.25), "25%");
        assert_eq!(fmt_percent_axis(0.025), "2.5%");
        assert_eq!(fmt_value(0.1), "0.100");
        assert_eq!(fmt_value(12.345), "12.35");
        assert_eq!(fmt_value(612.0), "612");
        assert_eq!(fmt_value(1234.6), "1,235");
        assert_eq!(truncate("short"), "short");
        let psi = shared_format(&[0.0, 0.042, 0.3]);
        assert_eq!(
            (psi(0.0), psi(0.042)),
            ("0.000".to_owned(), "0.042".to_owned())
        );
        let counts = shared_format(&[0.0, 1200.0]);
        assert_eq!(
            (counts(0.0), counts(1200.0)),
            ("0".to_owned(), "1,200".to_owned())
        );
        assert_eq!(shared_format(&[12.5, 3.0])(3.0), "3.00");
        assert_eq!(shared_format(&[0.5])(f64::NAN), "n/a");
        assert_eq!(padded_range([2.0, 2.0].into_iter()), 1.8..2.2);
        assert_eq!(padded_range([0.0].into_iter()), -1.0..1.0);
        assert_eq!(padded_range(std::iter::empty()), 0.0..1.0);
    }
}
