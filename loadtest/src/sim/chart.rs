//! The cumulative-cost chart (PNG, plotters' bitmap backend).
//!
//! Text needs a TrueType font, loaded at run time (plotters' `ab_glyph`
//! feature): `--font FILE`, else DejaVu Sans from the usual Linux paths
//! (Debian package `fonts-dejavu-core`). Without a font the chart is not
//! drawn and [`ChartError::NoFont`] says what to install; callers check
//! [`find_font`] before a long simulation so that they fail fast.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::report::SimReport;
use super::time::DAY_MS;

/// Where DejaVu Sans usually lives.
pub const DEFAULT_FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Errors drawing the chart.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// No font file was found.
    #[error(
        "no font for the chart's text: tried {tried:?}; install DejaVu Sans \
         (Debian/Ubuntu: apt-get install fonts-dejavu-core) or pass --font FILE.ttf"
    )]
    NoFont {
        /// Paths tried.
        tried: Vec<PathBuf>,
    },
    /// The font file could not be read or parsed.
    #[error("font {path}: {problem}")]
    BadFont {
        /// The font file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// plotters failed (e.g. the PNG could not be written).
    #[error("drawing chart {path}: {problem}")]
    Draw {
        /// The PNG path.
        path: PathBuf,
        /// plotters' message.
        problem: String,
    },
}

/// The font to use: `explicit` if given (it must exist), else the first
/// existing [`DEFAULT_FONT_PATHS`].
pub fn find_font(explicit: Option<&Path>) -> Result<PathBuf, ChartError> {
    let tried: Vec<PathBuf> = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => DEFAULT_FONT_PATHS.iter().map(PathBuf::from).collect(),
    };
    tried
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or(ChartError::NoFont { tried })
}

static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();

/// Loads the font into plotters' registry (once per process; the bytes
/// are kept for the life of the process, as plotters requires).
fn register(font: &Path) -> Result<(), ChartError> {
    REGISTERED
        .get_or_init(|| {
            let bytes = std::fs::read(font).map_err(|e| e.to_string())?;
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| "not a TrueType/OpenType font".to_string())
        })
        .clone()
        .map_err(|problem| ChartError::BadFont {
            path: font.to_path_buf(),
            problem,
        })
}

const COLORS: [RGBColor; 6] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(44, 160, 44),
    RGBColor(23, 190, 207),
];

/// Draws cumulative cost (USD) against simulated days, one line per
/// policy, into a 1200×700 PNG at `out`.
pub fn draw(report: &SimReport, out: &Path, font: &Path) -> Result<(), ChartError> {
    register(font)?;
    let draw_err = |e: &dyn std::fmt::Display| ChartError::Draw {
        path: out.to_path_buf(),
        problem: e.to_string(),
    };
    let days: Vec<f64> = report
        .sample_times_ms
        .iter()
        .map(|t| *t as f64 / DAY_MS as f64)
        .collect();
    let x_max = days.last().copied().unwrap_or(0.0).max(1e-3);
    let y_max = report
        .policies
        .iter()
        .flat_map(|p| p.timeline.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.05;
    let root = BitMapBackend::new(out, (1200, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Cumulative cost by policy", ("sans-serif", 28))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(|e| draw_err(&e))?;
    chart
        .configure_mesh()
        .x_desc("simulated days")
        .y_desc("cumulative cost (USD)")
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(|e| draw_err(&e))?;
    for (i, p) in report.policies.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points = days.iter().copied().zip(p.timeline.iter().copied());
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| draw_err(&e))?
            .label(format!("{} (${:.2})", p.name, p.cost.total()))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| draw_err(&e))?;
    root.present().map_err(|e| draw_err(&e))?;
    Ok(())
}
