//! The threshold sweep as a small hand-written SVG line chart: precision
//! and recall (left axis, 0 to 1) and median lead time (right axis, days)
//! against `green_min`, with the targets dashed. No plotting dependency:
//! three polylines and some text.

use std::fmt::Write;

use super::metrics::Targets;

/// One sweep row.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub green_min: f64,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub lead_median_days: Option<f64>,
}

/// A line: its name, colour and where its value comes from (0 to 1).
type Series = (&'static str, &'static str, fn(&Point) -> Option<f64>);

const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 60.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
/// Top of the lead-time axis, in days.
const LEAD_MAX: f64 = 21.0;

/// The chart, as a complete SVG document.
pub fn plot(points: &[Point], targets: &Targets) -> String {
    let (x0, x1) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.green_min), b.max(p.green_min))
        });
    let (x0, x1) = if x0 < x1 {
        (x0, x1)
    } else {
        (x0 - 1.0, x0 + 1.0)
    };
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |y: f64| TOP + (1.0 - y.clamp(0.0, 1.0)) * (H - TOP - BOTTOM);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">vigil eval: band threshold sweep</text>"#,
        W / 2.0
    );
    // Axes and grid.
    for i in 0..=5 {
        let y = f64::from(i) / 5.0;
        let (xr, yy, tl, tr) = (W - RIGHT, py(y), LEFT - 6.0, W - RIGHT + 6.0);
        let (ty, days) = (yy + 4.0, y * LEAD_MAX);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{xr}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{tl}" y="{ty:.1}" text-anchor="end">{y:.1}</text><text x="{tr}" y="{ty:.1}">{days:.0}</text>"##
        );
    }
    for p in points {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            px(p.green_min),
            H - BOTTOM + 18.0,
            p.green_min
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">green_min (yellow_min moves with it)</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 12.0
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{0}" transform="rotate(-90 16 {0})" text-anchor="middle">precision, recall</text>"#,
        H / 2.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{0}" y="{1}" transform="rotate(90 {0} {1})" text-anchor="middle">median lead (days)</text>"#,
        W - 14.0,
        H / 2.0
    );
    // Targets.
    let dashed = |s: &mut String, y: f64, colour: &str| {
        let _ = writeln!(
            s,
            r#"<line x1="{LEFT}" x2="{}" y1="{1:.1}" y2="{1:.1}" stroke="{colour}" stroke-dasharray="4 4" stroke-opacity="0.6"/>"#,
            W - RIGHT,
            py(y)
        );
    };
    dashed(&mut s, targets.precision, "#1f77b4");
    dashed(&mut s, targets.recall, "#d62728");
    dashed(&mut s, targets.median_lead_days / LEAD_MAX, "#2ca02c");
    // Series.
    let series: [Series; 3] = [
        ("precision", "#1f77b4", |p| p.precision),
        ("recall", "#d62728", |p| p.recall),
        ("median lead", "#2ca02c", |p| {
            p.lead_median_days.map(|d| d / LEAD_MAX)
        }),
    ];
    for (k, (name, colour, get)) in series.iter().enumerate() {
        let pts: Vec<String> = points
            .iter()
            .filter_map(|p| get(p).map(|y| format!("{:.1},{:.1}", px(p.green_min), py(y))))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            pts.join(" ")
        );
        for xy in &pts {
            let (x, y) = xy.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(s, r#"<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>"#);
        }
        let lx = LEFT + 10.0 + 120.0 * k as f64;
        let (lx2, ly, tx, ty) = (lx + 20.0, TOP - 6.0, lx + 24.0, TOP - 2.0);
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" x2="{lx2}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{tx}" y="{ty}">{name}</text>"#
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plot_has_a_line_per_series_and_a_label_per_threshold() {
        let points = [50.0, 60.0, 70.0].map(|g| Point {
            green_min: g,
            precision: Some(0.9),
            recall: Some(g / 100.0),
            lead_median_days: Some(8.0),
        });
        let svg = plot(&points, &Targets::DEFAULT);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches("<circle").count(), 9);
        for g in ["50", "60", "70"] {
            assert!(svg.contains(&format!(">{g}</text>")), "{g}");
        }
    }
}
