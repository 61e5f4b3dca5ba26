//! The SVG chart of a run, drawn by hand from its results (no plotting dependency): two panels,
//! throughput and p95 latency, each a grouped bar chart of Fathom beside the baseline per
//! workload, on logarithmic axes (logins and reads differ by orders of magnitude), with every
//! bar labelled with its value.

use std::fmt::Write as _;

use crate::results::{Results, WorkloadResult};

const GROUP_WIDTH: f64 = 104.0;
const BAR_WIDTH: f64 = 34.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const PANEL_HEIGHT: f64 = 300.0;
const PLOT_TOP: f64 = 40.0;
const PLOT_HEIGHT: f64 = 190.0;
const HEADER: f64 = 64.0;
/// Characters per line of a workload's name under its bars.
const LABEL_WIDTH: usize = 18;
const FATHOM_COLOUR: &str = "#2563eb";
const BASELINE_COLOUR: &str = "#9ca3af";

/// Escapes text for SVG content and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A compact value label: 12.3k, 850, 42.1, 3.25, 0.412.
fn compact(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1}k", value / 1000.0)
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

fn decade_label(exponent: i32) -> String {
    if exponent >= 3 {
        format!("{}k", 10u64.pow((exponent - 3).unsigned_abs()))
    } else if exponent >= 0 {
        format!("{}", 10u64.pow(exponent.unsigned_abs()))
    } else {
        let places = exponent.unsigned_abs() as usize;
        format!("{:.places$}", 10f64.powi(exponent))
    }
}

/// One panel: `value` picks the figure of a summary.
struct Panel<'a> {
    title: &'a str,
    value: fn(&crate::report::Summary) -> f64,
}

/// The exponents of the decades that hold every positive value (at least one decade).
fn decades(values: &[f64]) -> (i32, i32) {
    let positive = values.iter().copied().filter(|v| *v > 0.0 && v.is_finite());
    let (min, max) = positive.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if min > max {
        return (0, 1);
    }
    let low = min.log10().floor() as i32;
    let high = (max.log10().ceil() as i32).max(low + 1);
    (low, high)
}

fn short_load(load: &str) -> String {
    load.replace("closed, ", "").replace("open, ", "open ")
}

/// `name` on at most two lines of at most `width` characters, broken between words; what does
/// not fit ends in an ellipsis.
fn wrap(name: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = vec![String::new()];
    for word in name.split_whitespace() {
        let current = lines.last().map_or(0, |l| l.chars().count());
        if current > 0 && current + 1 + word.chars().count() > width {
            lines.push(String::new());
        }
        if let Some(line) = lines.last_mut() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    if lines.len() > 2 {
        let rest = lines[1..].join(" ");
        lines.truncate(1);
        lines.push(rest);
    }
    for line in &mut lines {
        if line.chars().count() > width {
            *line = line.chars().take(width.saturating_sub(1)).collect();
            line.push('…');
        }
    }
    lines
}

fn draw_panel(svg: &mut String, panel: &Panel<'_>, workloads: &[WorkloadResult], top: f64) {
    let values: Vec<f64> = workloads
        .iter()
        .flat_map(|w| {
            std::iter::once((panel.value)(&w.fathom)).chain(w.baseline.as_ref().map(panel.value))
        })
        .collect();
    let (low, high) = decades(&values);
    let span = f64::from(high - low);
    let plot_top = top + PLOT_TOP;
    let plot_bottom = plot_top + PLOT_HEIGHT;
    let width = GROUP_WIDTH * workloads.len() as f64;
    let y_of = |value: f64| {
        if value <= 0.0 {
            return plot_bottom;
        }
        let fraction = ((value.log10() - f64::from(low)) / span).clamp(0.0, 1.0);
        plot_bottom - fraction * PLOT_HEIGHT
    };
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="{:.1}" class="title">{}</text>"#,
        top + 20.0,
        escape(panel.title)
    );
    for exponent in low..=high {
        let y = y_of(10f64.powi(exponent));
        let _ = writeln!(
            svg,
            r#"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="tick">{}</text>"#,
            LEFT + width,
            LEFT - 6.0,
            y + 4.0,
            decade_label(exponent)
        );
    }
    for (n, workload) in workloads.iter().enumerate() {
        let group_left = LEFT + GROUP_WIDTH * n as f64;
        let centre = group_left + GROUP_WIDTH / 2.0;
        let bars = [
            ("fathom", FATHOM_COLOUR, Some(&workload.fathom)),
            ("baseline", BASELINE_COLOUR, workload.baseline.as_ref()),
        ];
        for (slot, (class, colour, summary)) in bars.into_iter().enumerate() {
            let x = centre - BAR_WIDTH - 2.0 + slot as f64 * (BAR_WIDTH + 4.0);
            let Some(summary) = summary else {
                let _ = writeln!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" class="value">n/a</text>"#,
                    x + BAR_WIDTH / 2.0,
                    plot_bottom - 4.0
                );
                continue;
            };
            let value = (panel.value)(summary);
            let y = y_of(value).min(plot_bottom - 1.0);
            let _ = writeln!(
                svg,
                r#"<rect class="{class}" x="{x:.1}" y="{y:.1}" width="{BAR_WIDTH:.1}" height="{:.1}" fill="{colour}"><title>{} {}: {}</title></rect>"#,
                plot_bottom - y,
                escape(&workload.id),
                class,
                compact(value)
            );
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" class="value">{}</text>"#,
                x + BAR_WIDTH / 2.0,
                y - 4.0,
                compact(value)
            );
        }
        let mut label_lines = vec![workload.id.clone()];
        label_lines.extend(wrap(&workload.name, LABEL_WIDTH));
        label_lines.push(short_load(&workload.load));
        for (line, text) in label_lines.iter().enumerate() {
            let _ = writeln!(
                svg,
                r#"<text x="{centre:.1}" y="{:.1}" class="label">{}</text>"#,
                plot_bottom + 16.0 + 13.0 * line as f64,
                escape(text)
            );
        }
    }
    let _ = writeln!(
        svg,
        r#"<line x1="{LEFT}" y1="{plot_bottom:.1}" x2="{:.1}" y2="{plot_bottom:.1}" class="axis"/>"#,
        LEFT + width
    );
}

