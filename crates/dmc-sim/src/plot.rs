//! Learning-curve charts with confidence bands, rendered as SVG and as PNG.
//!
//! A [`Figure`] is a grid of [`Panel`]s; each panel plots one or more [`Series`], each a mean curve
//! with a band `[lo, hi]` around it (a confidence interval, or quantiles over seeds). One layout pass
//! turns the figure into a list of drawing primitives in pixel coordinates (lines, filled polygons,
//! discs, text), and two small back ends draw that same list: [`render_svg`] writes SVG elements,
//! [`render_png`] rasterizes into an RGB buffer and encodes a PNG. Both images therefore have the
//! same size ([`Figure::size`]) and the same geometry.
//!
//! # Why a built-in rasterizer and font
//!
//! Charts are made on fresh machines (CI, a new developer's box) where no system fonts, fontconfig
//! or C graphics libraries can be assumed, and a plotting crate that needs any of those would either
//! fail to build or render text as empty boxes. So this module carries everything itself: a 5x9
//! bitmap font covering printable ASCII (drawn by hand for this module), an anti-aliased rasterizer for
//! strokes, discs and polygons with alpha blending, and a PNG encoder (chunks and CRC-32 here, the
//! zlib stream from `flate2`, which is pure Rust). The SVG uses a generic monospace font sized so
//! that its advance matches the bitmap font's, so text lands in the same place in both outputs.
//!
//! # Degenerate input
//!
//! Nothing here panics on odd data: non-finite values are skipped (a point whose mean is NaN still
//! contributes its band, and the other way round), `lo > hi` is read as the interval between them,
//! points need not be sorted by `x`, and empty series, empty panels, a single point or all-equal
//! values give a sensible axis range instead of a division by zero.
//!
//! ```
//! use dmc_sim::plot::{render_png, render_svg, CurvePoint, Figure, Panel, Series};
//!
//! let points = (0..10).map(|i| {
//!     let x = f64::from(i);
//!     let mean = 1.0 - (-x / 3.0).exp();
//!     CurvePoint::new(x, mean, mean - 0.1, mean + 0.05)
//! });
//! let fig = Figure {
//!     title: "Learning curves".into(),
//!     columns: 1,
//!     panels: vec![Panel {
//!         title: "success rate".into(),
//!         x_label: "payments".into(),
//!         y_label: "rate".into(),
//!         series: vec![Series { name: "bimodal".into(), color: (31, 119, 180), points: points.collect() }],
//!     }],
//! };
//! assert!(render_svg(&fig).contains("bimodal"));
//! assert!(render_png(&fig).starts_with(b"\x89PNG"));
//! ```

/// A colour-blind-friendly default palette (the Tableau 10 order), for callers that have no colours
/// of their own.
pub const PALETTE: [(u8, u8, u8); 8] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
];

/// One x position of a curve: the mean and the band `[lo, hi]` around it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CurvePoint {
    /// Position on the x axis (e.g. the number of payments made so far).
    pub x: f64,
    /// The central value, drawn as the line.
    pub mean: f64,
    /// Lower edge of the band.
    pub lo: f64,
    /// Upper edge of the band.
    pub hi: f64,
}

impl CurvePoint {
    /// A point with mean `mean` and band `[lo, hi]` at `x`.
    pub fn new(x: f64, mean: f64, lo: f64, hi: f64) -> Self {
        CurvePoint { x, mean, lo, hi }
    }
}

/// One curve of a panel: a named, coloured mean line with its band.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Shown in the panel's legend.
    pub name: String,
    /// Line, marker and (translucent) band colour, as RGB.
    pub color: (u8, u8, u8),
    /// The curve's points, in any order (they are sorted by `x` for drawing).
    pub points: Vec<CurvePoint>,
}

/// One chart: axes, the series drawn on them, a legend, a title and axis labels.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    /// Drawn above the plot area.
    pub title: String,
    /// Drawn below the x axis.
    pub x_label: String,
    /// Drawn, rotated, left of the y axis.
    pub y_label: String,
    /// The curves, drawn in order (later ones on top).
    pub series: Vec<Series>,
}

/// A grid of panels under an optional title.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figure {
    /// Drawn across the top; an empty (or blank) title takes no space.
    pub title: String,
    /// Laid out left to right, then top to bottom.
    pub panels: Vec<Panel>,
    /// Panels per row; 0 is read as 1, and more columns than panels as one row.
    pub columns: usize,
}

impl Figure {
    /// Width and height in pixels of the rendered figure, the same for [`render_svg`] and
    /// [`render_png`].
    pub fn size(&self) -> (u32, u32) {
        let grid = Grid::of(self);
        (grid.width, grid.height)
    }
}

/// Renders `fig` as a standalone SVG document.
pub fn render_svg(fig: &Figure) -> String {
    svg::write(&layout(fig))
}

/// Renders `fig` as an 8-bit RGB PNG file.
pub fn render_png(fig: &Figure) -> Vec<u8> {
    let scene = layout(fig);
    let canvas = raster::draw(&scene);
    png_file::encode(scene.width, scene.height, &canvas.rgb)
}

type Rgb = (u8, u8, u8);

/// Width of one panel's cell in the grid.
const CELL_W: f64 = 560.0;
/// Height of one panel's cell in the grid.
const CELL_H: f64 = 400.0;
/// Height of the figure title's strip, when there is a title.
const FIG_TITLE_H: f64 = 48.0;
/// Scale of the bitmap font for titles, labels, ticks and legend (5x9 glyphs become 10x18).
const TEXT_SCALE: u32 = 2;
/// Scale of the bitmap font for the figure title.
const FIG_TITLE_SCALE: u32 = 3;
/// Opacity of the bands.
const BAND_ALPHA: f64 = 0.22;
/// Width of the mean lines, in pixels.
const LINE_WIDTH: f64 = 2.5;
/// Radius of the point markers, in pixels.
const MARKER_RADIUS: f64 = 3.5;
/// Length of the tick marks outside the plot area.
const TICK_LEN: f64 = 5.0;
/// Width of a plot area's band drawn for a single point (where a band has no width).
const SINGLE_BAND_W: f64 = 8.0;

const WHITE: Rgb = (255, 255, 255);
const TEXT_COLOR: Rgb = (34, 34, 34);
const AXIS_COLOR: Rgb = (68, 68, 68);
const GRID_COLOR: Rgb = (230, 230, 230);
const LEGEND_BORDER: Rgb = (200, 200, 200);

/// Where the panels go: the number of columns and rows actually used and the overall size.
struct Grid {
    columns: usize,
    top: f64,
    width: u32,
    height: u32,
}

impl Grid {
    fn of(fig: &Figure) -> Grid {
        let n = fig.panels.len();
        let columns = fig.columns.clamp(1, n.max(1));
        let rows = n.div_ceil(columns).max(1);
        let top = if fig.title.trim().is_empty() { 0.0 } else { FIG_TITLE_H };
        Grid {
            columns,
            top,
            width: (columns as f64 * CELL_W) as u32,
            height: (top + rows as f64 * CELL_H) as u32,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Layout: the figure as drawing primitives in pixel coordinates (origin top left, y down).
// ---------------------------------------------------------------------------------------------------------------

/// Where a text's anchor point sits along the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Start,
    Middle,
    End,
}

/// A line of text in the bitmap font's metrics: `(x, y)` is the anchor point on the top edge of the
/// glyph cells (for vertical text, which reads bottom to top, on their left edge).
#[derive(Debug, Clone)]
struct Text {
    x: f64,
    y: f64,
    text: String,
    scale: u32,
    anchor: Anchor,
    vertical: bool,
    bold: bool,
    color: Rgb,
}

#[derive(Debug, Clone)]
enum Item {
    /// An axis-aligned rectangle, filled and/or outlined.
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: Option<(Rgb, f64)>,
        stroke: Option<(Rgb, f64)>,
    },
    /// A straight stroke with round caps: grid lines, ticks, legend swatches.
    Segment {
        from: (f64, f64),
        to: (f64, f64),
        color: Rgb,
        width: f64,
    },
    /// A series' mean line, with round joins.
    Polyline {
        points: Vec<(f64, f64)>,
        color: Rgb,
        width: f64,
    },
    /// A series' band, filled translucently.
    Polygon {
        points: Vec<(f64, f64)>,
        color: Rgb,
        alpha: f64,
    },
    /// A point marker.
    Circle {
        center: (f64, f64),
        radius: f64,
        color: Rgb,
    },
    Text(Text),
}

/// The laid-out figure.
struct Scene {
    width: u32,
    height: u32,
    items: Vec<Item>,
    /// Each panel's plot area, in panel order (the tests use it to find where things were drawn).
    #[cfg_attr(not(test), allow(dead_code))]
    plots: Vec<PlotArea>,
}

/// One axis: the visible value range and the ticks inside it.
#[derive(Debug, Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    labels: Vec<String>,
}

