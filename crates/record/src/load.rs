//! Read a video back, whatever the user brings: H.264 `.mp4` (decoded with the same OpenH264
//! the writer uses), animated `.gif`, `.npy` (uint8 `[T, H, W, 3]`) or a folder of `.png`
//! frames (taken in file-name order). Every failure is one line naming the file.

use crate::{read_npy_u8, RecordError};
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Largest side we accept, and the most bytes a decoded video may take.
pub const MAX_SIDE: u32 = 4096;
pub const MAX_BYTES: usize = 4 << 30;

/// A decoded video: `frames[t]` is `width * height * 3` bytes of RGB, row 0 at the top.
#[derive(Clone, Debug, PartialEq)]
pub struct Video {
    pub width: u32,
    pub height: u32,
    pub frames: Vec<Vec<u8>>,
}

impl Video {
    /// Checks sizes and frame lengths; `path` names the source in errors.
    pub fn new(
        path: &Path,
        width: u32,
        height: u32,
        frames: Vec<Vec<u8>>,
    ) -> Result<Video, RecordError> {
        let bad = |m: String| RecordError::InvalidVideo {
            path: path.to_path_buf(),
            message: m,
        };
        if width == 0 || height == 0 {
            return Err(bad(format!("frame size {width}x{height} is empty")));
        }
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(bad(format!(
                "frame size {width}x{height} is over {MAX_SIDE} a side"
            )));
        }
        if frames.is_empty() {
            return Err(bad("it holds no frames".into()));
        }
        let n = width as usize * height as usize * 3;
        if let Some(i) = frames.iter().position(|f| f.len() != n) {
            return Err(bad(format!("frame {i} is not {width}x{height}")));
        }
        Ok(Video {
            width,
            height,
            frames,
        })
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// The formats [`load_video`] reads, by extension (or a folder).
pub const READABLE: &str = ".mp4, .gif, .npy or a folder of .png frames";

/// Reads the video at `path`: see the module documentation for the formats.
///
/// The decoders are third-party parsers fed with whatever file the user names; should one of
/// them panic on a malformed file, that becomes the same one-line error as any other corrupt file.
pub fn load_video(path: &Path) -> Result<Video, RecordError> {
    std::panic::catch_unwind(|| load_video_inner(path))
        .unwrap_or_else(|_| Err(invalid(path, "the decoder failed on a malformed file")))
}

fn load_video_inner(path: &Path) -> Result<Video, RecordError> {
    if path.is_dir() {
        return load_png_dir(path);
    }
    if !path.exists() {
        return Err(RecordError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("npy") => load_npy(path),
        Some("gif") => load_gif(path),
        Some("mp4") => load_mp4(path),
        Some("png") => {
            let (w, h, f) = read_png(path)?;
            Video::new(path, w, h, vec![f])
        }
        _ => Err(RecordError::InvalidVideo {
            path: path.to_path_buf(),
            message: format!("unknown video format: use {READABLE}"),
        }),
    }
}

fn invalid(path: &Path, m: impl std::fmt::Display) -> RecordError {
    RecordError::InvalidVideo {
        path: path.to_path_buf(),
        message: m.to_string().replace('\n', " "),
    }
}

fn load_npy(path: &Path) -> Result<Video, RecordError> {
    let (shape, data) = read_npy_u8(path)?;
    if shape.len() != 4 || shape[3] != 3 {
        return Err(invalid(
            path,
            format!("shape {shape:?} is not [T, H, W, 3]"),
        ));
    }
    let (t, h, w) = (shape[0], shape[1], shape[2]);
    if h > MAX_SIDE as usize || w > MAX_SIDE as usize {
        return Err(invalid(
            path,
            format!("frame size {w}x{h} is over {MAX_SIDE} a side"),
        ));
    }
    let n = h * w * 3;
    let frames = if n == 0 {
        Vec::new()
    } else {
        data.chunks_exact(n).take(t).map(<[u8]>::to_vec).collect()
    };
    Video::new(path, w as u32, h as u32, frames)
}

fn read_png(path: &Path) -> Result<(u32, u32, Vec<u8>), RecordError> {
    let reader = image::ImageReader::open(path)
        .map_err(|source| RecordError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .with_guessed_format()
        .map_err(|source| RecordError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let (w, h) = reader.into_dimensions().map_err(|e| invalid(path, e))?;
    if w > MAX_SIDE || h > MAX_SIDE || w == 0 || h == 0 {
        return Err(invalid(
            path,
            format!("frame size {w}x{h} is empty or over {MAX_SIDE} a side"),
        ));
    }
    let img = image::open(path).map_err(|e| invalid(path, e))?.to_rgb8();
    Ok((img.width(), img.height(), img.into_raw()))
}

fn load_png_dir(dir: &Path) -> Result<Video, RecordError> {
    let rd = std::fs::read_dir(dir).map_err(|source| RecordError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("png"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(invalid(dir, "the folder holds no .png frames"));
    }
    let mut frames = Vec::with_capacity(files.len());
    let mut size = None;
    for f in &files {
        let (w, h, rgb) = read_png(f)?;
        match size {
            None => size = Some((w, h)),
            Some(s) if s != (w, h) => {
                return Err(invalid(
                    f,
                    format!("is {w}x{h} but the first frame is {}x{}", s.0, s.1),
                ))
            }
            _ => {}
        }
        check_budget(dir, frames.len() + 1, w, h)?;
        frames.push(rgb);
    }
    let (w, h) = size.expect("at least one frame");
    Video::new(dir, w, h, frames)
}

fn check_budget(path: &Path, frames: usize, w: u32, h: u32) -> Result<(), RecordError> {
    if frames.saturating_mul(w as usize * h as usize * 3) > MAX_BYTES {
        return Err(invalid(
            path,
            format!(
                "{frames} frames of {w}x{h} exceed {} GiB decoded",
                MAX_BYTES >> 30
            ),
        ));
    }
    Ok(())
}

fn load_gif(path: &Path) -> Result<Video, RecordError> {
    use image::AnimationDecoder;
    let file = std::fs::File::open(path).map_err(|source| RecordError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let dec =
        image::codecs::gif::GifDecoder::new(BufReader::new(file)).map_err(|e| invalid(path, e))?;
    let mut frames = Vec::new();
    let mut size = None;
    for fr in dec.into_frames() {
        let fr = fr.map_err(|e| invalid(path, e))?;
        let buf = fr.into_buffer();
        let (w, h) = buf.dimensions();
        if *size.get_or_insert((w, h)) != (w, h) {
            return Err(invalid(path, "frames of different sizes"));
        }
        if w > MAX_SIDE || h > MAX_SIDE {
            return Err(invalid(
                path,
                format!("frame size {w}x{h} is over {MAX_SIDE} a side"),
            ));
        }
        check_budget(path, frames.len() + 1, w, h)?;
        frames.push(image::DynamicImage::ImageRgba8(buf).to_rgb8().into_raw());
    }
    let (w, h) = size.unwrap_or((0, 0));
    Video::new(path, w, h, frames)
}

/// Appends an Annex-B start code and the unit.
fn annex_b(out: &mut Vec<u8>, nal: &[u8]) {
    out.extend_from_slice(&[0, 0, 0, 1]);
    out.extend_from_slice(nal);
}

fn load_mp4(path: &Path) -> Result<Video, RecordError> {
    use openh264::decoder::Decoder;
    use openh264::formats::YUVSource;
    let file = std::fs::File::open(path).map_err(|source| RecordError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut mp4 = mp4::Mp4Reader::read_header(BufReader::new(file), size)
        .map_err(|e| invalid(path, format!("not a readable MP4: {e}")))?;
    let track = mp4
        .tracks()
        .values()
        .find(|t| matches!(t.media_type(), Ok(mp4::MediaType::H264)))
        .ok_or_else(|| invalid(path, "no H.264 video track"))?;
    let id = track.track_id();
    let (tw, th) = (u32::from(track.width()), u32::from(track.height()));
    if tw == 0 || th == 0 || tw > MAX_SIDE || th > MAX_SIDE {
        return Err(invalid(
            path,
            format!("frame size {tw}x{th} is empty or over {MAX_SIDE} a side"),
        ));
    }
    let mut head = Vec::new();
    let sps = track
        .sequence_parameter_set()
        .map_err(|e| invalid(path, e))?;
    let pps = track
        .picture_parameter_set()
        .map_err(|e| invalid(path, e))?;
    annex_b(&mut head, sps);
    annex_b(&mut head, pps);
    let count = mp4.sample_count(id).map_err(|e| invalid(path, e))?;
    check_budget(path, count as usize, tw, th)?;
    let mut dec = Decoder::new().map_err(|e| invalid(path, e))?;
    let mut frames = Vec::with_capacity(count as usize);
    let take = |yuv: &openh264::decoder::DecodedYUV<'_>, frames: &mut Vec<Vec<u8>>| {
        let (w, h) = yuv.dimensions();
        let mut rgb = vec![0u8; w * h * 3];
        yuv.write_rgb8(&mut rgb);
        // Crop to the track's size should the decoder hand back a larger picture.
        let (cw, ch) = ((tw as usize).min(w), (th as usize).min(h));
        let mut out = Vec::with_capacity(cw * ch * 3);
        for y in 0..ch {
            out.extend_from_slice(&rgb[y * w * 3..(y * w + cw) * 3]);
        }
        frames.push(out);
    };
    for s in 1..=count {
        let sample = mp4
            .read_sample(id, s)
            .map_err(|e| invalid(path, format!("sample {s}: {e}")))?
            .ok_or_else(|| invalid(path, format!("sample {s} is missing (truncated file?)")))?;
        let mut packet = if s == 1 { head.clone() } else { Vec::new() };
        let mut rest: &[u8] = &sample.bytes;
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err(invalid(path, format!("sample {s} is truncated")));
            }
            let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let nal = rest
                .get(4..4 + n)
                .ok_or_else(|| invalid(path, format!("sample {s} is truncated")))?;
            annex_b(&mut packet, nal);
            rest = &rest[4 + n..];
        }
        let decoded = dec
            .decode(&packet)
            .map_err(|e| invalid(path, format!("H.264 sample {s}: {e}")))?;
        if let Some(yuv) = decoded {
            take(&yuv, &mut frames);
        }
    }
    let rest = dec
        .flush_remaining()
        .map_err(|e| invalid(path, format!("H.264: {e}")))?;
    for yuv in &rest {
        take(yuv, &mut frames);
    }
    Video::new(path, tw, th, frames)
}
