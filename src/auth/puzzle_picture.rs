//! Draws a slider puzzle's two pictures from its seed: the scene with the gap darkened, and the
//! piece cut from the same scene (on a transparent strip as tall as the scene, so the page places
//! it without knowing where the gap is).

use image::{ImageFormat, Rgba, RgbaImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::human_check::{Challenge, HEIGHT, PIECE, WIDTH};

const BORDER: u32 = 2;

/// The scene, with the gap the piece belongs in, as PNG.
pub fn scene_png(challenge: &Challenge) -> anyhow::Result<Vec<u8>> {
    let mut scene = draw_scene(challenge.seed);
    for (px, py) in square(challenge.x, challenge.y) {
        let pixel = scene.get_pixel_mut(px, py);
        let edge = on_edge(px - challenge.x, py - challenge.y);
        *pixel = if edge { blend(*pixel, [255, 255, 255], 180) } else { darken(*pixel) };
    }
    png(&scene)
}

/// The piece, at its height in a transparent strip `PIECE` wide, as PNG.
pub fn piece_png(challenge: &Challenge) -> anyhow::Result<Vec<u8>> {
    let scene = draw_scene(challenge.seed);
    let mut strip = RgbaImage::from_pixel(PIECE, HEIGHT, Rgba([0, 0, 0, 0]));
    for (px, py) in square(challenge.x, challenge.y) {
        let (dx, dy) = (px - challenge.x, py - challenge.y);
        let pixel = *scene.get_pixel(px, py);
        let shown = if on_edge(dx, dy) { Rgba([255, 255, 255, 255]) } else { pixel };
        strip.put_pixel(dx, py, shown);
    }
    png(&strip)
}

fn square(x: u32, y: u32) -> impl Iterator<Item = (u32, u32)> {
    (y..y + PIECE).flat_map(move |py| (x..x + PIECE).map(move |px| (px, py)))
}

fn on_edge(dx: u32, dy: u32) -> bool {
    dx < BORDER || dy < BORDER || dx >= PIECE - BORDER || dy >= PIECE - BORDER
}

/// A gradient under overlapping soft circles and bars: busy enough that the gap is found by
/// looking, the same picture every time for one seed.
fn draw_scene(seed: u64) -> RgbaImage {
    let mut rng = StdRng::seed_from_u64(seed);
    let top = random_colour(&mut rng);
    let bottom = random_colour(&mut rng);
    let mut scene = RgbaImage::from_fn(WIDTH, HEIGHT, |_, y| {
        let t = (y * 255 / HEIGHT) as u8;
        Rgba(mix(top, bottom, t))
    });
    for _ in 0..18 {
        let colour = random_colour(&mut rng);
        let (cx, cy) = (rng.gen_range(0..WIDTH) as i64, rng.gen_range(0..HEIGHT) as i64);
        if rng.gen_bool(0.6) {
            let r = rng.gen_range(10..45_i64);
            fill(&mut scene, colour, |x, y| (x - cx).pow(2) + (y - cy).pow(2) <= r * r);
        } else {
            let (w, h) = (rng.gen_range(20..90_i64), rng.gen_range(6..24_i64));
            fill(&mut scene, colour, |x, y| (x - cx).abs() <= w && (y - cy).abs() <= h);
        }
    }
    scene
}

fn fill(scene: &mut RgbaImage, colour: [u8; 3], inside: impl Fn(i64, i64) -> bool) {
    for (x, y, pixel) in scene.enumerate_pixels_mut() {
        if inside(x as i64, y as i64) {
            *pixel = blend(*pixel, colour, 150);
        }
    }
}

fn random_colour(rng: &mut StdRng) -> [u8; 3] {
    [rng.gen_range(40..230), rng.gen_range(40..230), rng.gen_range(40..230)]
}

fn mix(a: [u8; 3], b: [u8; 3], t: u8) -> [u8; 4] {
    let channel = |i: usize| ((a[i] as u32 * (255 - t as u32) + b[i] as u32 * t as u32) / 255) as u8;
    [channel(0), channel(1), channel(2), 255]
}

fn blend(pixel: Rgba<u8>, colour: [u8; 3], alpha: u8) -> Rgba<u8> {
    let [r, g, b, _] = mix([pixel[0], pixel[1], pixel[2]], colour, alpha);
    Rgba([r, g, b, 255])
}

fn darken(pixel: Rgba<u8>) -> Rgba<u8> {
    blend(pixel, [0, 0, 0], 150)
}

fn png(picture: &RgbaImage) -> anyhow::Result<Vec<u8>> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut bytes, ImageFormat::Png)?;
    Ok(bytes.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(seed: u64) -> Challenge {
        Challenge { nonce: "n".into(), seed, x: 120, y: 40, issued_at: 0 }
    }

    #[test]
    fn one_seed_draws_one_picture() {
        assert_eq!(scene_png(&challenge(7)).unwrap(), scene_png(&challenge(7)).unwrap());
        assert_ne!(scene_png(&challenge(7)).unwrap(), scene_png(&challenge(8)).unwrap());
    }

    #[test]
    fn the_piece_sits_at_the_gaps_height_and_nowhere_else() {
        let strip = image::load_from_memory(&piece_png(&challenge(7)).unwrap()).unwrap().to_rgba8();
        assert_eq!(strip.dimensions(), (PIECE, HEIGHT));
        assert_eq!(strip.get_pixel(10, 39)[3], 0);
        assert_eq!(strip.get_pixel(10, 40)[3], 255);
        assert_eq!(strip.get_pixel(10, 40 + PIECE - 1)[3], 255);
        assert_eq!(strip.get_pixel(10, 40 + PIECE)[3], 0);
        let scene = image::load_from_memory(&scene_png(&challenge(7)).unwrap()).unwrap().to_rgba8();
        assert_eq!(scene.dimensions(), (WIDTH, HEIGHT));
    }
}
