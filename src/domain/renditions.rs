//! HD and SD: the renditions `kedian media package` makes of a video, and the HLS master playlist
//! that lets the player (or the learner) choose between them.

/// One rendition of a packaged video: its playlist is `{name}.m3u8`, its segments `{name}000.ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendition {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Sources taller than 480 lines get HD (at most 720) and SD (360). Smaller sources are packaged
/// once as they are (an empty ladder): a 360p "HD" would be a choice without a difference.
pub fn ladder(width: u32, height: u32) -> Vec<Rendition> {
    if height <= 480 || width == 0 {
        return Vec::new();
    }
    let hd = height.min(720);
    vec![
        Rendition { name: "hd", width: scaled_width(width, height, hd), height: hd },
        Rendition { name: "sd", width: scaled_width(width, height, 360), height: 360 },
    ]
}

/// The width ffmpeg's `scale=-2:{to}` gives: the aspect ratio kept, rounded to an even number.
pub fn scaled_width(width: u32, height: u32, to: u32) -> u32 {
    if height == 0 {
        return 0;
    }
    let exact = u64::from(width) * u64::from(to);
    let halves = (exact + u64::from(height)) / (2 * u64::from(height));
    u32::try_from(halves * 2).unwrap_or(u32::MAX)
}

/// HLS's BANDWIDTH: the peak bit rate of any segment, from a media playlist's durations and the
/// segments' sizes in bytes. Segments of unknown size or zero duration are left out.
pub fn peak_bandwidth(playlist: &str, size_of: impl Fn(&str) -> Option<u64>) -> u64 {
    let mut peak = 0u64;
    let mut duration: Option<f64> = None;
    for line in playlist.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            duration = rest.split(',').next().and_then(|d| d.parse::<f64>().ok());
        } else if !line.is_empty()
            && !line.starts_with('#')
            && let (Some(secs), Some(bytes)) = (duration.take(), size_of(line))
            && secs > 0.0
        {
            // Bits per second, rounded up; sizes are far below f64's exact range.
            let rate = (bytes as f64 * 8.0 / secs).ceil() as u64;
            peak = peak.max(rate);
        }
    }
    peak
}

/// The master playlist naming each rendition with its peak bit rate, best first.
pub fn master_playlist(variants: &[(Rendition, u64)]) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
    for (r, bandwidth) in variants {
        out.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{}\n{}.m3u8\n",
            bandwidth.max(&1),
            r.width,
            r.height,
            r.name
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_for_common_sources() {
        assert!(ladder(160, 90).is_empty());
        assert!(ladder(854, 480).is_empty(), "480p is packaged once");
        let l = ladder(1920, 1080);
        assert_eq!(l[0], Rendition { name: "hd", width: 1280, height: 720 });
        assert_eq!(l[1], Rendition { name: "sd", width: 640, height: 360 });
        let l = ladder(1280, 540);
        assert_eq!((l[0].width, l[0].height), (1280, 540), "never scaled up");
        assert_eq!(ladder(720, 1280)[0], Rendition { name: "hd", width: 406, height: 720 }, "portrait");
        assert!(ladder(0, 1080).is_empty());
    }

    #[test]
    fn widths_are_even() {
        assert_eq!(scaled_width(1920, 1080, 360), 640);
        assert_eq!(scaled_width(1000, 562, 360), 640);
        assert_eq!(scaled_width(1366, 768, 360), 640);
        assert_eq!(scaled_width(101, 600, 360), 60);
        assert_eq!(scaled_width(5, 0, 360), 0);
    }

    #[test]
    fn bandwidth_is_the_peak_segment_rate() {
        let playlist =
            "#EXTM3U\n#EXTINF:6.000000,\nhd000.ts\n#EXTINF:2.5,\nhd001.ts\n#EXTINF:0,\nhd002.ts\n#EXT-X-ENDLIST\n";
        let sizes = |name: &str| match name {
            "hd000.ts" => Some(750_000),
            "hd001.ts" => Some(500_000),
            "hd002.ts" => Some(9_999_999),
            _ => None,
        };
        assert_eq!(peak_bandwidth(playlist, sizes), 1_600_000);
        assert_eq!(peak_bandwidth(playlist, |_| None), 0);
        assert_eq!(peak_bandwidth("#EXTM3U\nseg000.ts\n", |_| Some(10)), 0, "no duration, no rate");
    }

    #[test]
    fn master_lists_each_rendition() {
        let l = ladder(1920, 1080);
        let m = master_playlist(&[(l[0], 2_000_000), (l[1], 0)]);
        assert_eq!(
            m,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720\nhd.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\nsd.m3u8\n"
        );
    }
}
