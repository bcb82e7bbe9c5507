//! Statistics arithmetic: Shanghai calendar days as numbers, daily series with the gaps filled,
//! rates, and the geometry of the server-drawn SVG bar charts.

const SHANGHAI_OFFSET_SECS: i64 = 8 * 3600;

/// The Shanghai calendar day of a moment, as a day number (days since 1970-01-01 Shanghai).
pub fn shanghai_day(unix: i64) -> i64 {
    (unix + SHANGHAI_OFFSET_SECS).div_euclid(86_400)
}

/// The first second (UTC unix) of a Shanghai day number.
pub fn day_start(day: i64) -> i64 {
    day * 86_400 - SHANGHAI_OFFSET_SECS
}

/// `part / whole` as a percentage with one decimal (`12.5%`), or `-` when there is no whole.
pub fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "-".into();
    }
    let tenths = (part * 1000 + whole / 2) / whole;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// One value per day from `first` to `last` inclusive, zero where the data has no row.
pub fn fill_days(first: i64, last: i64, rows: &[(i64, i64)]) -> Vec<(i64, i64)> {
    (first..=last).map(|day| (day, rows.iter().filter(|(d, _)| *d == day).map(|(_, v)| *v).sum())).collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    /// Shown under the bar (sparse, so labels do not overlap), and in its tooltip.
    pub label: String,
    pub show_label: bool,
    pub value: String,
}

pub const CHART_WIDTH: i64 = 720;
pub const CHART_HEIGHT: i64 = 230;
/// Room on the left for the value axis's labels.
pub const PLOT_LEFT: i64 = 110;
pub const PLOT_TOP: i64 = 34;
pub const PLOT_BOTTOM: i64 = 200;
/// Up to this many bars each show their value above them.
const VALUES_UP_TO: usize = 14;

/// A chart: its bars and the value its top line stands for (the largest, as shown).
pub struct Chart {
    pub bars: Vec<Bar>,
    pub top: String,
    /// Each bar carries its value above it (few bars).
    pub values: bool,
}

pub fn chart(series: &[(String, i64, String)]) -> Chart {
    let top = series.iter().max_by_key(|(_, v, _)| *v).map(|(_, _, shown)| shown.clone()).unwrap_or_default();
    Chart { bars: bars(series), top, values: series.len() <= VALUES_UP_TO }
}

/// Bars for a series, scaled so the largest value fills the plot height.
pub fn bars(series: &[(String, i64, String)]) -> Vec<Bar> {
    let n = series.len().max(1) as i64;
    let slot = (CHART_WIDTH - PLOT_LEFT) / n;
    let width = (slot * 7 / 10).max(1);
    let max = series.iter().map(|(_, v, _)| *v).max().unwrap_or(0).max(1);
    let every = (n / 10).max(1);
    series
        .iter()
        .enumerate()
        .map(|(i, (label, value, shown))| {
            let height = (PLOT_BOTTOM - PLOT_TOP) * (*value).max(0) / max;
            Bar {
                x: PLOT_LEFT + i as i64 * slot + (slot - width) / 2,
                y: PLOT_BOTTOM - height,
                width,
                height,
                label: label.clone(),
                show_label: i as i64 % every == 0,
                value: shown.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_turn_at_shanghai_midnight() {
        // 2026-11-21 15:59:59 UTC is 23:59:59 in Shanghai; a second later it is the 22nd.
        let before = 1_795_276_799;
        assert_eq!(shanghai_day(before) + 1, shanghai_day(before + 1));
        assert_eq!(day_start(shanghai_day(before + 1)), before + 1);
        assert_eq!(shanghai_day(day_start(20_000)), 20_000);
    }

    #[test]
    fn percentages_round_and_survive_zero() {
        assert_eq!(percent(1, 8), "12.5%");
        assert_eq!(percent(2, 3), "66.7%");
        assert_eq!(percent(0, 5), "0.0%");
        assert_eq!(percent(5, 5), "100.0%");
        assert_eq!(percent(1, 0), "-");
    }

    #[test]
    fn missing_days_are_zero() {
        assert_eq!(fill_days(10, 13, &[(11, 5), (13, 2)]), vec![(10, 0), (11, 5), (12, 0), (13, 2)]);
    }

    #[test]
    fn the_biggest_bar_fills_the_plot() {
        let series: Vec<(String, i64, String)> =
            vec![("a".into(), 50, "50".into()), ("b".into(), 100, "100".into()), ("c".into(), 0, "0".into())];
        let b = bars(&series);
        assert_eq!(b[1].height, PLOT_BOTTOM - PLOT_TOP);
        assert_eq!(b[0].height * 2, b[1].height);
        assert_eq!((b[2].height, b[2].y), (0, PLOT_BOTTOM));
        assert!(b.windows(2).all(|w| w[0].x + w[0].width <= w[1].x), "bars do not overlap");
        assert!(bars(&[]).is_empty());
    }
}