impl Axis {
    /// An axis showing `range` (None when there is no data) with about `target` nice ticks.
    fn nice(range: Option<(f64, f64)>, target: usize) -> Axis {
        let (mut lo, mut hi) = range.unwrap_or((0.0, 1.0));
        if hi - lo <= lo.abs().max(hi.abs()) * 1e-12 {
            // All values (nearly) equal: show a window around them.
            let mid = lo / 2.0 + hi / 2.0;
            let pad = if mid == 0.0 { 1.0 } else { mid.abs() * 0.1 };
            (lo, hi) = (mid - pad, mid + pad);
        }
        // A margin of 4% of the span on both sides keeps markers off the frame. Halves keep the
        // arithmetic finite even for values near f64::MAX.
        let margin = (hi / 2.0 - lo / 2.0) * 0.08;
        let view_lo = if (lo - margin).is_finite() { lo - margin } else { lo };
        let view_hi = if (hi + margin).is_finite() { hi + margin } else { hi };
        let t = target.max(1) as f64;
        let step = nice_step(view_hi / t - view_lo / t);
        let ticks = step
            .and_then(|step| {
                let first = (view_lo / step).ceil();
                let last = (view_hi / step).floor();
                let n = last - first;
                (n.is_finite() && (0.0..=50.0).contains(&n)).then(|| {
                    (0..=n as usize)
                        .map(|k| {
                            let v = (first + k as f64) * step;
                            if v.abs() < step * 1e-9 {
                                0.0
                            } else {
                                v
                            }
                        })
                        .collect()
                })
            })
            .unwrap_or_else(|| vec![lo, hi]);
        let labels = tick_labels(&ticks, step);
        Axis {
            lo: view_lo,
            hi: view_hi,
            ticks,
            labels,
        }
    }

    /// Where `v` falls in the visible range, from 0 (at `lo`) to 1 (at `hi`), clamped.
    fn fraction(&self, v: f64) -> f64 {
        let t = (v / 2.0 - self.lo / 2.0) / (self.hi / 2.0 - self.lo / 2.0);
        if t.is_nan() {
            0.5
        } else {
            t.clamp(0.0, 1.0)
        }
    }
}

/// The "nice" step (1, 2, 2.5 or 5 times a power of ten) at or above `raw`.
fn nice_step(raw: f64) -> Option<f64> {
    if !(raw > 0.0 && raw.is_finite()) {
        return None;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let mult = [1.0, 2.0, 2.5, 5.0]
        .into_iter()
        .find(|&m| norm <= m * (1.0 + 1e-9))
        .unwrap_or(10.0);
    let step = mult * magnitude;
    (step > 0.0 && step.is_finite()).then_some(step)
}

/// Labels for `ticks` with the fewest decimals that still tell them apart, in scientific notation
/// for very large or very small magnitudes.
fn tick_labels(ticks: &[f64], step: Option<f64>) -> Vec<String> {
    let max_abs = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let scientific = max_abs >= 1e6 || (max_abs > 0.0 && max_abs < 1e-4);
    let tolerance = step.unwrap_or(max_abs) * 1e-3;
    let format = |t: f64, precision: usize| {
        if scientific && t != 0.0 {
            format!("{t:.precision$e}")
        } else {
            format!("{t:.precision$}")
        }
    };
    (0..=12)
        .map(|precision| ticks.iter().map(|&t| format(t, precision)).collect::<Vec<_>>())
        .find(|labels| {
            labels
                .iter()
                .zip(ticks)
                .all(|(label, &t)| label.parse::<f64>().is_ok_and(|v| (v - t).abs() <= tolerance))
        })
        .unwrap_or_else(|| ticks.iter().map(|t| format!("{t:e}")).collect())
}

/// Width in pixels of `text` in the bitmap font at `scale` (6 px advance, no trailing gap).
fn text_width(text: &str, scale: u32) -> f64 {
    let n = text.chars().count() as f64;
    ((n * 6.0 - 1.0) * f64::from(scale)).max(0.0)
}

/// `text`, shortened with "..." so that it is at most `max_w` pixels wide at `scale`.
fn fit(text: &str, max_w: f64, scale: u32) -> String {
    if text_width(text, scale) <= max_w {
        return text.to_string();
    }
    let max_chars = ((max_w / f64::from(scale) + 1.0) / 6.0).floor().max(0.0) as usize;
    if max_chars <= 3 {
        return text.chars().take(max_chars).collect();
    }
    text.chars().take(max_chars - 3).chain("...".chars()).collect()
}

/// A series' drawable data: finite values only, sorted by x, bands with `lo <= hi`.
struct Curve<'a> {
    name: &'a str,
    color: Rgb,
    /// `(x, mean)`.
    line: Vec<(f64, f64)>,
    /// `(x, lo, hi)`.
    band: Vec<(f64, f64, f64)>,
}

impl<'a> Curve<'a> {
    fn new(series: &'a Series) -> Self {
        let finite = |p: &&CurvePoint| p.x.is_finite();
        let mut line: Vec<(f64, f64)> = series
            .points
            .iter()
            .filter(finite)
            .filter(|p| p.mean.is_finite())
            .map(|p| (p.x, p.mean))
            .collect();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut band: Vec<(f64, f64, f64)> = series
            .points
            .iter()
            .filter(finite)
            .filter(|p| p.lo.is_finite() && p.hi.is_finite())
            .map(|p| (p.x, p.lo.min(p.hi), p.lo.max(p.hi)))
            .collect();
        band.sort_by(|a, b| a.0.total_cmp(&b.0));
        Curve {
            name: &series.name,
            color: series.color,
            line,
            band,
        }
    }
}

