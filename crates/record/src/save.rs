//! Write a whole clip to any format [`load_video`](crate::load_video) reads back: `.mp4`, `.gif`,
//! `.npy`, or a folder of PNG frames (`frame_0000.png`, ...) for a path without an extension.

use crate::{NpyWriter, RecordError, VideoWriter};
use std::path::Path;

/// What [`save_frames`] writes for `path`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClipFormat {
    Mp4,
    Gif,
    Npy,
    PngFolder,
}

impl ClipFormat {
    /// By extension; no extension means a folder of PNGs; others are refused.
    pub fn from_path(path: &Path) -> Result<ClipFormat, RecordError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
        {
            None => Ok(ClipFormat::PngFolder),
            Some(e) if e == "mp4" => Ok(ClipFormat::Mp4),
            Some(e) if e == "gif" => Ok(ClipFormat::Gif),
            Some(e) if e == "npy" => Ok(ClipFormat::Npy),
            Some(_) => Err(RecordError::InvalidParameters {
                path: path.to_path_buf(),
                reason: "unknown clip format: use .mp4, .gif, .npy or a folder name (PNG frames)"
                    .into(),
            }),
        }
    }
}

/// Writes `frames` (`width x height x 3` bytes each) to `path` in the format its name says.
pub fn save_frames(
    path: &Path,
    width: u32,
    height: u32,
    fps: u32,
    frames: &[Vec<u8>],
) -> Result<ClipFormat, RecordError> {
    let fmt = ClipFormat::from_path(path)?;
    match fmt {
        ClipFormat::Mp4 | ClipFormat::Gif => {
            let mut w = VideoWriter::create(path, width, height, fps)?;
            for f in frames {
                w.write_frame(f)?;
            }
            w.finish()?;
        }
        ClipFormat::Npy => {
            let mut w = NpyWriter::create(path, height, width)?;
            for f in frames {
                w.write_frame(f)?;
            }
            w.finish()?;
        }
        ClipFormat::PngFolder => {
            std::fs::create_dir_all(path).map_err(|source| RecordError::Create {
                kind: "PNG folder",
                path: path.to_path_buf(),
                source,
            })?;
            for (i, f) in frames.iter().enumerate() {
                let p = path.join(format!("frame_{i:04}.png"));
                if f.len() != (width * height * 3) as usize {
                    return Err(RecordError::frame_size(&p, width, height, f.len()));
                }
                image::save_buffer(&p, f, width, height, image::ExtendedColorType::Rgb8)
                    .map_err(|e| RecordError::encode(&p, e))?;
            }
        }
    }
    Ok(fmt)
}
