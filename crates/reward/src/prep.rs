//! Bringing frames of any size to the model's square input.
//!
//! A frame that is not square is centre-cropped to its largest centred square; the square is then
//! resized to `size x size` with a triangle (bilinear) filter whose support widens with the scale
//! factor when shrinking (`image`'s `FilterType::Triangle`), so a 256x256 frame becomes a fair
//! area average, not an aliased subsample. Frames already `size x size` pass unchanged, bit for
//! bit, so our own 64x64 observations are encoded exactly as rendered.

use image::imageops::{self, FilterType};
use image::RgbImage;

use crate::RewardError;

/// `rgb` (`w x h x 3` bytes) as a `size x size x 3` frame (see the module docs); a buffer of
/// another length, or an empty frame, is [`RewardError::FrameSize`].
pub fn to_model_input(rgb: &[u8], w: u32, h: u32, size: u32) -> Result<Vec<u8>, RewardError> {
    let wrong = || RewardError::FrameSize {
        bytes: rgb.len(),
        width: w,
        height: h,
    };
    if w == 0 || h == 0 || rgb.len() as u64 != w as u64 * h as u64 * 3 {
        return Err(wrong());
    }
    if w == size && h == size {
        return Ok(rgb.to_vec());
    }
    let img = RgbImage::from_raw(w, h, rgb.to_vec()).ok_or_else(wrong)?;
    let side = w.min(h);
    let (x0, y0) = ((w - side) / 2, (h - side) / 2);
    let square = imageops::crop_imm(&img, x0, y0, side, side).to_image();
    Ok(imageops::resize(&square, size, size, FilterType::Triangle).into_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_size_frames_pass_unchanged() {
        let f: Vec<u8> = (0..64 * 64 * 3).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(to_model_input(&f, 64, 64, 64).unwrap(), f);
    }

    #[test]
    fn a_wide_frame_is_centre_cropped_then_averaged() {
        // 256x128: left quarter red, middle half green, right quarter blue.
        let (w, h) = (256u32, 128u32);
        let mut f = vec![0u8; (w * h * 3) as usize];
        for y in 0..h {
            for x in 0..w {
                let c = if x < 64 {
                    0
                } else if x < 192 {
                    1
                } else {
                    2
                };
                f[((y * w + x) * 3 + c) as usize] = 255;
            }
        }
        let out = to_model_input(&f, w, h, 16).unwrap();
        assert_eq!(out.len(), 16 * 16 * 3);
        // The centred 128x128 square is all green.
        assert!(out.chunks(3).all(|p| p == [0, 255, 0]), "{:?}", &out[..12]);
    }

    #[test]
    fn a_buffer_of_the_wrong_length_is_an_error_that_names_the_sizes() {
        let e = to_model_input(&[0u8; 10], 2, 2, 64)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "a frame of 2x2 RGB needs 12 bytes, not 10");
        assert!(to_model_input(&[], 0, 0, 64).is_err());
    }
}
