//! The HTML checker shared by the report's unit tests (src/report/html.rs
//! includes this file) and the integration tests of the report pages: a
//! browser-grade HTML5 parse with exact errors, the elements of the tree,
//! and the offline-page checks of docs/report-html.md.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;

use html5ever::driver::ParseOpts;
use html5ever::tendril::TendrilSink;
use html5ever::tree_builder::TreeBuilderOpts;
use markup5ever_rcdom::{Handle, NodeData, RcDom};

/// An element: local name and attributes.
pub type Element = (String, BTreeMap<String, String>);

/// Parses with html5ever reporting exact errors, and returns the parse
/// errors and the DOM.
pub fn parse(html: &str) -> (Vec<String>, RcDom) {
    let opts = ParseOpts {
        tree_builder: TreeBuilderOpts {
            exact_errors: true,
            scripting_enabled: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let dom = html5ever::parse_document(RcDom::default(), opts)
        .from_utf8()
        .read_from(&mut html.as_bytes())
        .expect("reading from memory");
    let errors = dom.errors.borrow().iter().map(|e| e.to_string()).collect();
    (errors, dom)
}

/// Every element of the tree, as (local name, attributes), in document
/// order.
pub fn elements(dom: &RcDom) -> Vec<Element> {
    fn walk(node: &Handle, out: &RefCell<Vec<Element>>) {
        if let NodeData::Element { name, attrs, .. } = &node.data {
            let attrs = attrs
                .borrow()
                .iter()
                .map(|a| (a.name.local.to_string(), a.value.to_string()))
                .collect();
            out.borrow_mut().push((name.local.to_string(), attrs));
        }
        for child in node.children.borrow().iter() {
            walk(child, out);
        }
    }
    let out = RefCell::new(Vec::new());
    walk(&dom.document, &out);
    out.into_inner()
}

/// The ids of the page's `<svg>` figures, in document order.
pub fn figure_ids(elements: &[Element]) -> Vec<String> {
    elements
        .iter()
        .filter(|(n, _)| n == "svg")
        .filter_map(|(_, a)| a.get("id").cloned())
        .collect()
}

/// Panics unless `html` is an offline report page as docs/report-html.md
/// promises: no HTML5 parse error, one `<html lang="en">` with a utf-8
/// charset, each `<svg>` a figure with an id used once in the whole text,
/// nothing that loads from outside the page (no script, link, img, iframe,
/// `src`, non-anchor `href`, URL, `@import` or `url(`). Returns the ids of
/// the figures in document order.
pub fn check_offline_page(html: &str) -> Vec<String> {
    let (errors, dom) = parse(html);
    assert!(errors.is_empty(), "parse errors: {errors:?}");
    let elements = elements(&dom);
    let count = |name: &str| elements.iter().filter(|(n, _)| n == name).count();
    assert_eq!(count("html"), 1);
    let html_el = &elements
        .iter()
        .find(|(n, _)| n == "html")
        .expect("html element")
        .1;
    assert_eq!(html_el.get("lang").map(String::as_str), Some("en"));
    assert!(elements
        .iter()
        .any(|(n, a)| n == "meta" && a.get("charset").map(String::as_str) == Some("utf-8")));
    assert_eq!(
        count("script") + count("link") + count("img") + count("iframe"),
        0
    );
    let ids = figure_ids(&elements);
    assert_eq!(ids.len(), count("svg"), "every svg has an id");
    assert_eq!(count("figure"), ids.len(), "every svg is a figure");
    assert_eq!(count("figcaption"), ids.len());
    for id in &ids {
        assert_eq!(
            html.matches(&format!("id=\"{id}\"")).count(),
            1,
            "id {id} in the text"
        );
    }
    for (name, attrs) in &elements {
        for (key, value) in attrs {
            let value = value.to_ascii_lowercase();
            assert!(
                !(key == "src"
                    || key == "href" && !value.starts_with('#')
                    || key == "xmlns"
                    || key == "xlink:href"),
                "<{name} {key}=\"{value}\"> refers outside the page"
            );
        }
    }
    let lower = html.to_ascii_lowercase();
    for needle in [
        "http://", "https://", "src=", "<link", "<script", "url(", "@import", "//fonts",
    ] {
        assert!(!lower.contains(needle), "the page contains {needle}");
    }
    ids
}
