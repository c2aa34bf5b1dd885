//! ASCII text on RGB frames with the public-domain 8x8 bitmap font of `font8x8`.
//!
//! Text sits on a darkened box so it reads on any background. Everything is clipped at the
//! image edges: any position, size or text is safe to draw.

use font8x8::legacy::BASIC_LEGACY;

/// Glyph cell size in pixels at scale 1.
pub const GLYPH: u32 = 8;

/// Width and height of the box [`draw_text`] covers: the glyph cells (8 x 8 per character at
/// scale 1, `\n` starts a new line) plus a margin of `scale` pixels on every side.
pub fn text_size(text: &str, scale: u32) -> (u32, u32) {
    let s = scale.max(1);
    let cols = text
        .split('\n')
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let lines = text.split('\n').count();
    let cell = GLYPH.saturating_mul(s);
    let w = u32::try_from(cols).unwrap_or(u32::MAX).saturating_mul(cell);
    let h = u32::try_from(lines)
        .unwrap_or(u32::MAX)
        .saturating_mul(cell);
    let margin = s.saturating_mul(2);
    (w.saturating_add(margin), h.saturating_add(margin))
}

/// Draws `text` with its box's top-left corner at (`x`, `y`), each font pixel a
/// `scale x scale` square (0 counts as 1). The box (see [`text_size`]) is darkened to 30 %
/// brightness, then the glyphs are drawn in `color`. Characters outside printable ASCII are
/// drawn as `?`. If `rgb` is shorter than `width * height * 3`, only whole rows in it are drawn.
#[allow(clippy::too_many_arguments)]
pub fn draw_text(
    rgb: &mut [u8],
    width: u32,
    height: u32,
    x: i32,
    y: i32,
    text: &str,
    scale: u32,
    color: [u8; 3],
) {
    let canvas = Canvas::new(rgb, width, height);
    let Some(mut canvas) = canvas else { return };
    let s = i64::from(scale.max(1));
    let (bw, bh) = text_size(text, scale);
    let (x, y) = (i64::from(x), i64::from(y));
    canvas.fill(x, y, x + i64::from(bw), y + i64::from(bh), |p| {
        for c in p.iter_mut() {
            *c = (u16::from(*c) * 3 / 10) as u8;
        }
    });
    let cell = i64::from(GLYPH) * s;
    for (line_no, line) in text.split('\n').enumerate() {
        let gy = y + s + line_no as i64 * cell;
        if gy >= canvas.height {
            break;
        }
        if gy + cell <= 0 {
            continue;
        }
        for (col_no, ch) in line.chars().enumerate() {
            let gx = x + s + col_no as i64 * cell;
            if gx >= canvas.width {
                break;
            }
            if gx + cell <= 0 {
                continue;
            }
            let code = if ch.is_ascii_graphic() || ch == ' ' {
                ch
            } else {
                '?'
            };
            let glyph = &BASIC_LEGACY[code as usize];
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    // Bit 0 is the leftmost pixel of the row.
                    if (bits >> col) & 1 == 1 {
                        let px = gx + col * s;
                        let py = gy + row as i64 * s;
                        canvas.fill(px, py, px + s, py + s, |p| p.copy_from_slice(&color));
                    }
                }
            }
        }
    }
}

/// Stamps the step and reward (e.g. `t 12  r 0.53`) at the top-left corner and, when
/// `success`, a green `success` at the bottom-left. The scale follows the image size
/// (1 up to 319 pixels on the short side, 2 from 320, 3 from 480); the two numbers go on two
/// lines when one line would not fit the width.
pub fn stamp_step(
    rgb: &mut [u8],
    width: u32,
    height: u32,
    step: usize,
    reward: f64,
    success: bool,
) {
    let scale = (width.min(height) / 160).max(1);
    let one_line = format!("t {step}  r {reward:.2}");
    let text = if text_size(&one_line, scale).0 <= width {
        one_line
    } else {
        format!("t {step}\nr {reward:.2}")
    };
    draw_text(rgb, width, height, 0, 0, &text, scale, [255, 255, 255]);
    if success {
        let (_, h) = text_size("success", scale);
        let y = i64::from(height) - i64::from(h);
        let y = i32::try_from(y).unwrap_or(i32::MAX);
        draw_text(rgb, width, height, 0, y, "success", scale, [64, 255, 64]);
    }
}

/// Draws `src` (`sw` x `sh` RGB) as an inset in the bottom-right corner of the frame, scaled
/// (nearest neighbour) so its longer side is `side` pixels, inside a 1-pixel `border`; videos
/// recorded against a goal show the goal frame this way. Nothing is drawn when `src` does not
/// hold `sw * sh` pixels or the inset does not fit.
#[allow(clippy::too_many_arguments)]
pub fn inset(
    rgb: &mut [u8],
    width: u32,
    height: u32,
    src: &[u8],
    sw: u32,
    sh: u32,
    side: u32,
    border: [u8; 3],
) {
    if sw == 0 || sh == 0 || src.len() != (sw * sh * 3) as usize {
        return;
    }
    let scale = f64::from(side) / f64::from(sw.max(sh));
    let (w, h) = (
        ((f64::from(sw) * scale).round() as u32).max(1),
        ((f64::from(sh) * scale).round() as u32).max(1),
    );
    if w + 2 > width || h + 2 > height {
        return;
    }
    let Some(mut canvas) = Canvas::new(rgb, width, height) else {
        return;
    };
    let (x0, y0) = (i64::from(width - w - 1), i64::from(height - h - 1));
    canvas.fill(
        x0 - 1,
        y0 - 1,
        x0 + i64::from(w) + 1,
        y0 + i64::from(h) + 1,
        |p| p.copy_from_slice(&border),
    );
    for y in 0..h {
        let sy = (u64::from(y) * u64::from(sh) / u64::from(h)) as usize;
        for x in 0..w {
            let sx = (u64::from(x) * u64::from(sw) / u64::from(w)) as usize;
            let i = (sy * sw as usize + sx) * 3;
            let c = [src[i], src[i + 1], src[i + 2]];
            let (px, py) = (x0 + i64::from(x), y0 + i64::from(y));
            canvas.fill(px, py, px + 1, py + 1, |p| p.copy_from_slice(&c));
        }
    }
}

/// The drawable part of a frame: whole rows of `width` RGB pixels, with clipping helpers.
struct Canvas<'a> {
    rgb: &'a mut [u8],
    width: i64,
    height: i64,
}

impl<'a> Canvas<'a> {
    fn new(rgb: &'a mut [u8], width: u32, height: u32) -> Option<Self> {
        let row = (width as usize).checked_mul(3).filter(|&r| r > 0)?;
        let rows = (rgb.len() / row).min(height as usize);
        (rows > 0).then_some(Canvas {
            rgb,
            width: i64::from(width),
            height: rows as i64,
        })
    }

    /// Applies `f` to every pixel of `[x0, x1) x [y0, y1)` inside the canvas.
    fn fill(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, mut f: impl FnMut(&mut [u8])) {
        let (x0, x1) = (x0.clamp(0, self.width), x1.clamp(0, self.width));
        let (y0, y1) = (y0.clamp(0, self.height), y1.clamp(0, self.height));
        for yy in y0..y1 {
            let row = (yy * self.width * 3) as usize;
            for xx in x0..x1 {
                let i = row + xx as usize * 3;
                f(&mut self.rgb[i..i + 3]);
            }
        }
    }
}