/// The chart of `results` as an SVG document.
pub fn render(results: &Results) -> String {
    let workloads = &results.workloads;
    let width = LEFT + GROUP_WIDTH * workloads.len().max(1) as f64 + RIGHT;
    let height = HEADER + 2.0 * PANEL_HEIGHT;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif">"#
    );
    svg.push_str(
        "<style>.title{font-size:14px;font-weight:bold}.tick{font-size:10px;text-anchor:end;fill:#444}\
         .value{font-size:9px;text-anchor:middle;fill:#111}.label{font-size:10px;text-anchor:middle;fill:#222}\
         .grid{stroke:#e5e7eb}.axis{stroke:#444}.note{font-size:11px;fill:#444}</style>\n",
    );
    let _ = writeln!(
        svg,
        r#"<rect x="0" y="0" width="{width:.0}" height="{height:.0}" fill="white"/>"#
    );
    let heading = format!(
        "Fathom vs bare baseline (axum + rusqlite): {} records, durability {}, {}",
        results.settings.records, results.settings.durability, results.date
    );
    let machine = format!(
        "{} CPUs, {}; the load generator on the same machine; load average {:.2} at start",
        results.machine.cpus, results.machine.cpu_model, results.machine.load_average
    );
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="20" class="title">{}</text><text x="{LEFT}" y="36" class="note">{}</text>"#,
        escape(&heading),
        escape(&machine)
    );
    let _ = writeln!(
        svg,
        r#"<rect x="{LEFT}" y="46" width="12" height="12" fill="{FATHOM_COLOUR}"/><text x="{:.0}" y="56" class="note">Fathom</text><rect x="{:.0}" y="46" width="12" height="12" fill="{BASELINE_COLOUR}"/><text x="{:.0}" y="56" class="note">baseline</text>"#,
        LEFT + 16.0,
        LEFT + 80.0,
        LEFT + 96.0
    );
    let panels = [
        Panel {
            title: "Throughput, requests per second (log scale; higher is better)",
            value: |s| s.throughput,
        },
        Panel {
            title: "p95 latency, milliseconds (log scale; lower is better)",
            value: |s| s.p95_ms,
        },
    ];
    for (n, panel) in panels.iter().enumerate() {
        draw_panel(&mut svg, panel, workloads, HEADER + PANEL_HEIGHT * n as f64);
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "version": 1,
      "date": "2026-11-22T07:00:00Z",
      "machine": {"cpus": 2, "cpu_model": "Test CPU", "memory_gib": 24.0, "os": "Debian", "kernel": "6", "load_average": 0.5},
      "settings": {"records": 100000, "seconds_per_workload": 10.0, "durability": "full", "baseline_readers": 4,
                   "users": 20, "auth_rate_limit_per_minute": 1000000, "lockout_threshold": 1000000, "fathom_environment": []},
      "fathom": {"idle_rss_mib": 12.0, "seeded_rss_mib": 30.0, "seeded_records": 100000, "seed_seconds": 5.0, "seed_method": "batch"},
      "baseline": {"idle_rss_mib": 6.0, "seeded_rss_mib": 8.0, "seeded_records": 100000, "seed_seconds": 1.0, "seed_method": "insert"},
      "workloads": [
        {"id": "W2", "name": "get by id", "load": "closed, 32 workers",
         "fathom": {"requests": 50000, "errors": 0, "seconds": 10.0, "throughput": 5000.0, "p50_ms": 5.0, "p95_ms": 9.0, "p99_ms": 12.0, "max_ms": 30.0, "rss_mib": 31.0, "first_error": null},
         "baseline": {"requests": 120000, "errors": 0, "seconds": 10.0, "throughput": 12000.0, "p50_ms": 2.0, "p95_ms": 4.0, "p99_ms": 6.0, "max_ms": 20.0, "rss_mib": 9.0, "first_error": null},
         "ratio": {"throughput": 0.4167, "p50": 2.5, "p95": 2.25, "p99": 2.0}},
        {"id": "W6", "name": "password logins <flood> & reads", "load": "closed, 16 workers",
         "fathom": {"requests": 400, "errors": 0, "seconds": 10.0, "throughput": 40.0, "p50_ms": 380.0, "p95_ms": 450.0, "p99_ms": 500.0, "max_ms": 700.0, "rss_mib": 60.0, "first_error": null},
         "baseline": null, "ratio": null}
      ],
      "targets": [], "skipped": [], "notes": []
    }"#;

    fn sample() -> Results {
        Results::from_json(SAMPLE).expect("the sample parses")
    }

    #[test]
    fn draws_a_bar_per_server_and_panel() {
        let svg = render(&sample());
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        // Two panels: Fathom bars for both workloads, baseline bars only where there is one.
        assert_eq!(svg.matches("<rect class=\"fathom\"").count(), 4);
        assert_eq!(svg.matches("<rect class=\"baseline\"").count(), 2);
        assert_eq!(svg.matches(">n/a</text>").count(), 2);
        // Values are labelled; text is escaped.
        assert!(svg.contains(">12.0k</text>"), "{svg}");
        assert!(svg.contains(">5000</text>"));
        assert!(svg.contains(">450</text>"));
        assert!(svg.contains(">password logins</text>"), "{svg}");
        assert!(svg.contains(">&lt;flood&gt; &amp; reads</text>"), "{svg}");
        assert!(!svg.contains("<flood>"));
        assert_eq!(render(&sample()), svg, "rendering is deterministic");
    }

    #[test]
    fn taller_bars_for_larger_values_on_a_log_axis() {
        let svg = render(&sample());
        let height_of = |class: &str, nth: usize| -> f64 {
            let tag = svg
                .match_indices(&format!("<rect class=\"{class}\""))
                .nth(nth)
                .map(|(at, _)| &svg[at..])
                .expect("bar");
            let start = tag.find("height=\"").expect("height") + 8;
            tag[start..start + tag[start..].find('"').expect("quote")]
                .parse()
                .expect("number")
        };
        // Throughput panel: baseline W2 (12000) over Fathom W2 (5000) over Fathom W6 (40).
        assert!(height_of("baseline", 0) > height_of("fathom", 0));
        assert!(height_of("fathom", 0) > height_of("fathom", 1));
    }

    #[test]
    fn names_wrap_on_two_lines() {
        assert_eq!(wrap("get by id", 18), ["get by id"]);
        assert_eq!(
            wrap("filtered, sorted page of 20", 18),
            ["filtered, sorted", "page of 20"]
        );
        assert_eq!(
            wrap("get by id, during the login flood", 18),
            ["get by id, during", "the login flood"]
        );
        assert_eq!(
            wrap("a very long name that needs three lines", 12),
            ["a very long", "name that n…"]
        );
    }

    #[test]
    fn decades_cover_the_values() {
        assert_eq!(decades(&[40.0, 12_000.0]), (1, 5));
        assert_eq!(decades(&[1.0, 1.0]), (0, 1));
        assert_eq!(decades(&[]), (0, 1));
        assert_eq!(decades(&[0.0, 0.25, 3.0]), (-1, 1));
        assert_eq!(decade_label(4), "10k");
        assert_eq!(decade_label(-1), "0.1");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(compact(0.4123), "0.412");
    }
}
