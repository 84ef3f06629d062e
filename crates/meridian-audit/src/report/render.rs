//! HTML and Markdown renderings of the report (minijinja templates embedded
//! in the binary), with bar charts laid out here and drawn as inline SVG.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use minijinja::value::{Serde, Value};
use minijinja::{
    AutoEscape, Environment, Error, Output, State, UndefinedBehavior, escape_formatter,
};
use serde::Serialize;

use super::{AuditReport, SECTIONS};
use crate::AuditError;

const HTML_TEMPLATE: &str = "report.html";
const MD_TEMPLATE: &str = "report.md";
/// The auto-escape mode of Markdown templates (see `markdown_formatter`).
const MARKDOWN: &str = "markdown";

static ENVIRONMENT: LazyLock<Result<Environment<'static>, Error>> =
    LazyLock::new(build_environment);

fn build_environment() -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    // A misspelt field is a test failure, not a blank cell in an auditor's copy.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // HTML for `.html` (minijinja's default), our own escaping for `.md`.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".md") {
            AutoEscape::Custom(MARKDOWN.into())
        } else {
            minijinja::default_auto_escape_callback(name)
        }
    });
    env.set_formatter(formatter);
    env.add_template(HTML_TEMPLATE, include_str!("../../templates/report.html"))?;
    env.add_template(MD_TEMPLATE, include_str!("../../templates/report.md"))?;
    Ok(env)
}

/// Writes `none` as an em dash in both formats, escapes strings for
/// Markdown table cells in `.md` templates, and otherwise defers to
/// minijinja's HTML escaping.
fn formatter(out: &mut Output<'_>, state: &mut State<'_, '_>, value: &Value) -> Result<(), Error> {
    if value.is_none() || value.is_undefined() {
        return out.write_str("—").map_err(Error::from);
    }
    if matches!(state.auto_escape(), AutoEscape::Custom(name) if name == MARKDOWN) {
        let text = value.to_string();
        let text = if value.is_safe() {
            text
        } else {
            escape_markdown(&text)
        };
        return out.write_str(&text).map_err(Error::from);
    }
    escape_formatter(out, state, value)
}

/// Escapes text for a Markdown table cell or paragraph: no markup, no HTML,
/// no line breaks (which would end a table row).
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Chart geometry, in SVG user units.
const WIDTH: u32 = 640;
const LABEL_WIDTH: u32 = 200;
const BAR_AREA: u32 = 340;
const ROW: u32 = 22;
const BAR: u32 = 14;
const TOP: u32 = 6;
const LEGEND: u32 = 22;

#[derive(Debug, Serialize)]
struct Segment {
    x: u32,
    width: u32,
    class: &'static str,
    value: u64,
}

#[derive(Debug, Serialize)]
struct Row {
    label: String,
    y: u32,
    text_y: u32,
    total: u64,
    value_x: u32,
    segments: Vec<Segment>,
}

#[derive(Debug, Serialize)]
struct LegendItem {
    class: &'static str,
    label: &'static str,
    x: u32,
    text_x: u32,
}

#[derive(Debug, Serialize)]
struct Chart {
    title: String,
    width: u32,
    height: u32,
    label_x: u32,
    legend_y: u32,
    legend_text_y: u32,
    rows: Vec<Row>,
    legend: Vec<LegendItem>,
    empty: bool,
}

/// Lays out a horizontal (stacked) bar chart: one row per label, one
/// segment per series, scaled to the largest row total.
fn chart(
    title: &str,
    series: &[(&'static str, &'static str)],
    data: Vec<(String, Vec<u64>)>,
) -> Chart {
    let max = data
        .iter()
        .map(|(_, v)| v.iter().sum::<u64>())
        .max()
        .unwrap_or(0);
    let scale = |v: u64| -> u32 {
        if max == 0 {
            return 0;
        }
        let w = u128::from(v) * u128::from(BAR_AREA) / u128::from(max);
        // A non-zero value stays visible.
        u32::try_from(w).unwrap_or(BAR_AREA).max(u32::from(v > 0))
    };
    let rows: Vec<Row> = data
        .into_iter()
        .enumerate()
        .map(|(i, (label, values))| {
            let y = TOP + u32::try_from(i).unwrap_or(0) * ROW;
            let mut x = LABEL_WIDTH + 10;
            let mut segments = Vec::new();
            for (value, (class, _)) in values.iter().zip(series) {
                let width = scale(*value);
                if width > 0 {
                    segments.push(Segment {
                        x,
                        width,
                        class,
                        value: *value,
                    });
                }
                x += width;
            }
            Row {
                label,
                y,
                text_y: y + BAR - 3,
                total: values.iter().sum(),
                value_x: x + 6,
                segments,
            }
        })
        .collect();
    let legend_y = TOP + u32::try_from(rows.len()).unwrap_or(0) * ROW + 4;
    let legend = series
        .iter()
        .enumerate()
        .map(|(i, (class, label))| {
            let x = LABEL_WIDTH + 10 + u32::try_from(i).unwrap_or(0) * 110;
            LegendItem {
                class,
                label,
                x,
                text_x: x + 16,
            }
        })
        .collect();
    Chart {
        title: title.to_owned(),
        width: WIDTH,
        height: legend_y + LEGEND,
        label_x: LABEL_WIDTH,
        legend_y,
        legend_text_y: legend_y + 10,
        empty: max == 0,
        rows,
        legend,
    }
}