/// The smallest range holding all `values`, or None if there are none.
fn range_of(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |r, v| match r {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A panel's plot area in pixels and its axes.
#[derive(Debug, Clone)]
struct PlotArea {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
    x: Axis,
    y: Axis,
}

impl PlotArea {
    /// The pixel position of the data point `(x, y)`, clamped into the plot area.
    fn map(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.left + self.x.fraction(x) * (self.right - self.left),
            self.bottom - self.y.fraction(y) * (self.bottom - self.top),
        )
    }
}

/// Lays out the whole figure.
fn layout(fig: &Figure) -> Scene {
    let grid = Grid::of(fig);
    let mut scene = Scene {
        width: grid.width,
        height: grid.height,
        items: Vec::new(),
        plots: Vec::new(),
    };
    let (w, h) = (f64::from(grid.width), f64::from(grid.height));
    scene.items.push(Item::Rect {
        x: 0.0,
        y: 0.0,
        w,
        h,
        fill: Some((WHITE, 1.0)),
        stroke: None,
    });
    if grid.top > 0.0 {
        // A long title steps down to the label size before it is shortened.
        let title = fig.title.trim();
        let scale = if text_width(title, FIG_TITLE_SCALE) <= w - 24.0 {
            FIG_TITLE_SCALE
        } else {
            TEXT_SCALE
        };
        scene.items.push(Item::Text(Text {
            x: w / 2.0,
            y: if scale == FIG_TITLE_SCALE { 12.0 } else { 16.0 },
            text: fit(title, w - 24.0, scale),
            scale,
            anchor: Anchor::Middle,
            vertical: false,
            bold: true,
            color: TEXT_COLOR,
        }));
    }
    for (i, panel) in fig.panels.iter().enumerate() {
        let (col, row) = (i % grid.columns, i / grid.columns);
        let origin = (col as f64 * CELL_W, grid.top + row as f64 * CELL_H);
        layout_panel(panel, origin, &mut scene);
    }
    scene
}

/// Text in the default style (labels, ticks, legend).
fn label(x: f64, y: f64, text: String, anchor: Anchor) -> Text {
    Text {
        x,
        y,
        text,
        scale: TEXT_SCALE,
        anchor,
        vertical: false,
        bold: false,
        color: TEXT_COLOR,
    }
}

/// Lays out one panel in the cell whose top left corner is `(cx, cy)`.
fn layout_panel(panel: &Panel, (cx, cy): (f64, f64), scene: &mut Scene) {
    let s = f64::from(TEXT_SCALE);
    let line_h = 9.0 * s; // glyph cell height, descenders included
    let cap_h = 7.0 * s;
    let curves: Vec<Curve> = panel.series.iter().map(Curve::new).collect();
    let xs = curves
        .iter()
        .flat_map(|c| c.line.iter().map(|p| p.0).chain(c.band.iter().map(|b| b.0)));
    let ys = curves
        .iter()
        .flat_map(|c| c.line.iter().map(|p| p.1).chain(c.band.iter().flat_map(|b| [b.1, b.2])));
    let (x_range, y_range) = (range_of(xs), range_of(ys));

    let top = (cy + 12.0 + line_h + 10.0).round();
    let bottom = (cy + CELL_H - 12.0 - line_h - 8.0 - line_h - 5.0 - TICK_LEN).round();
    let y_axis = Axis::nice(y_range, ((bottom - top) / 48.0).clamp(2.0, 8.0) as usize);
    let widest_y = y_axis
        .labels
        .iter()
        .map(|l| text_width(l, TEXT_SCALE))
        .fold(0.0, f64::max);
    let left = (cx + 12.0 + line_h + 10.0 + widest_y + 5.0 + TICK_LEN)
        .min(cx + CELL_W / 2.0)
        .round();
    let right = (cx + CELL_W - 20.0).round();
    let x_axis = fit_x_axis(x_range, right - left);
    let area = PlotArea {
        left,
        top,
        right,
        bottom,
        x: x_axis,
        y: y_axis,
    };
    let items = &mut scene.items;

    // Grid lines, on pixel centres so they stay crisp.
    let snap = |v: f64| v.floor() + 0.5;
    for &t in &area.x.ticks {
        let x = snap(area.map(t, 0.0).0);
        items.push(Item::Segment {
            from: (x, top),
            to: (x, bottom),
            color: GRID_COLOR,
            width: 1.0,
        });
    }
    for &t in &area.y.ticks {
        let y = snap(area.map(0.0, t).1);
        items.push(Item::Segment {
            from: (left, y),
            to: (right, y),
            color: GRID_COLOR,
            width: 1.0,
        });
    }

    // Bands under all lines, then lines, then markers.
    for curve in &curves {
        match curve.band.as_slice() {
            [] => {}
            [(x, lo, hi)] => {
                let (px, y_lo) = area.map(*x, *lo);
                let y_hi = area.map(*x, *hi).1;
                items.push(Item::Rect {
                    x: px - SINGLE_BAND_W / 2.0,
                    y: y_hi,
                    w: SINGLE_BAND_W,
                    h: y_lo - y_hi,
                    fill: Some((curve.color, BAND_ALPHA)),
                    stroke: None,
                });
            }
            band => {
                let upper = band.iter().map(|&(x, _, hi)| area.map(x, hi));
                let lower = band.iter().rev().map(|&(x, lo, _)| area.map(x, lo));
                let points = upper.chain(lower).collect();
                items.push(Item::Polygon {
                    points,
                    color: curve.color,
                    alpha: BAND_ALPHA,
                });
            }
        }
    }
    for curve in curves.iter().filter(|c| !c.line.is_empty()) {
        let points = curve.line.iter().map(|&(x, y)| area.map(x, y)).collect();
        items.push(Item::Polyline {
            points,
            color: curve.color,
            width: LINE_WIDTH,
        });
    }
    for curve in &curves {
        for &(x, y) in &curve.line {
            items.push(Item::Circle {
                center: area.map(x, y),
                radius: MARKER_RADIUS,
                color: curve.color,
            });
        }
    }

    // Frame, ticks and tick labels.
    items.push(Item::Rect {
        x: left + 0.5,
        y: top + 0.5,
        w: right - left - 1.0,
        h: bottom - top - 1.0,
        fill: None,
        stroke: Some((AXIS_COLOR, 1.0)),
    });
    for (&t, text) in area.x.ticks.iter().zip(&area.x.labels) {
        let x = snap(area.map(t, 0.0).0);
        items.push(Item::Segment {
            from: (x, bottom),
            to: (x, bottom + TICK_LEN),
            color: AXIS_COLOR,
            width: 1.0,
        });
        items.push(Item::Text(label(
            x,
            bottom + TICK_LEN + 5.0,
            text.clone(),
            Anchor::Middle,
        )));
    }
    for (&t, text) in area.y.ticks.iter().zip(&area.y.labels) {
        let y = snap(area.map(0.0, t).1);
        items.push(Item::Segment {
            from: (left - TICK_LEN, y),
            to: (left, y),
            color: AXIS_COLOR,
            width: 1.0,
        });
        items.push(Item::Text(label(
            left - TICK_LEN - 5.0,
            y - cap_h / 2.0,
            text.clone(),
            Anchor::End,
        )));
    }

    // Title and axis labels.
    let mid_x = (left + right) / 2.0;
    let title = fit(panel.title.trim(), CELL_W - 24.0, TEXT_SCALE);
    items.push(Item::Text(Text {
        bold: true,
        ..label(mid_x, cy + 12.0, title, Anchor::Middle)
    }));
    let x_label = fit(panel.x_label.trim(), right - left, TEXT_SCALE);
    items.push(Item::Text(label(
        mid_x,
        cy + CELL_H - 12.0 - line_h,
        x_label,
        Anchor::Middle,
    )));
    let y_label = fit(panel.y_label.trim(), bottom - top, TEXT_SCALE);
    items.push(Item::Text(Text {
        vertical: true,
        ..label(cx + 12.0, (top + bottom) / 2.0, y_label, Anchor::Middle)
    }));

    layout_legend(&curves, &area, items);
    scene.plots.push(area);
}

/// The x axis with as many ticks as fit without their labels touching.
fn fit_x_axis(range: Option<(f64, f64)>, width: f64) -> Axis {
    let fits = |axis: &Axis| {
        let widest = axis
            .labels
            .iter()
            .map(|l| text_width(l, TEXT_SCALE))
            .fold(0.0, f64::max);
        match axis.ticks.as_slice() {
            [a, b, ..] => (axis.fraction(*b) - axis.fraction(*a)) * width >= widest + 12.0,
            _ => true,
        }
    };
    let mut axis = Axis::nice(range, 8);
    for target in (2..8).rev() {
        if fits(&axis) {
            break;
        }
        axis = Axis::nice(range, target);
    }
    axis
}

/// Puts the legend in the corner of the plot area that covers the fewest data points.
fn layout_legend(curves: &[Curve], area: &PlotArea, items: &mut Vec<Item>) {
    if curves.is_empty() {
        return;
    }
    let s = f64::from(TEXT_SCALE);
    let (pad, swatch_w, gap, row_h, inset) = (8.0, 28.0, 8.0, 10.0 * s, 8.0);
    let max_text_w = (area.right - area.left) - 2.0 * inset - 2.0 * pad - swatch_w - gap;
    let names: Vec<String> = curves.iter().map(|c| fit(c.name, max_text_w, TEXT_SCALE)).collect();
    let text_w = names.iter().map(|n| text_width(n, TEXT_SCALE)).fold(0.0, f64::max);
    let w = pad + swatch_w + gap + text_w + pad;
    let h = 2.0 * pad + names.len() as f64 * row_h - (row_h - 7.0 * s);

    // Sample the curves: the band edges, and the mean line densely (it is what the legend would hide).
    let mut samples = Vec::new();
    for curve in curves {
        samples.extend(
            curve
                .band
                .iter()
                .flat_map(|&(x, lo, hi)| [area.map(x, lo), area.map(x, hi)]),
        );
        samples.extend(curve.line.iter().map(|&(x, y)| area.map(x, y)));
        for pair in curve.line.windows(2) {
            let (a, b) = (area.map(pair[0].0, pair[0].1), area.map(pair[1].0, pair[1].1));
            samples.extend((1..8).map(|k| {
                let t = f64::from(k) / 8.0;
                (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
            }));
        }
    }
    let corners = [
        (area.right - inset - w, area.top + inset),
        (area.left + inset, area.top + inset),
        (area.left + inset, area.bottom - inset - h),
        (area.right - inset - w, area.bottom - inset - h),
    ];
    let covered = |&(x, y): &(f64, f64)| {
        samples
            .iter()
            .filter(|p| p.0 >= x - 4.0 && p.0 <= x + w + 4.0 && p.1 >= y - 4.0 && p.1 <= y + h + 4.0)
            .count()
    };
    // min_by_key keeps the first of equal corners, so ties go to the top right.
    let (x, y) = corners.iter().copied().min_by_key(covered).unwrap_or(corners[0]);
    let (x, y) = (x.round(), y.round());

    items.push(Item::Rect {
        x: x + 0.5,
        y: y + 0.5,
        w,
        h,
        fill: Some((WHITE, 0.88)),
        stroke: Some((LEGEND_BORDER, 1.0)),
    });
    for (i, (curve, name)) in curves.iter().zip(names).enumerate() {
        let row_top = y + pad + i as f64 * row_h;
        let mid = row_top + 3.5 * s;
        let (sx, ex) = (x + pad, x + pad + swatch_w);
        let band = Some((curve.color, BAND_ALPHA));
        items.push(Item::Rect {
            x: sx,
            y: mid - 6.0,
            w: swatch_w,
            h: 12.0,
            fill: band,
            stroke: None,
        });
        items.push(Item::Segment {
            from: (sx, mid),
            to: (ex, mid),
            color: curve.color,
            width: LINE_WIDTH,
        });
        items.push(Item::Circle {
            center: ((sx + ex) / 2.0, mid),
            radius: MARKER_RADIUS,
            color: curve.color,
        });
        items.push(Item::Text(label(ex + gap, row_top, name, Anchor::Start)));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// SVG back end.
// ---------------------------------------------------------------------------------------------------------------

mod svg {
    use super::{text_width, Anchor, Item, Rgb, Scene, Text};
    use std::fmt::Write as _;

    /// The scene as an SVG document; text uses a monospace font whose advance (0.6 em at a size of
    /// 10 px per font scale step) matches the bitmap font's 6 px.
    pub(super) fn write(scene: &Scene) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let (w, h) = (scene.width, scene.height);
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">"#
        );
        for item in &scene.items {
            item_svg(&mut out, item);
            out.push('\n');
        }
        out.push_str("</svg>\n");
        out
    }

    fn item_svg(out: &mut String, item: &Item) {
        // Writing to a String cannot fail, so the fmt::Results below are ignored.
        match item {
            Item::Rect {
                x,
                y,
                w,
                h,
                fill,
                stroke,
            } => {
                let _ = write!(
                    out,
                    r#"<rect x="{}" y="{}" width="{}" height="{}""#,
                    num(*x),
                    num(*y),
                    num(*w),
                    num(*h)
                );
                match fill {
                    Some((color, alpha)) => {
                        let _ = write!(out, r#" fill="{}""#, hex(*color));
                        if *alpha < 1.0 {
                            let _ = write!(out, r#" fill-opacity="{}""#, num(*alpha));
                        }
                    }
                    None => out.push_str(r#" fill="none""#),
                }
                if let Some((color, width)) = stroke {
                    let _ = write!(out, r#" stroke="{}" stroke-width="{}""#, hex(*color), num(*width));
                }
                out.push_str("/>");
            }
            Item::Segment { from, to, color, width } => {
                let _ = write!(
                    out,
                    r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="{}" stroke-linecap="round"/>"#,
                    num(from.0),
                    num(from.1),
                    num(to.0),
                    num(to.1),
                    hex(*color),
                    num(*width)
                );
            }
            Item::Polyline { points, color, width } => {
                let coords: Vec<String> = points.iter().map(|p| format!("{},{}", num(p.0), num(p.1))).collect();
                let _ = write!(
                    out,
                    r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="{}" stroke-linejoin="round" stroke-linecap="round"/>"#,
                    coords.join(" "),
                    hex(*color),
                    num(*width)
                );
            }
            Item::Polygon { points, color, alpha } => {
                let mut d = String::new();
                for (i, p) in points.iter().enumerate() {
                    let _ = write!(d, "{}{} {} ", if i == 0 { 'M' } else { 'L' }, num(p.0), num(p.1));
                }
                d.push('Z');
                let _ = write!(
                    out,
                    r#"<path d="{d}" fill="{}" fill-opacity="{}"/>"#,
                    hex(*color),
                    num(*alpha)
                );
            }
            Item::Circle { center, radius, color } => {
                let _ = write!(
                    out,
                    r#"<circle cx="{}" cy="{}" r="{}" fill="{}"/>"#,
                    num(center.0),
                    num(center.1),
                    num(*radius),
                    hex(*color)
                );
            }
            Item::Text(text) => text_svg(out, text),
        }
    }

    fn text_svg(out: &mut String, t: &Text) {
        if t.text.is_empty() {
            return;
        }
        let s = f64::from(t.scale);
        let anchor = match t.anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        // The bitmap font's baseline is 7 rows below the top of its cells.
        let (x, y) = if t.vertical {
            (t.x + 7.0 * s, t.y)
        } else {
            (t.x, t.y + 7.0 * s)
        };
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" font-size="{}" fill="{}" text-anchor="{anchor}""#,
            num(x),
            num(y),
            num(10.0 * s),
            hex(t.color)
        );
        if t.bold {
            out.push_str(r#" font-weight="bold""#);
        }
        if t.vertical {
            let _ = write!(out, r#" transform="rotate(-90 {} {})""#, num(x), num(y));
        }
        // Pin the text's length to the bitmap font's, so a fallback font with another advance still lines up.
        let _ = write!(
            out,
            r#" textLength="{}" lengthAdjust="spacingAndGlyphs">"#,
            num(text_width(&t.text, t.scale) + s)
        );
        escape_into(out, &t.text);
        out.push_str("</text>");
    }

    /// A coordinate with at most two decimals and no trailing zeros.
    fn num(v: f64) -> String {
        let s = format!("{v:.2}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" || s.is_empty() {
            "0".to_string()
        } else {
            s.to_string()
        }
    }

    fn hex((r, g, b): Rgb) -> String {
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// Appends `text` escaped for XML character data and attribute values; characters XML 1.0 does
    /// not allow become '?'.
    fn escape_into(out: &mut String, text: &str) {
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                '\t' | '\n' | '\r' => out.push(' '),
                c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => out.push('?'),
                c => out.push(c),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Raster back end: an RGB canvas, coverage masks for anti-aliasing, and the bitmap font.
// ---------------------------------------------------------------------------------------------------------------

mod raster {
    use super::{glyph, text_width, Anchor, Item, Rgb, Scene, Text};

    /// An 8-bit RGB image, rows top to bottom.
    pub(super) struct Canvas {
        pub(super) width: usize,
        pub(super) height: usize,
        pub(super) rgb: Vec<u8>,
    }

    /// Draws the scene's items in order onto a white canvas of the scene's size.
    pub(super) fn draw(scene: &Scene) -> Canvas {
        let (width, height) = (scene.width as usize, scene.height as usize);
        let mut canvas = Canvas {
            width,
            height,
            rgb: vec![255; width * height * 3],
        };
        for item in &scene.items {
            canvas.draw(item);
        }
        canvas
    }

    impl Canvas {
        fn draw(&mut self, item: &Item) {
            match item {
                Item::Rect {
                    x,
                    y,
                    w,
                    h,
                    fill,
                    stroke,
                } => {
                    let corners = [(*x, *y), (x + w, *y), (x + w, y + h), (*x, y + h)];
                    if let Some((color, alpha)) = fill {
                        if let Some(mut mask) = self.mask(&corners, 1.0) {
                            mask.polygon(&corners);
                            self.paint(&mask, *color, *alpha);
                        }
                    }
                    if let Some((color, width)) = stroke {
                        if let Some(mut mask) = self.mask(&corners, width / 2.0 + 1.0) {
                            for (i, &a) in corners.iter().enumerate() {
                                mask.stroke(a, corners[(i + 1) % 4], *width);
                            }
                            self.paint(&mask, *color, 1.0);
                        }
                    }
                }
                Item::Segment { from, to, color, width } => self.polyline(&[*from, *to], *color, *width),
                Item::Polyline { points, color, width } => self.polyline(points, *color, *width),
                Item::Polygon { points, color, alpha } => {
                    if let Some(mut mask) = self.mask(points, 1.0) {
                        mask.polygon(points);
                        self.paint(&mask, *color, *alpha);
                    }
                }
                Item::Circle { center, radius, color } => {
                    if let Some(mut mask) = self.mask(&[*center], radius + 1.0) {
                        mask.disc(*center, *radius);
                        self.paint(&mask, *color, 1.0);
                    }
                }
                Item::Text(text) => self.text(text),
            }
        }

        fn polyline(&mut self, points: &[(f64, f64)], color: Rgb, width: f64) {
            if let Some(mut mask) = self.mask(points, width / 2.0 + 1.0) {
                for pair in points.windows(2) {
                    mask.stroke(pair[0], pair[1], width);
                }
                self.paint(&mask, color, 1.0);
            }
        }

        /// An empty mask over the bounding box of `points` grown by `grow`, clipped to the canvas.
        fn mask(&self, points: &[(f64, f64)], grow: f64) -> Option<Mask> {
            let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
            for &(x, y) in points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
            let x0 = (x0 - grow).floor().max(0.0);
            let y0 = (y0 - grow).floor().max(0.0);
            let x1 = (x1 + grow).ceil().min(self.width as f64);
            let y1 = (y1 + grow).ceil().min(self.height as f64);
            if !(x0 < x1 && y0 < y1) {
                return None;
            }
            let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);
            Some(Mask {
                x0: x0 as usize,
                y0: y0 as usize,
                w,
                h,
                cov: vec![0.0; w * h],
            })
        }

        /// Blends `color` over the canvas with opacity `alpha` times the mask's coverage.
        fn paint(&mut self, mask: &Mask, color: Rgb, alpha: f64) {
            for row in 0..mask.h {
                for col in 0..mask.w {
                    let coverage = f64::from(mask.cov[row * mask.w + col]).min(1.0);
                    if coverage > 0.0 {
                        self.blend(mask.x0 + col, mask.y0 + row, color, alpha * coverage);
                    }
                }
            }
        }

        fn blend(&mut self, x: usize, y: usize, (r, g, b): Rgb, alpha: f64) {
            let i = (y * self.width + x) * 3;
            for (dst, src) in self.rgb[i..i + 3].iter_mut().zip([r, g, b]) {
                *dst = blend_channel(*dst, src, alpha);
            }
        }

        /// Fills the pixel square `[x, x + size) x [y, y + size)`, clipped to the canvas.
        fn fill_square(&mut self, x: i64, y: i64, size: i64, color: Rgb) {
            let clip = |v: i64, max: usize| v.clamp(0, max as i64) as usize;
            for py in clip(y, self.height)..clip(y + size, self.height) {
                for px in clip(x, self.width)..clip(x + size, self.width) {
                    self.blend(px, py, color, 1.0);
                }
            }
        }

        /// Draws text with the bitmap font, each font pixel a `scale`-sized square; bold text is
        /// drawn twice, one pixel apart.
        fn text(&mut self, t: &Text) {
            let s = i64::from(t.scale);
            let width = text_width(&t.text, t.scale);
            let shift = match t.anchor {
                Anchor::Start => 0.0,
                Anchor::Middle => width / 2.0,
                Anchor::End => width,
            };
            let (ox, oy, u0) = (t.x.round() as i64, t.y.round() as i64, (-shift).round() as i64);
            for (i, ch) in t.text.chars().enumerate() {
                for (row, bits) in glyph(ch).iter().enumerate() {
                    for col in 0..5i64 {
                        if (bits >> (4 - col)) & 1 == 0 {
                            continue;
                        }
                        for bold in 0..=i64::from(t.bold) {
                            // (u, v): position along and across the text.
                            let u = u0 + (i as i64 * 6 + col) * s + bold;
                            let v = row as i64 * s;
                            let (x, y) = if t.vertical {
                                (ox + v, oy - u - s)
                            } else {
                                (ox + u, oy + v)
                            };
                            self.fill_square(x, y, s, t.color);
                        }
                    }
                }
            }
        }
    }

    /// `dst` blended towards `src` by `alpha`.
    pub(super) fn blend_channel(dst: u8, src: u8, alpha: f64) -> u8 {
        let d = f64::from(dst);
        (d + (f64::from(src) - d) * alpha.clamp(0.0, 1.0)).round() as u8
    }

    /// Per-pixel coverage (0 to 1) of one shape over a window of the canvas. Strokes and discs take
    /// the maximum coverage, so overlapping segments of one polyline do not darken their joints.
    struct Mask {
        x0: usize,
        y0: usize,
        w: usize,
        h: usize,
        cov: Vec<f32>,
    }

    impl Mask {
        /// The mask's pixels within `r` of the box `[x0, x1] x [y0, y1]`, as ranges of columns and rows.
        fn window(
            &self,
            (x0, y0): (f64, f64),
            (x1, y1): (f64, f64),
            r: f64,
        ) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
            let range = |lo: f64, hi: f64, origin: usize, len: usize| {
                let a = (lo - r - origin as f64).floor().clamp(0.0, len as f64) as usize;
                let b = (hi + r - origin as f64).ceil().clamp(0.0, len as f64) as usize;
                a..b
            };
            (
                range(x0.min(x1), x0.max(x1), self.x0, self.w),
                range(y0.min(y1), y0.max(y1), self.y0, self.h),
            )
        }

        /// Adds a stroke of `width` from `a` to `b` with round caps; coverage falls off linearly
        /// over the pixel at its edge.
        fn stroke(&mut self, a: (f64, f64), b: (f64, f64), width: f64) {
            let r = width / 2.0 + 0.5;
            let (cols, rows) = self.window(a, b, r);
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len2 = dx * dx + dy * dy;
            for row in rows {
                let py = (self.y0 + row) as f64 + 0.5;
                for col in cols.clone() {
                    let px = (self.x0 + col) as f64 + 0.5;
                    let t = if len2 > 0.0 {
                        (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let d = (px - a.0 - t * dx).hypot(py - a.1 - t * dy);
                    self.max(col, row, (r - d).clamp(0.0, 1.0));
                }
            }
        }

        /// Adds a filled disc.
        fn disc(&mut self, c: (f64, f64), radius: f64) {
            let r = radius + 0.5;
            let (cols, rows) = self.window(c, c, r);
            for row in rows {
                let py = (self.y0 + row) as f64 + 0.5;
                for col in cols.clone() {
                    let px = (self.x0 + col) as f64 + 0.5;
                    self.max(col, row, (r - (px - c.0).hypot(py - c.1)).clamp(0.0, 1.0));
                }
            }
        }

        /// Adds a filled polygon (non-zero winding rule), sampled on four sub-scanlines per pixel row
        /// with exact horizontal coverage on each.
        fn polygon(&mut self, points: &[(f64, f64)]) {
            const SUB: usize = 4;
            let weight = 1.0 / SUB as f64;
            let n = points.len();
            let mut crossings: Vec<(f64, i32)> = Vec::new();
            for row in 0..self.h {
                for k in 0..SUB {
                    let y = (self.y0 + row) as f64 + (k as f64 + 0.5) * weight;
                    crossings.clear();
                    for (i, &(ax, ay)) in points.iter().enumerate() {
                        let (bx, by) = points[(i + 1) % n];
                        if (ay <= y) != (by <= y) {
                            let x = ax + (y - ay) / (by - ay) * (bx - ax);
                            crossings.push((x, if by > ay { 1 } else { -1 }));
                        }
                    }
                    crossings.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let (mut winding, mut start) = (0, 0.0);
                    for &(x, dir) in &crossings {
                        let before = winding;
                        winding += dir;
                        if before == 0 && winding != 0 {
                            start = x;
                        } else if before != 0 && winding == 0 {
                            self.span(row, start, x, weight);
                        }
                    }
                }
            }
        }

        /// Adds `weight` times the overlap of each pixel of `row` with `[xa, xb]`.
        fn span(&mut self, row: usize, xa: f64, xb: f64, weight: f64) {
            let xa = (xa - self.x0 as f64).max(0.0);
            let xb = (xb - self.x0 as f64).min(self.w as f64);
            if xa >= xb {
                return;
            }
            for col in xa.floor() as usize..(xb.ceil() as usize).min(self.w) {
                let overlap = xb.min(col as f64 + 1.0) - xa.max(col as f64);
                if overlap > 0.0 {
                    self.cov[row * self.w + col] += (overlap * weight) as f32;
                }
            }
        }

        fn max(&mut self, col: usize, row: usize, v: f64) {
            let cell = &mut self.cov[row * self.w + col];
            *cell = cell.max(v as f32);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// PNG encoder.
// ---------------------------------------------------------------------------------------------------------------

mod png_file {
    use std::io::Write as _;

    /// CRC-32 (ISO-HDLC, as PNG uses it) lookup table, built at compile time.
    const CRC_TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };

    /// CRC-32 of the concatenation of `parts`.
    pub(super) fn crc32(parts: &[&[u8]]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &byte in parts.iter().flat_map(|p| p.iter()) {
            c = CRC_TABLE[((c ^ u32::from(byte)) & 0xFF) as usize] ^ (c >> 8);
        }
        c ^ 0xFFFF_FFFF
    }

    /// A PNG file of the `width` x `height` 8-bit RGB image `rgb` (rows top to bottom).
    pub(super) fn encode(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
        let row_len = width as usize * 3;
        debug_assert_eq!(rgb.len(), row_len * height as usize);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();

        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        // Bit depth 8, colour type 2 (RGB), deflate compression, adaptive filtering, no interlace.
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);

        // Each scanline starts with its filter type; "Sub" (1) turns the long flat runs of a chart
        // into zeros, which deflate compresses well.
        let mut filtered = Vec::with_capacity((row_len + 1) * height as usize);
        for row in rgb.chunks_exact(row_len.max(1)).take(height as usize) {
            filtered.push(1);
            filtered.extend(
                row.iter()
                    .enumerate()
                    .map(|(i, &b)| if i < 3 { b } else { b.wrapping_sub(row[i - 3]) }),
            );
        }
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&filtered).expect("writing to a Vec cannot fail");
        let idat = encoder.finish().expect("writing to a Vec cannot fail");
        chunk(&mut out, b"IDAT", &idat);

        chunk(&mut out, b"IEND", &[]);
        out
    }

    /// Appends one chunk: length, type, data, CRC of type and data.
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        let len = u32::try_from(data.len()).expect("a PNG chunk holds less than 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Bitmap font.
// ---------------------------------------------------------------------------------------------------------------

/// The glyph for `c`: printable ASCII has its own, anything else is drawn as '?'.
fn glyph(c: char) -> &'static [u8; 9] {
    let i = match c {
        ' '..='~' => c as usize - 0x20,
        _ => '?' as usize - 0x20,
    };
    &FONT[i]
}

/// A 5x9 bitmap font for printable ASCII (0x20 to 0x7E, in order), drawn for this module. Each
/// glyph is nine rows, top to bottom; in each row bit 4 is the leftmost of the five columns. Rows
/// 0-6 stand on the baseline (capitals and digits are 7 rows high, lower case has a 5-row x-height)
/// and rows 7-8 hold descenders. Glyphs advance by 6 columns.
#[rustfmt::skip]
const FONT: [[u8; 9]; 95] = [
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // ' '
    [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00100, 0b00000, 0b00000], // '!'
    [0b01010, 0b01010, 0b01010, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '"'
    [0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010, 0b00000, 0b00000], // '#'
    [0b00100, 0b01111, 0b10100, 0b01110, 0b00101, 0b11110, 0b00100, 0b00000, 0b00000], // '$'
    [0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011, 0b00000, 0b00000], // '%'
    [0b01100, 0b10010, 0b10100, 0b01000, 0b10101, 0b10010, 0b01101, 0b00000, 0b00000], // '&'
    [0b00100, 0b00100, 0b01000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '\''
    [0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010, 0b00000, 0b00000], // '('
    [0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000, 0b00000, 0b00000], // ')'
    [0b00000, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0b00000, 0b00000, 0b00000], // '*'
    [0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000, 0b00000, 0b00000], // '+'
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000, 0b00000], // ','
    [0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '-'
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100, 0b00000, 0b00000], // '.'
    [0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000, 0b00000, 0b00000], // '/'
    [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110, 0b00000, 0b00000], // '0'
    [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000, 0b00000], // '1'
    [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111, 0b00000, 0b00000], // '2'
    [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110, 0b00000, 0b00000], // '3'
    [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010, 0b00000, 0b00000], // '4'
    [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110, 0b00000, 0b00000], // '5'
    [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110, 0b00000, 0b00000], // '6'
    [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00000, 0b00000], // '7'
    [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110, 0b00000, 0b00000], // '8'
    [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100, 0b00000, 0b00000], // '9'
    [0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000, 0b00000, 0b00000], // ':'
    [0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b00100, 0b01000, 0b00000, 0b00000], // ';'
    [0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00000, 0b00000], // '<'
    [0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000, 0b00000], // '='
    [0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000, 0b00000, 0b00000], // '>'
    [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100, 0b00000, 0b00000], // '?'
    [0b01110, 0b10001, 0b00001, 0b01101, 0b10101, 0b10101, 0b01110, 0b00000, 0b00000], // '@'
    [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0b00000, 0b00000], // 'A'
    [0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110, 0b00000, 0b00000], // 'B'
    [0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110, 0b00000, 0b00000], // 'C'
    [0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100, 0b00000, 0b00000], // 'D'
    [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111, 0b00000, 0b00000], // 'E'
    [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000, 0b00000, 0b00000], // 'F'
    [0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111, 0b00000, 0b00000], // 'G'
    [0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0b00000, 0b00000], // 'H'
    [0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000, 0b00000], // 'I'
    [0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100, 0b00000, 0b00000], // 'J'
    [0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001, 0b00000, 0b00000], // 'K'
    [0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111, 0b00000, 0b00000], // 'L'
    [0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001, 0b00000, 0b00000], // 'M'
    [0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, 0b00000, 0b00000], // 'N'
    [0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000, 0b00000], // 'O'
    [0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000, 0b00000, 0b00000], // 'P'
    [0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101, 0b00000, 0b00000], // 'Q'
    [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001, 0b00000, 0b00000], // 'R'
    [0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110, 0b00000, 0b00000], // 'S'
    [0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00000], // 'T'
    [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000, 0b00000], // 'U'
    [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00000, 0b00000], // 'V'
    [0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010, 0b00000, 0b00000], // 'W'
    [0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001, 0b00000, 0b00000], // 'X'
    [0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00000], // 'Y'
    [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111, 0b00000, 0b00000], // 'Z'
    [0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110, 0b00000, 0b00000], // '['
    [0b00000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00001, 0b00000, 0b00000, 0b00000], // '\\'
    [0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110, 0b00000, 0b00000], // ']'
    [0b00100, 0b01010, 0b10001, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '^'
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111, 0b00000], // '_'
    [0b01000, 0b00100, 0b00010, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '`'
    [0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111, 0b00000, 0b00000], // 'a'
    [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110, 0b00000, 0b00000], // 'b'
    [0b00000, 0b00000, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110, 0b00000, 0b00000], // 'c'
    [0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111, 0b00000, 0b00000], // 'd'
    [0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110, 0b00000, 0b00000], // 'e'
    [0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000, 0b00000, 0b00000], // 'f'
    [0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110], // 'g'
    [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0b00000, 0b00000], // 'h'
    [0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000, 0b00000], // 'i'
    [0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100], // 'j'
    [0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b00000, 0b00000], // 'k'
    [0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000, 0b00000], // 'l'
    [0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10101, 0b10101, 0b00000, 0b00000], // 'm'
    [0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0b00000, 0b00000], // 'n'
    [0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000, 0b00000], // 'o'
    [0b00000, 0b00000, 0b11110, 0b10001, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000], // 'p'
    [0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b00001], // 'q'
    [0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000, 0b00000, 0b00000], // 'r'
    [0b00000, 0b00000, 0b01111, 0b10000, 0b01110, 0b00001, 0b11110, 0b00000, 0b00000], // 's'
    [0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110, 0b00000, 0b00000], // 't'
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101, 0b00000, 0b00000], // 'u'
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00000, 0b00000], // 'v'
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010, 0b00000, 0b00000], // 'w'
    [0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b00000, 0b00000], // 'x'
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110], // 'y'
    [0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111, 0b00000, 0b00000], // 'z'
    [0b00011, 0b00100, 0b00100, 0b01000, 0b00100, 0b00100, 0b00011, 0b00000, 0b00000], // '{'
    [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00000], // '|'
    [0b11000, 0b00100, 0b00100, 0b00010, 0b00100, 0b00100, 0b11000, 0b00000, 0b00000], // '}'
    [0b00000, 0b00000, 0b01000, 0b10101, 0b00010, 0b00000, 0b00000, 0b00000, 0b00000], // '~'
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2x2 figure of learning curves like the experiments produce.
    fn sample_figure() -> Figure {
        let curve = |rate: f64, ceiling: f64, spread: f64| -> Vec<CurvePoint> {
            (0..=20)
                .map(|i| {
                    let x = f64::from(i) * 50.0;
                    let mean = ceiling * (1.0 - (-x / rate).exp());
                    let w = spread * (1.0 - x / 1200.0);
                    CurvePoint::new(x, mean, mean - w, mean + w * 0.8)
                })
                .collect()
        };
        let panel = |title: &str, y_label: &str, k: f64| Panel {
            title: title.into(),
            x_label: "payments sent".into(),
            y_label: y_label.into(),
            series: vec![
                Series {
                    name: "apriori".into(),
                    color: PALETTE[0],
                    points: curve(150.0 * k, 0.9, 0.12),
                },
                Series {
                    name: "bimodal".into(),
                    color: PALETTE[1],
                    points: curve(300.0 * k, 0.8, 0.08),
                },
                Series {
                    name: "shared (coordinator)".into(),
                    color: PALETTE[2],
                    points: curve(80.0 * k, 0.95, 0.05),
                },
            ],
        };
        Figure {
            title: "Mission control learning curves (mean, 90% band over 16 seeds)".into(),
            columns: 2,
            panels: vec![
                panel("Success rate", "success rate", 1.0),
                panel("First-try success [%]", "fraction", 2.0),
                panel("Attempts/payment: x=1,2", "attempts", 0.5),
                Panel {
                    title: "Fees (msat) - lo > hi, NaN, one point".into(),
                    x_label: "time (s)".into(),
                    y_label: "fee_ppm = a + b".into(),
                    series: vec![
                        Series {
                            name: "swapped band".into(),
                            color: PALETTE[3],
                            points: (0..8)
                                .map(|i| {
                                    let x = f64::from(i);
                                    let nan = if i == 3 { f64::NAN } else { 1200.0 + 40.0 * x };
                                    CurvePoint::new(x, nan, 1300.0 + 60.0 * x, 1100.0 + 20.0 * x)
                                })
                                .collect(),
                        },
                        Series {
                            name: "single point".into(),
                            color: PALETTE[4],
                            points: vec![CurvePoint::new(4.0, 1500.0, 1400.0, 1600.0)],
                        },
                    ],
                },
            ],
        }
    }

    /// Decodes a PNG with the `png` crate: (width, height, RGB bytes).
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = ::png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .expect("PNG header decodes");
        let mut buf = vec![0; reader.output_buffer_size().expect("image size fits in memory")];
        let info = reader.next_frame(&mut buf).expect("PNG data decodes");
        assert_eq!(info.color_type, ::png::ColorType::Rgb);
        assert_eq!(info.bit_depth, ::png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn pixel(rgb: &[u8], width: u32, x: i64, y: i64) -> Rgb {
        let i = (y as usize * width as usize + x as usize) * 3;
        (rgb[i], rgb[i + 1], rgb[i + 2])
    }

    /// Whether some pixel within `r` of `(x, y)` satisfies `pred`.
    fn near(rgb: &[u8], width: u32, (x, y): (f64, f64), r: i64, pred: impl Fn(Rgb) -> bool) -> bool {
        let (x, y) = (x.floor() as i64, y.floor() as i64);
        (y - r..=y + r).any(|py| (x - r..=x + r).any(|px| pred(pixel(rgb, width, px, py))))
    }

    fn one_series_figure(color: Rgb) -> Figure {
        let points = (0..5).map(|i| {
            let x = f64::from(i);
            CurvePoint::new(x, 0.1 * x + 0.2, 0.1 * x, 0.1 * x + 0.4)
        });
        Figure {
            title: String::new(),
            columns: 1,
            panels: vec![Panel {
                title: "one".into(),
                x_label: "x".into(),
                y_label: "y".into(),
                series: vec![Series {
                    name: "only".into(),
                    color,
                    points: points.collect(),
                }],
            }],
        }
    }

    /// Checks that every opened tag is closed, in order.
    fn assert_tags_balanced(svg: &str) {
        let mut open: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = start + rest[start..].find('>').expect("every tag ends");
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "'<' inside tag {tag:?}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name.trim()), "closing tag {name}");
            } else if !tag.ends_with('/') {
                open.push(tag.split_whitespace().next().unwrap_or_default());
            }
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed tags: {open:?}");
        assert!(svg.trim_start().starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn png_decodes_to_the_stated_size() {
        let fig = sample_figure();
        let (w, h) = fig.size();
        assert_eq!(
            (w, h),
            (2 * CELL_W as u32, FIG_TITLE_H as u32 + 2 * CELL_H as u32),
            "4 panels in 2 columns: 2x2"
        );
        let (dw, dh, rgb) = decode(&render_png(&fig));
        assert_eq!((dw, dh), (w, h));
        assert_eq!(rgb.len(), w as usize * h as usize * 3);
        assert_eq!(pixel(&rgb, w, 0, 0), WHITE);
    }

    #[test]
    fn panels_fill_a_grid_of_the_given_columns() {
        let mut fig = sample_figure();
        fig.title.clear();
        let scene = layout(&fig);
        let corners: Vec<(bool, bool)> = scene.plots.iter().map(|p| (p.left > CELL_W, p.top > CELL_H)).collect();
        assert_eq!(corners, [(false, false), (true, false), (false, true), (true, true)]);
        fig.columns = 4;
        assert_eq!(fig.size(), (4 * CELL_W as u32, CELL_H as u32));
        fig.columns = 9; // more columns than panels: one row of four
        assert_eq!(fig.size(), (4 * CELL_W as u32, CELL_H as u32));
        fig.columns = 0; // read as one column
        assert_eq!(fig.size(), (CELL_W as u32, 4 * CELL_H as u32));
    }

    #[test]
    fn series_colour_is_drawn_along_the_mean_line() {
        let color = (200, 30, 40);
        let fig = one_series_figure(color);
        let area = layout(&fig).plots[0].clone();
        let (w, _, rgb) = decode(&render_png(&fig));
        // Midway between points, where there are no markers.
        for x in [0.5, 1.5, 2.5, 3.5] {
            let at = area.map(x, 0.1 * x + 0.2);
            assert!(near(&rgb, w, at, 1, |p| p == color), "line colour near {at:?}");
        }
        // And not far from the line inside the plot area, away from the legend.
        let away = area.map(2.0, 0.85);
        assert!(!near(&rgb, w, away, 3, |p| p == color), "no line colour at {away:?}");
    }

    #[test]
    fn band_is_the_series_colour_blended_over_the_background() {
        let color = (20, 90, 220);
        let fig = one_series_figure(color);
        let area = layout(&fig).plots[0].clone();
        let (w, _, rgb) = decode(&render_png(&fig));
        let blend = |bg: u8, c: u8| raster::blend_channel(bg, c, BAND_ALPHA);
        let expected = (blend(255, color.0), blend(255, color.1), blend(255, color.2));
        assert!(expected != WHITE && expected != color);
        let close = |a: u8, b: u8| a.abs_diff(b) <= 2;
        for x in [0.5, 1.5, 2.5] {
            // Between the mean (0.1x + 0.2) and hi (0.1x + 0.4), clear of the line.
            let at = area.map(x, 0.1 * x + 0.33);
            assert!(
                near(&rgb, w, at, 2, |p| close(p.0, expected.0)
                    && close(p.1, expected.1)
                    && close(p.2, expected.2)),
                "band blend {expected:?} near {at:?}, found {:?}",
                pixel(&rgb, w, at.0 as i64, at.1 as i64)
            );
        }
    }

    #[test]
    fn svg_has_one_band_and_one_line_per_series_and_the_legend_names() {
        let fig = sample_figure();
        let svg = render_svg(&fig);
        let series: usize = fig.panels.iter().map(|p| p.series.len()).sum();
        assert_eq!(svg.matches("<polyline ").count(), series);
        // Every series has a band path except the single point, whose band is a bar.
        assert_eq!(svg.matches("<path ").count(), series - 1);
        for name in [
            "apriori",
            "bimodal",
            "shared (coordinator)",
            "swapped band",
            "single point",
        ] {
            assert!(svg.contains(&format!(">{name}</text>")), "legend entry {name}");
        }
        assert!(svg.contains("First-try success [%]"));
        assert!(svg.contains(r#"fill-opacity="0.22""#));
        assert_tags_balanced(&svg);
    }

    #[test]
    fn svg_escapes_markup_in_names() {
        let mut fig = one_series_figure((1, 2, 3));
        fig.panels[0].series[0].name = "<b>a & \"b\" 'c'\u{1}</b>".into();
        fig.panels[0].title = "x < y > z".into();
        let svg = render_svg(&fig);
        assert!(svg.contains("&lt;b&gt;a &amp; &quot;b&quot; &apos;c&apos;?&lt;/b&gt;"));
        assert!(svg.contains("x &lt; y &gt; z"));
        assert_tags_balanced(&svg);
    }

    #[test]
    fn lo_above_hi_draws_the_same_band() {
        let fig = one_series_figure((10, 120, 60));
        let mut swapped = fig.clone();
        for p in &mut swapped.panels[0].series[0].points {
            std::mem::swap(&mut p.lo, &mut p.hi);
        }
        assert_eq!(render_png(&fig), render_png(&swapped));
        assert_eq!(render_svg(&fig), render_svg(&swapped));
    }

    #[test]
    fn degenerate_inputs_render_without_panicking() {
        let series = |points: Vec<CurvePoint>| Series {
            name: "s".into(),
            color: (9, 9, 9),
            points,
        };
        let panel = |series: Vec<Series>| Panel {
            series,
            ..Panel::default()
        };
        let (nan, inf) = (f64::NAN, f64::INFINITY);
        let figures = [
            Figure::default(),
            Figure {
                title: "only a title".into(),
                ..Figure::default()
            },
            Figure {
                panels: vec![Panel::default()],
                columns: 3,
                ..Figure::default()
            },
            Figure {
                panels: vec![panel(vec![series(vec![])])],
                ..Figure::default()
            },
            Figure {
                panels: vec![panel(vec![series(vec![CurvePoint::new(1.0, 2.0, 3.0, 4.0)])])],
                ..Figure::default()
            },
            Figure {
                panels: vec![panel(vec![series(vec![CurvePoint::new(1.0, 1.0, 1.0, 1.0); 5])])],
                ..Figure::default()
            },
            Figure {
                panels: vec![panel(vec![series(vec![CurvePoint::new(0.0, 0.0, 0.0, 0.0); 3])])],
                ..Figure::default()
            },
            Figure {
                panels: vec![panel(vec![series(vec![
                    CurvePoint::new(nan, 1.0, 0.0, 2.0),
                    CurvePoint::new(1.0, nan, inf, -inf),
                    CurvePoint::new(-inf, nan, nan, nan),
                    CurvePoint::new(2.0, 0.5, nan, 1.0),
                ])])],
                ..Figure::default()
            },
            Figure {
                panels: vec![panel(vec![series(vec![
                    CurvePoint::new(-f64::MAX, f64::MAX, -f64::MAX, f64::MAX),
                    CurvePoint::new(f64::MAX, -f64::MAX, f64::MAX, -f64::MAX),
                ])])],
                ..Figure::default()
            },
            Figure {
                panels: vec![panel(vec![series(vec![
                    CurvePoint::new(1e-310, 5e-324, 0.0, 1e-309),
                    CurvePoint::new(2e-310, 1e-320, 0.0, 1e-309),
                ])])],
                ..Figure::default()
            },
            Figure {
                title: "ünïcødé ☃ and a very long title that cannot possibly fit into the width of one panel at all"
                    .into(),
                panels: vec![Panel {
                    title: "\t\n".into(),
                    x_label: "x".repeat(500),
                    y_label: "y".repeat(500),
                    series: vec![Series {
                        name: "n".repeat(300),
                        ..series(vec![CurvePoint::new(1e15, 3e9, 0.0, 1e10)])
                    }],
                }],
                columns: 0,
            },
        ];
        for fig in &figures {
            let (w, h) = fig.size();
            let (dw, dh, _) = decode(&render_png(fig));
            assert_eq!((dw, dh), (w, h));
            assert_tags_balanced(&render_svg(fig));
        }
    }

    #[test]
    fn ticks_are_round_and_labelled_with_just_enough_decimals() {
        let axis = Axis::nice(Some((0.0, 1.0)), 6);
        assert_eq!(axis.labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert!(axis.lo < 0.0 && axis.hi > 1.0, "a margin keeps the data off the frame");
        assert_eq!(
            Axis::nice(Some((0.0, 1000.0)), 6).labels,
            ["0", "200", "400", "600", "800", "1000"]
        );
        assert_eq!(
            Axis::nice(Some((-0.5, 0.5)), 5).labels,
            ["-0.50", "-0.25", "0.00", "0.25", "0.50"]
        );
        assert_eq!(Axis::nice(Some((0.0, 3e6)), 4).labels, ["0", "1e6", "2e6", "3e6"]);
        let flat = Axis::nice(Some((3.0, 3.0)), 5);
        assert!(flat.lo < 3.0 && flat.hi > 3.0 && flat.labels.contains(&"3.0".to_string()));
        let empty = Axis::nice(None, 5);
        assert!(empty.lo < 0.0 && empty.hi > 1.0 && !empty.ticks.is_empty());
        for raw in [0.013, 0.18, 0.3, 4.0, 7.5, 1234.0] {
            let step = nice_step(raw).expect("a step");
            let mantissa = step / 10f64.powf(step.log10().floor());
            assert!(
                step >= raw && [1.0, 2.0, 2.5, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-9),
                "{raw} -> {step}"
            );
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(png_file::crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(png_file::crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
        assert_eq!(png_file::crc32(&[b"IEND"]), 0xAE42_6082);
    }

    #[test]
    fn font_has_a_distinct_glyph_for_every_printable_character() {
        for c in '!'..='~' {
            assert!(glyph(c).iter().any(|&row| row != 0), "{c:?} is blank");
            assert!(glyph(c).iter().all(|&row| row < 32), "{c:?} is wider than 5 columns");
        }
        assert!(glyph(' ').iter().all(|&row| row == 0));
        let mut glyphs: Vec<&[u8; 9]> = FONT.iter().collect();
        glyphs.sort();
        glyphs.dedup();
        assert_eq!(glyphs.len(), FONT.len(), "two characters share a glyph");
        assert_eq!(glyph('é'), glyph('?'));
    }

    #[test]
    fn text_is_drawn_in_the_text_colour() {
        let fig = Figure {
            title: "TITLE".into(),
            ..Figure::default()
        };
        let (w, _, rgb) = decode(&render_png(&fig));
        let dark = (0..FIG_TITLE_H as i64).flat_map(|y| (0..i64::from(w)).map(move |x| (x, y)));
        assert!(dark.clone().any(|(x, y)| pixel(&rgb, w, x, y) == TEXT_COLOR));
    }

    /// Writes the sample figure as PNG and SVG, for looking at: to `$DMC_PLOT_SAMPLE` (a path
    /// without extension) or the temporary directory. Run with `--ignored`.
    #[test]
    #[ignore]
    fn write_sample() {
        let base = std::env::var("DMC_PLOT_SAMPLE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| std::env::temp_dir().join("plot-sample"));
        let fig = sample_figure();
        std::fs::write(base.with_extension("png"), render_png(&fig)).expect("write PNG");
        std::fs::write(base.with_extension("svg"), render_svg(&fig)).expect("write SVG");
    }
}
