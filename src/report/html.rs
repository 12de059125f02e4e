//! The offline HTML page of a report: one HTML5 document that opens from disk
//! with no network, its CSS in a `<style>` element and its figures as inline
//! SVG from [`super::plot`].
//!
//! [`Page`] collects headings, paragraphs, tables and figures in order and
//! [`Page::render`] writes the document. Every piece of text is escaped; the
//! page references nothing outside itself (no URL, no `src=`, no `<link>`, no
//! script), and a Content-Security-Policy meta element tells the browser to
//! load nothing even if it did. The same calls give the same bytes: there is
//! no date or random id in the page.
//!
//! It does not compute what it shows, draw plots (see [`super::plot`]) or
//! write the file (callers use [`crate::output::write_text`], which writes
//! atomically).

use std::fmt::Write as _;

/// Escapes text for HTML element content and double- or single-quoted
/// attribute values: `&`, `<`, `>`, `"` and `'`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTML report page under construction.
///
/// ```
/// use dunning::report::{html::Page, plot};
///
/// let mut page = Page::new("Validation of model m1");
/// page.heading(1, "Validation of model m1")
///     .paragraph("Validation set: 1,000 borrowers, 61% repaid.")
///     .table(&["Metric", "Value"], &[vec!["AUC".into(), "0.781".into()]])
///     .figure("Band mix", &plot::bars("band-mix", "Share", &[("A", 0.4), ("B", 0.6)], &[]));
/// let html = page.render();
/// assert!(html.starts_with("<!DOCTYPE html>"));
/// assert!(html.contains("<svg id=\"band-mix\""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    title: String,
    blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    Heading {
        level: u8,
        text: String,
    },
    Paragraph(String),
    Table {
        headers: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Figure {
        caption: String,
        svg: String,
    },
}