fn charts(r: &AuditReport) -> BTreeMap<&'static str, Chart> {
    let mut c = BTreeMap::new();
    c.insert(
        "inventory",
        chart(
            "Rows held, by kind of data",
            &[("s-total", "rows")],
            r.data_inventory
                .items
                .iter()
                .map(|i| (i.category.clone(), vec![i.total]))
                .collect(),
        ),
    );
    c.insert(
        "models",
        chart(
            "Model calls in the period",
            &[("s-ok", "succeeded"), ("s-bad", "failed")],
            r.models
                .models
                .iter()
                .filter(|m| m.calls > 0)
                .map(|m| {
                    (
                        format!("{} ({})", m.name, m.role),
                        vec![m.calls - m.failed_calls, m.failed_calls],
                    )
                })
                .collect(),
        ),
    );
    c.insert(
        "policy",
        chart(
            "Decisions by determining policy",
            &[("s-ok", "allowed"), ("s-bad", "denied")],
            r.policy_decisions
                .by_rule
                .iter()
                .map(|l| (l.policy.clone(), vec![l.allowed, l.denied]))
                .collect(),
        ),
    );
    c.insert(
        "egress",
        chart(
            "Requests by host",
            &[
                ("s-ok", "completed"),
                ("s-warn", "failed"),
                ("s-bad", "denied"),
            ],
            r.egress
                .hosts
                .iter()
                .map(|h| {
                    (
                        h.host.clone(),
                        vec![
                            h.requests.saturating_sub(h.failed + h.denied),
                            h.failed,
                            h.denied,
                        ],
                    )
                })
                .collect(),
        ),
    );
    c.insert(
        "ai_label",
        chart(
            "Emails sent in the period",
            &[("s-ok", "labelled"), ("s-bad", "unlabelled")],
            vec![(
                "emails".to_owned(),
                vec![
                    r.ai_label.labelled,
                    r.ai_label.emails_sent.saturating_sub(r.ai_label.labelled),
                ],
            )],
        ),
    );
    c.insert(
        "delivery",
        chart(
            "Deliveries claimed in the period, by status",
            &[("s-total", "deliveries")],
            r.delivery
                .by_status
                .iter()
                .map(|s| (s.status.clone(), vec![s.in_period]))
                .collect(),
        ),
    );
    c.insert(
        "kinds",
        chart(
            "Audit records in the period, by kind",
            &[("s-total", "records")],
            r.integrity
                .records_by_kind
                .iter()
                .map(|k| (k.name.clone(), vec![k.count]))
                .collect(),
        ),
    );
    c
}

fn context(r: &AuditReport) -> Value {
    let titles: BTreeMap<&str, &str> = SECTIONS.iter().copied().collect();
    let coverage = r.ai_label.coverage.map(|c| format!("{:.1} %", c * 100.0));
    minijinja::context! {
        r => Value::from(Serde(r)),
        charts => Value::from(Serde(charts(r))),
        titles => Value::from(Serde(titles)),
        sections => Value::from(Serde(SECTIONS.iter().map(|(k, t)| [*k, *t]).collect::<Vec<_>>())),
        coverage => coverage,
    }
}

fn render(r: &AuditReport, template: &str) -> Result<String, AuditError> {
    let err = |e: Error| AuditError::Report {
        region: r.identity.region.clone(),
        reason: format!("{e:#}"),
    };
    let env = ENVIRONMENT.as_ref().map_err(|e| AuditError::Report {
        region: r.identity.region.clone(),
        reason: format!("templates: {e:#}"),
    })?;
    env.get_template(template)
        .and_then(|t| t.render(context(r)))
        .map_err(err)
}

pub(super) fn html(r: &AuditReport) -> Result<String, AuditError> {
    render(r, HTML_TEMPLATE)
}

pub(super) fn markdown(r: &AuditReport) -> Result<String, AuditError> {
    render(r, MD_TEMPLATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escaping_keeps_tables_intact() {
        assert_eq!(
            escape_markdown("a|b *c* <script>\nd"),
            "a\\|b \\*c\\* &lt;script&gt; d"
        );
    }

    #[test]
    fn bars_scale_to_the_largest_total_and_stay_visible() {
        let c = chart(
            "t",
            &[("s-ok", "ok"), ("s-bad", "bad")],
            vec![("a".into(), vec![100, 0]), ("b".into(), vec![1, 1])],
        );
        assert!(!c.empty);
        assert_eq!(c.rows[0].segments.len(), 1);
        assert_eq!(c.rows[0].segments[0].width, BAR_AREA);
        assert_eq!(
            c.rows[1]
                .segments
                .iter()
                .map(|s| s.width)
                .collect::<Vec<_>>(),
            vec![3, 3]
        );
        let none = chart("t", &[("s-ok", "ok")], vec![("a".into(), vec![0])]);
        assert!(none.empty);
    }
}
