//! Where the task's object is in a frame: the centroid of its saturated orange pixels (the
//! renderer gives the object to be moved, and nothing else, that colour; see
//! `genreward_render::scene::material`). `eval-goals` compares the object's place in a
//! generated goal's last frame with the expert's. The detector is validated against the sim's
//! object position projected into the camera (`tests/object.rs`).

use genreward_render::{CameraName, ViewSpec};

/// Whether an RGB pixel is the object's orange: red well above green, green well above blue
/// (the wooden table's blue is half its red; the arm's green is a tenth of its red).
fn is_object(p: &[u8]) -> bool {
    let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
    r >= 80.0 && b <= 0.2 * r && g >= 0.35 * r && g <= 0.6 * r
}

/// The centroid (pixels from the top-left corner, a pixel's centre at `+0.5`) of the object's
/// pixels in a `width x height` RGB frame; `None` when none shows.
pub fn detect_object(rgb: &[u8], width: u32, height: u32) -> Option<[f64; 2]> {
    let (mut n, mut sx, mut sy) = (0usize, 0.0, 0.0);
    for (i, p) in rgb
        .chunks_exact(3)
        .take((width * height) as usize)
        .enumerate()
    {
        if is_object(p) {
            n += 1;
            sx += (i as u32 % width) as f64 + 0.5;
            sy += (i as u32 / width) as f64 + 0.5;
        }
    }
    (n > 0).then(|| [sx / n as f64, sy / n as f64])
}

/// Where the object at `object` (world, metres) shows in `view`'s frame with the hand at `hand`
/// (hand-tracking cameras move with it).
pub fn project_object(view: ViewSpec, object: [f64; 3], hand: [f64; 3]) -> Option<[f64; 2]> {
    let pose = match view.camera {
        c @ (CameraName::BehindGripper | CameraName::GripperPov) => c.pose(hand),
        c => c.pose([0.0; 3]),
    };
    pose.project(object, view.width, view.height)
}

/// Distance in pixels between two points.
pub fn pixel_distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_centroid_is_the_mean_of_the_orange_pixels_and_nothing_else_counts() {
        let (w, h) = (4u32, 3u32);
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        let put = |rgb: &mut [u8], x: u32, y: u32, c: [u8; 3]| {
            let i = ((y * w + x) * 3) as usize;
            rgb[i..i + 3].copy_from_slice(&c);
        };
        // Table wood, arm red, goal green, grey: none is the object.
        put(&mut rgb, 0, 0, [184, 143, 102]);
        put(&mut rgb, 1, 0, [158, 20, 25]);
        put(&mut rgb, 2, 0, [25, 217, 64]);
        put(&mut rgb, 3, 0, [120, 120, 120]);
        assert_eq!(detect_object(&rgb, w, h), None);
        // Lit and shaded orange.
        put(&mut rgb, 1, 1, [242, 115, 20]);
        put(&mut rgb, 3, 2, [120, 56, 10]);
        assert_eq!(detect_object(&rgb, w, h), Some([2.5, 2.0]));
    }
}