impl Page {
    /// A page with this document title (the browser tab's; add a level-1
    /// [`heading`](Self::heading) to show it on the page).
    pub fn new(title: impl Into<String>) -> Self {
        Page {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// Appends a heading; `level` is clamped to 1..=6. Level-2 headings are
    /// the sections: when there are three or more, a table of contents
    /// linking to them comes just before the first.
    pub fn heading(&mut self, level: u8, text: impl Into<String>) -> &mut Self {
        let level = level.clamp(1, 6);
        self.blocks.push(Block::Heading {
            level,
            text: text.into(),
        });
        self
    }

    /// Appends a paragraph of plain text.
    pub fn paragraph(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    /// Appends a table. A column whose cells all read as numbers (digits
    /// with an optional sign, separators, decimal point, exponent or `%`, or
    /// "n/a") is right-aligned in tabular figures. Rows shorter than the
    /// header are padded with empty cells.
    pub fn table(&mut self, headers: &[&str], rows: &[Vec<String>]) -> &mut Self {
        self.blocks.push(Block::Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: rows.to_vec(),
        });
        self
    }

    /// Appends a numbered figure: an SVG from [`super::plot`] and its caption.
    ///
    /// The SVG is inserted as markup, so it must come from [`super::plot`]
    /// (whose text is escaped); anything that is not an `<svg` element is
    /// shown as escaped text instead.
    pub fn figure(&mut self, caption: impl Into<String>, svg: &str) -> &mut Self {
        self.blocks.push(Block::Figure {
            caption: caption.into(),
            svg: svg.to_owned(),
        });
        self
    }

    /// The whole HTML5 document.
    pub fn render(&self) -> String {
        let mut out =
            String::with_capacity(4096 + self.blocks.iter().map(Block::len_hint).sum::<usize>());
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        out.push_str(CSP);
        let _ = writeln!(out, "<title>{}</title>", escape(&self.title));
        let _ = writeln!(out, "<style>\n{CSS}</style>\n</head>\n<body>\n<main>");
        let mut figures = 0;
        let mut sections = 0;
        for block in &self.blocks {
            match block {
                Block::Heading { level, text } => {
                    if *level == 2 {
                        if sections == 0 {
                            // The contents sit under the introduction, before
                            // the first section.
                            self.contents(&mut out);
                        }
                        sections += 1;
                        let _ =
                            writeln!(out, "<h2 id=\"section-{sections}\">{}</h2>", escape(text));
                    } else {
                        let _ = writeln!(out, "<h{level}>{}</h{level}>", escape(text));
                    }
                }
                Block::Paragraph(text) => {
                    let _ = writeln!(out, "<p>{}</p>", escape(text));
                }
                Block::Table { headers, rows } => table(&mut out, headers, rows),
                Block::Figure { caption, svg } => {
                    figures += 1;
                    out.push_str("<figure>\n");
                    if is_svg(svg) {
                        out.push_str(svg.trim());
                        out.push('\n');
                    } else {
                        let _ = writeln!(out, "<pre>{}</pre>", escape(svg));
                    }
                    let _ = writeln!(
                        out,
                        "<figcaption><span class=\"fig\">Figure {figures}.</span> {}</figcaption>\n</figure>",
                        escape(caption)
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "</main>\n<footer>Written by dunning {}. This page loads nothing from the network.</footer>\n</body>\n</html>",
            env!("CARGO_PKG_VERSION")
        );
        out
    }

    /// A list of links to the level-2 headings, when there are at least three.
    fn contents(&self, out: &mut String) {
        let sections: Vec<&str> = self
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Heading { level: 2, text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        if sections.len() < 3 {
            return;
        }
        out.push_str("<nav>\n<p class=\"nav-title\">Contents</p>\n<ol>\n");
        for (i, text) in sections.iter().enumerate() {
            let _ = writeln!(
                out,
                "<li><a href=\"#section-{}\">{}</a></li>",
                i + 1,
                escape(text)
            );
        }
        out.push_str("</ol>\n</nav>\n");
    }
}

impl Block {
    fn len_hint(&self) -> usize {
        match self {
            Block::Heading { text, .. } | Block::Paragraph(text) => text.len() + 16,
            Block::Table { rows, .. } => rows.iter().flatten().map(|c| c.len() + 10).sum(),
            Block::Figure { caption, svg } => caption.len() + svg.len() + 64,
        }
    }
}

/// Browsers load nothing that this policy does not allow: inline styles and
/// data: images only. (The page has neither scripts nor external resources;
/// the policy is a second lock.)
const CSP: &str = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n";

const CSS: &str = r#":root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #222;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "Liberation Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 32px 8px; background: #fff; }
h1 { font-size: 26px; margin: 8px 0 12px; }
h2 { font-size: 20px; margin: 32px 0 8px; padding-top: 8px; border-top: 1px solid #e3e3e3; }
h3 { font-size: 17px; margin: 24px 0 6px; }
h4, h5, h6 { font-size: 15px; margin: 18px 0 4px; }
p { margin: 6px 0 12px; max-width: 80ch; }
nav { background: #f6f7f9; border: 1px solid #e3e3e3; border-radius: 4px; padding: 8px 16px; margin: 12px 0 20px; display: inline-block; }
nav .nav-title { font-weight: 600; margin: 0 0 4px; }
nav ol { margin: 0; padding-left: 22px; }
a { color: #0b5fa5; }
table { border-collapse: collapse; margin: 8px 0 20px; font-size: 14px; }
th, td { padding: 4px 12px; border-bottom: 1px solid #e3e3e3; text-align: left; vertical-align: top; }
th { border-bottom: 2px solid #bbb; font-weight: 600; background: #fafafa; }
tbody tr:nth-child(even) { background: #fafbfc; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 12px 0 28px; padding: 8px; border: 1px solid #e3e3e3; border-radius: 4px; display: inline-block; max-width: calc(100% - 18px); background: #fff; vertical-align: top; }
figure svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "Liberation Sans", sans-serif; }
figcaption { font-size: 14px; color: #444; padding: 6px 4px 0; max-width: 80ch; }
figcaption .fig { font-weight: 600; color: #222; }
pre { white-space: pre-wrap; }
footer { max-width: 1120px; margin: 0 auto; padding: 12px 32px 24px; font-size: 13px; color: #666; }
@media print { body { background: #fff; } main { padding: 0; } figure { break-inside: avoid; } nav { display: none; } }
"#;

fn is_svg(markup: &str) -> bool {
    let markup = markup.trim();
    markup.starts_with("<svg ") && markup.ends_with("</svg>")
}

fn table(out: &mut String, headers: &[String], rows: &[Vec<String>]) {
    let width = rows
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .max(headers.len());
    let numeric: Vec<bool> = (0..width)
        .map(|j| {
            let mut cells = rows
                .iter()
                .filter_map(|r| r.get(j))
                .filter(|c| !c.trim().is_empty())
                .peekable();
            cells.peek().is_some() && cells.all(|c| is_number(c))
        })
        .collect();
    let class = |j: usize| if numeric[j] { " class=\"num\"" } else { "" };
    out.push_str("<table>\n<thead>\n<tr>");
    for j in 0..width {
        let header = headers.get(j).map_or("", String::as_str);
        let _ = write!(out, "<th scope=\"col\"{}>{}</th>", class(j), escape(header));
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for j in 0..width {
            let cell = row.get(j).map_or("", String::as_str);
            let _ = write!(out, "<td{}>{}</td>", class(j), escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Whether a table cell reads as a number: "1,234", "-0.5", "12.3%", "1e-4",
/// "+3", or "n/a" (a missing number).
fn is_number(cell: &str) -> bool {
    let cell = cell.trim();
    if cell.eq_ignore_ascii_case("n/a") {
        return true;
    }
    let cell = cell.strip_suffix('%').unwrap_or(cell).trim_end();
    let plain: String = cell
        .chars()
        .filter(|&c| c != ',' && c != '\u{202f}')
        .collect();
    !plain.is_empty() && plain.parse::<f64>().is_ok_and(f64::is_finite)
}

/// The HTML checker the integration tests use too.
#[cfg(test)]
#[path = "../../tests/common/html.rs"]
pub(crate) mod checker;

#[cfg(test)]
mod tests {
    use super::checker::{check_offline_page, elements, parse};
    use super::*;
    use crate::report::plot;
    use crate::report::plot::tests::demo_page;

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(
            escape(r#"<b class="x">Tom & 'Jerry'</b>"#),
            "&lt;b class=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
        assert_eq!(escape("plain text, ünïcode"), "plain text, ünïcode");
    }

    #[test]
    fn every_text_is_escaped() {
        let evil = "<script>alert('x')</script> & \"quotes\"";
        let mut page = Page::new(evil);
        page.heading(1, evil)
            .heading(2, evil)
            .paragraph(evil)
            .table(&[evil], &[vec![evil.to_owned()]])
            .figure(evil, "<script>not an svg</script>");
        let html = page.render();
        assert!(!html.contains("<script"), "{html}");
        assert_eq!(
            html.matches("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;")
                .count(),
            7
        );
        assert!(html.contains("<pre>&lt;script&gt;not an svg&lt;/script&gt;</pre>"));
        let (errors, dom) = parse(&html);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(!elements(&dom).iter().any(|(name, _)| name == "script"));
    }

    #[test]
    fn numeric_columns_are_right_aligned() {
        let mut page = Page::new("t");
        page.table(
            &["Band", "Borrowers", "Repay rate", "Note"],
            &[
                vec!["A".into(), "1,234".into(), "61.5%".into(), "best".into()],
                vec!["B".into(), "98".into(), "n/a".into(), "".into()],
                vec!["C".into(), "-3".into()],
            ],
        );
        let html = page.render();
        assert!(html.contains("<tr><th scope=\"col\">Band</th><th scope=\"col\" class=\"num\">Borrowers</th><th scope=\"col\" class=\"num\">Repay rate</th><th scope=\"col\">Note</th></tr>"), "{html}");
        assert!(
            html.contains(
                "<tr><td>C</td><td class=\"num\">-3</td><td class=\"num\"></td><td></td></tr>"
            ),
            "{html}"
        );
        assert!(is_number("1e-4") && is_number("+3") && is_number("0.5 %"));
        assert!(
            !is_number("A")
                && !is_number("1-30")
                && !is_number("")
                && !is_number("NaN")
                && !is_number("inf")
        );
    }

    #[test]
    fn contents_list_the_sections_when_there_are_three() {
        let mut page = Page::new("t");
        page.heading(2, "One").heading(2, "Two");
        assert!(!page.render().contains("<nav>"));
        page.heading(2, "Three & more").heading(9, "clamped");
        let html = page.render();
        assert!(html.contains("<li><a href=\"#section-3\">Three &amp; more</a></li>"));
        assert!(html.contains("<h2 id=\"section-3\">Three &amp; more</h2>"));
        assert!(html.contains("<h6>clamped</h6>"));
        let nav = html.find("<nav>").expect("contents");
        assert!(nav < html.find("<h2 id=\"section-1\">").expect("first section"));
        assert_eq!(html.matches("<nav>").count(), 1);
    }

    /// Acceptance test of issue 7: a page with each of the seven kinds of plot
    /// is valid HTML5 to a browser-grade parser, holds each figure exactly
    /// once, and references nothing on the network.
    #[test]
    fn a_page_with_every_plot_is_valid_offline_html() {
        let (page, ids) = demo_page();
        let html = page.render();
        // No parse error, lang and charset, every svg a captioned figure with
        // an id used once, nothing loaded from outside (tests/common/html.rs).
        assert_eq!(check_offline_page(&html), ids);

        let (_, dom) = parse(&html);
        let elements = elements(&dom);
        let count = |name: &str| elements.iter().filter(|(n, _)| n == name).count();
        assert_eq!(
            count("title"),
            1 + ids.len(),
            "the page's title and one per figure"
        );
        // Each plot drew something: axis text and shapes inside every svg.
        assert!(count("text") > 20 * ids.len());
    }

    #[test]
    fn rendering_twice_gives_the_same_bytes() {
        let (first, _) = demo_page();
        let (second, _) = demo_page();
        assert_eq!(first.render(), second.render());
        assert_eq!(first, second);
    }

    #[test]
    fn a_figure_keeps_its_no_data_svg() {
        let mut page = Page::new("t");
        page.figure("empty", &plot::roc("roc-empty", &[]));
        let html = page.render();
        let (errors, dom) = parse(&html);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(elements(&dom)
            .iter()
            .any(|(n, a)| n == "svg" && a.get("id").map(String::as_str) == Some("roc-empty")));
        assert!(html.contains("No data"));
    }
}
