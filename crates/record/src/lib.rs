//! Write what a user keeps from a rollout.
//!
//! * [`VideoWriter`] streams RGB frames into an H.264 `.mp4` (OpenH264, built from source)
//!   or an animated `.gif`, chosen by the file extension.
//! * [`NpyWriter`] streams `uint8` frames into a NumPy `.npy` array of shape `[T, H, W, 3]`;
//!   [`read_npy_u8`] reads such a file back.
//! * [`load_video`] reads a video back from `.mp4`, `.gif`, `.npy` or a folder of `.png` frames.
//! * [`picture`] composes stills (frames, text, a colour map) and saves them as PNG.
//! * [`overlay`] stamps ASCII text (step, reward, success) onto a frame.
//!
//! Frames everywhere are RGB, 8 bits per channel, row-major, row 0 at the top:
//! `width * height * 3` bytes.

use std::path::{Path, PathBuf};

mod load;
mod npy;
pub mod overlay;
pub mod picture;
mod save;
mod video;

pub use load::{load_video, Video, MAX_SIDE, READABLE};
pub use npy::{read_npy_f32, read_npy_u8, write_npy_f32, NpyWriter};
pub use save::{save_frames, ClipFormat};
pub use video::{VideoFormat, VideoWriter, DEFAULT_FPS};

/// Everything that can go wrong while recording. Every message is one line and names the file.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The output file could not be created (missing directory, no permission, ...).
    #[error("cannot create {kind} file '{}': {source}", path.display())]
    Create {
        kind: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// Writing, seeking or flushing failed after the file was created.
    #[error("cannot write '{}': {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Reading a file failed.
    #[error("cannot read '{}': {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The extension names no format this crate writes.
    #[error("unsupported video format for '{}': use a .mp4 or .gif file name", path.display())]
    UnsupportedFormat { path: PathBuf },
    /// Width, height or frame rate the format cannot hold.
    #[error("invalid parameters for '{}': {reason}", path.display())]
    InvalidParameters { path: PathBuf, reason: String },
    /// A frame whose byte length is not `width * height * 3`.
    #[error("frame for '{}' has {got} bytes, expected {expected} ({width}x{height}x3)", path.display())]
    FrameSize {
        path: PathBuf,
        width: u32,
        height: u32,
        expected: usize,
        got: usize,
    },
    /// The H.264 encoder, the MP4 muxer or the GIF encoder failed.
    #[error("encoding '{}' failed: {message}", path.display())]
    Encode { path: PathBuf, message: String },
    /// A video that cannot be read back: unknown format, corrupt or truncated data, no frames,
    /// absurd sizes.
    #[error("cannot read video '{}': {message}", path.display())]
    InvalidVideo { path: PathBuf, message: String },
    /// A `.npy` file that is not a C-ordered uint8 array, or is truncated.
    #[error("invalid npy file '{}': {message}", path.display())]
    InvalidNpy { path: PathBuf, message: String },
}

impl RecordError {
    pub(crate) fn write(path: &Path, source: std::io::Error) -> Self {
        RecordError::Write {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn encode(path: &Path, message: impl std::fmt::Display) -> Self {
        // Keep messages on one line whatever the underlying library prints.
        let message = message.to_string().replace('\n', " ");
        RecordError::Encode {
            path: path.to_path_buf(),
            message,
        }
    }

    pub(crate) fn frame_size(path: &Path, width: u32, height: u32, got: usize) -> Self {
        RecordError::FrameSize {
            path: path.to_path_buf(),
            width,
            height,
            expected: width as usize * height as usize * 3,
            got,
        }
    }
}
