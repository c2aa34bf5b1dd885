//! Still pictures made of frames, text and colour: the goal-frame strip and the reward-field
//! heatmap are drawn with these, then saved as PNG.

use crate::{overlay, RecordError};
use std::path::Path;

/// An RGB picture, 8 bits per channel, row 0 at the top.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Picture {
    /// A picture filled with `color`.
    pub fn new(width: u32, height: u32, color: [u8; 3]) -> Picture {
        let n = width as usize * height as usize;
        Picture {
            width,
            height,
            rgb: color.iter().copied().cycle().take(n * 3).collect(),
        }
    }

    /// Wraps an RGB frame; `None` unless it holds `width * height * 3` bytes.
    pub fn from_rgb(width: u32, height: u32, rgb: Vec<u8>) -> Option<Picture> {
        (rgb.len() as u64 == width as u64 * height as u64 * 3).then_some(Picture {
            width,
            height,
            rgb,
        })
    }

    /// Sets pixel (x, y); outside the picture does nothing.
    pub fn put(&mut self, x: i64, y: i64, color: [u8; 3]) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        self.rgb[i..i + 3].copy_from_slice(&color);
    }

    /// Pixel (x, y) (inside the picture).
    pub fn get(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Draws frame `src` (`sw x sh`) with its top-left corner at (x, y), each source pixel a
    /// `scale x scale` square.
    pub fn blit(&mut self, src: &[u8], sw: u32, sh: u32, x: i64, y: i64, scale: u32) {
        let s = scale.max(1) as i64;
        for py in 0..sh as i64 * s {
            for px in 0..sw as i64 * s {
                let i = (((py / s) * sw as i64 + px / s) * 3) as usize;
                self.put(x + px, y + py, [src[i], src[i + 1], src[i + 2]]);
            }
        }
    }

    /// Fills the rectangle [x, x + w) x [y, y + h).
    pub fn fill(&mut self, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]) {
        for py in y..y + h {
            for px in x..x + w {
                self.put(px, py, color);
            }
        }
    }

    /// Draws the outline of the rectangle [x, x + w) x [y, y + h), `t` pixels thick, inside it.
    pub fn outline(&mut self, x: i64, y: i64, w: i64, h: i64, t: i64, color: [u8; 3]) {
        self.fill(x, y, w, t, color);
        self.fill(x, y + h - t, w, t, color);
        self.fill(x, y, t, h, color);
        self.fill(x + w - t, y, t, h, color);
    }

    /// Text on a darkened box (see [`overlay::draw_text`]).
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, color: [u8; 3]) {
        overlay::draw_text(
            &mut self.rgb,
            self.width,
            self.height,
            x as i32,
            y as i32,
            text,
            scale,
            color,
        );
    }

    /// Writes the picture as PNG.
    pub fn save_png(&self, path: &Path) -> Result<(), RecordError> {
        image::save_buffer(
            path,
            &self.rgb,
            self.width,
            self.height,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| RecordError::encode(path, e))
    }
}

/// A perceptually ordered colour map (viridis, from its published anchor colours, linearly
/// interpolated): `t` in [0, 1] from dark purple (low) to yellow (high); outside is clamped,
/// NaN is grey.
pub fn colormap(t: f64) -> [u8; 3] {
    const STOPS: [[f64; 3]; 9] = [
        [68.0, 1.0, 84.0],
        [71.0, 44.0, 122.0],
        [59.0, 81.0, 139.0],
        [44.0, 113.0, 142.0],
        [33.0, 144.0, 141.0],
        [39.0, 173.0, 129.0],
        [92.0, 200.0, 99.0],
        [170.0, 220.0, 50.0],
        [253.0, 231.0, 37.0],
    ];
    if t.is_nan() {
        return [128, 128, 128];
    }
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    [0, 1, 2].map(|c| (a[c] + f * (b[c] - a[c])).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_ends_and_order() {
        assert_eq!(colormap(0.0), [68, 1, 84]);
        assert_eq!(colormap(1.0), [253, 231, 37]);
        assert_eq!(colormap(-3.0), colormap(0.0));
        assert_eq!(colormap(f64::NAN), [128, 128, 128]);
        // Brightness rises along the map.
        let lum = |c: [u8; 3]| 0.3 * c[0] as f64 + 0.59 * c[1] as f64 + 0.11 * c[2] as f64;
        let l: Vec<f64> = (0..=10).map(|i| lum(colormap(i as f64 / 10.0))).collect();
        assert!(l.windows(2).all(|w| w[1] > w[0]), "{l:?}");
    }

    #[test]
    fn blit_scales_and_clips() {
        let mut p = Picture::new(5, 4, [0, 0, 0]);
        let src = [10, 20, 30, 40, 50, 60];
        p.blit(&src, 2, 1, 3, 2, 2);
        assert_eq!(p.get(3, 2), [10, 20, 30]);
        assert_eq!(p.get(4, 3), [10, 20, 30]);
        assert_eq!(p.get(2, 2), [0, 0, 0]);
        p.outline(0, 0, 5, 4, 1, [9, 9, 9]);
        assert_eq!(p.get(0, 3), [9, 9, 9]);
        assert_eq!(p.get(1, 1), [0, 0, 0]);
    }
}
