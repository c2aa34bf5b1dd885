//! uint8 RGB frames (row-major, row 0 at the top, `[H, W, 3]`) to tensors and back.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// A frame whose byte count is not `width x height x 3`, or a frame list of the wrong length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameSizeError {
    #[error("frame {index} holds {bytes} bytes; a {width}x{height} RGB frame holds {}", *width as u64 * *height as u64 * 3)]
    Bytes {
        index: usize,
        bytes: usize,
        width: u32,
        height: u32,
    },
    #[error("{got} frame(s) given where {clips} clip(s) of {t} need {}", clips * t)]
    Count { got: usize, clips: usize, t: usize },
}

/// Checks that every frame holds `w x h x 3` bytes.
pub fn check_frames(frames: &[&[u8]], w: u32, h: u32) -> Result<(), FrameSizeError> {
    let want = w as u64 * h as u64 * 3;
    match frames.iter().position(|f| f.len() as u64 != want) {
        Some(index) => Err(FrameSizeError::Bytes {
            index,
            bytes: frames[index].len(),
            width: w,
            height: h,
        }),
        None => Ok(()),
    }
}

/// Stacks `clips` of `t` frames each, every frame `size x size x 3` bytes, into a
/// `[clips, 3, t, size, size]` tensor with values in `[-1, 1]` (`v / 127.5 - 1`).
pub fn clips_to_tensor<B: Backend>(
    frames: &[&[u8]],
    clips: usize,
    t: usize,
    size: usize,
    device: &B::Device,
) -> Result<Tensor<B, 5>, FrameSizeError> {
    if frames.len() != clips * t {
        return Err(FrameSizeError::Count {
            got: frames.len(),
            clips,
            t,
        });
    }
    check_frames(frames, size as u32, size as u32)?;
    let hw = size * size;
    let mut data = vec![0f32; clips * t * hw * 3];
    // Target layout [clip, channel, time, y, x].
    for (i, f) in frames.iter().enumerate() {
        let (clip, ti) = (i / t, i % t);
        for c in 0..3 {
            let base = ((clip * 3 + c) * t + ti) * hw;
            let dst = &mut data[base..base + hw];
            for (p, d) in dst.iter_mut().enumerate() {
                *d = f[p * 3 + c] as f32 / 127.5 - 1.0;
            }
        }
    }
    Ok(Tensor::from_data(
        TensorData::new(data, [clips, 3, t, size, size]),
        device,
    ))
}

/// The inverse of [`clips_to_tensor`] for one clip: `[1, 3, T, H, W]` (or the first clip of a
/// batch) back to `T` frames of `H x W x 3` bytes, clamped and rounded.
pub fn tensor_to_frames<B: Backend>(video: Tensor<B, 5>) -> Vec<Vec<u8>> {
    let [_, _, t, h, w] = video.dims();
    let v = video
        .slice([0..1, 0..3, 0..t, 0..h, 0..w])
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("f32 data");
    let hw = h * w;
    (0..t)
        .map(|ti| {
            let mut f = vec![0u8; hw * 3];
            for c in 0..3 {
                let base = (c * t + ti) * hw;
                for p in 0..hw {
                    let x = ((v[base + p] + 1.0) * 127.5).round().clamp(0.0, 255.0);
                    f[p * 3 + c] = x as u8;
                }
            }
            f
        })
        .collect()
}
