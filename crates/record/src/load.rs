//! Read a video back, whatever the user brings: H.264 `.mp4` (decoded with the same OpenH264
//! the writer uses), animated `.gif`, `.npy` (uint8 `[T, H, W, 3]`) or a folder of `.png`
//! frames (taken in file-name order). Every failure is one line naming the file.

use crate::{read_npy_u8, RecordError};
use std::io::{BufReader, Read, Seek, SeekFrom};
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
    let Some((w, h)) = size else {
        return Err(invalid(dir, "the folder holds no .png frames"));
    };
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

/// One top-level MP4 box: its four-character type, where it starts, where its payload starts
/// and where it ends as its header says (possibly past the end of a truncated file).
struct TopBox {
    kind: [u8; 4],
    start: u64,
    body: u64,
    end: u64,
}

/// The top-level boxes of an MP4 file of `size` bytes, in order, from their headers alone; the
/// scan stops at a header that is cut off or nonsensical.
fn top_level_boxes<R: Read + Seek>(file: &mut R, size: u64) -> std::io::Result<Vec<TopBox>> {
    let mut boxes = Vec::new();
    let mut pos = 0u64;
    while pos.saturating_add(8) <= size {
        file.seek(SeekFrom::Start(pos))?;
        let mut header = [0u8; 8];
        file.read_exact(&mut header)?;
        let kind = [header[4], header[5], header[6], header[7]];
        let (len, body) = match u32::from_be_bytes([header[0], header[1], header[2], header[3]]) {
            0 => (size - pos, pos + 8), // extends to the end of the file
            1 => {
                if pos + 16 > size {
                    break;
                }
                let mut large = [0u8; 8];
                file.read_exact(&mut large)?;
                (u64::from_be_bytes(large), pos + 16)
            }
            n => (u64::from(n), pos + 8),
        };
        if len < body - pos {
            break;
        }
        let end = pos.saturating_add(len);
        boxes.push(TopBox {
            kind,
            start: pos,
            body,
            end,
        });
        pos = end;
    }
    Ok(boxes)
}

/// The H.264 track of an MP4: its id, size in pixels, SPS and PPS (without start codes).
struct AvcTrack {
    id: u32,
    width: u32,
    height: u32,
    sps: Vec<u8>,
    pps: Vec<u8>,
}

fn avc_track<R: Read + Seek>(
    path: &Path,
    mp4: &mp4::Mp4Reader<R>,
) -> Result<AvcTrack, RecordError> {
    let track = mp4
        .tracks()
        .values()
        .find(|t| matches!(t.media_type(), Ok(mp4::MediaType::H264)))
        .ok_or_else(|| invalid(path, "no H.264 video track"))?;
    let (tw, th) = (u32::from(track.width()), u32::from(track.height()));
    if tw == 0 || th == 0 || tw > MAX_SIDE || th > MAX_SIDE {
        return Err(invalid(
            path,
            format!("frame size {tw}x{th} is empty or over {MAX_SIDE} a side"),
        ));
    }
    let sps = track
        .sequence_parameter_set()
        .map_err(|e| invalid(path, e))?;
    let pps = track
        .picture_parameter_set()
        .map_err(|e| invalid(path, e))?;
    Ok(AvcTrack {
        id: track.track_id(),
        width: tw,
        height: th,
        sps: sps.to_vec(),
        pps: pps.to_vec(),
    })
}

/// Reads an H.264 MP4: a plain one (one `moov` indexing every sample) or a fragmented one
/// (`moof` + `mdat` pairs, as [`VideoWriter`](crate::VideoWriter) writes). A fragmented file
/// cut short, by a crash for instance, gives every sample stored whole before the cut.
fn load_mp4(path: &Path) -> Result<Video, RecordError> {
    let read_error = |source| RecordError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let boxes = top_level_boxes(&mut file, size).map_err(read_error)?;
    // Fragmented: it has fragments, or its movie header announces them (`mvex`), as in a file
    // whose writer died before its first fragment was complete.
    let mut fragmented = boxes.iter().any(|b| &b.kind == b"moof");
    if let Some(moov) = boxes.iter().find(|b| &b.kind == b"moov" && b.end <= size) {
        if !fragmented && moov.end - moov.body <= 1 << 24 {
            let mut body = vec![0u8; (moov.end - moov.body) as usize];
            file.seek(SeekFrom::Start(moov.body))
                .and_then(|_| file.read_exact(&mut body))
                .map_err(read_error)?;
            fragmented = child_boxes(&body).is_ok_and(|c| c.iter().any(|(k, _)| k == b"mvex"));
        }
    }
    if fragmented {
        return load_fragmented_mp4(path, file, size, &boxes);
    }
    file.seek(SeekFrom::Start(0)).map_err(read_error)?;
    let mut mp4 = mp4::Mp4Reader::read_header(BufReader::new(file), size)
        .map_err(|e| invalid(path, format!("not a readable MP4: {e}")))?;
    let track = avc_track(path, &mp4)?;
    let count = mp4.sample_count(track.id).map_err(|e| invalid(path, e))?;
    decode_h264(path, &track, count, |s| {
        let sample = mp4
            .read_sample(track.id, s)
            .map_err(|e| invalid(path, format!("sample {s}: {e}")))?
            .ok_or_else(|| invalid(path, format!("sample {s} is missing (truncated file?)")))?;
        Ok(sample.bytes.to_vec())
    })
}

fn load_fragmented_mp4(
    path: &Path,
    mut file: std::fs::File,
    size: u64,
    boxes: &[TopBox],
) -> Result<Video, RecordError> {
    let read_error = |source| RecordError::Read {
        path: path.to_path_buf(),
        source,
    };
    let read_box = |file: &mut std::fs::File, b: &TopBox| -> Result<Vec<u8>, RecordError> {
        let mut bytes = vec![0u8; (b.end - b.start) as usize];
        file.seek(SeekFrom::Start(b.start))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(read_error)?;
        Ok(bytes)
    };
    // The header part (ftyp + moov) goes to the `mp4` parser for the track and its SPS/PPS.
    let mut head = Vec::new();
    for kind in [b"ftyp", b"moov"] {
        let b = boxes.iter().find(|b| &b.kind == kind).ok_or_else(|| {
            invalid(
                path,
                format!("not a readable MP4: no {} box", kind.escape_ascii()),
            )
        })?;
        if b.end > size {
            return Err(invalid(
                path,
                "not a readable MP4: the moov box is truncated",
            ));
        }
        head.extend_from_slice(&read_box(&mut file, b)?);
    }
    let head_len = head.len() as u64;
    let mp4 = mp4::Mp4Reader::read_header(std::io::Cursor::new(head), head_len)
        .map_err(|e| invalid(path, format!("not a readable MP4: {e}")))?;
    let track = avc_track(path, &mp4)?;
    let default_size = mp4
        .moov
        .mvex
        .as_ref()
        .filter(|m| m.trex.track_id == track.id)
        .map_or(0, |m| m.trex.default_sample_size);

    // Where each sample of the track is: (file offset, size), in decoding order.
    let mut samples: Vec<(u64, u32)> = Vec::new();
    for b in boxes.iter().filter(|b| &b.kind == b"moof") {
        if b.end > size {
            break; // a fragment cut off mid-header: the file ends there
        }
        let moof = read_box(&mut file, b)?;
        let body = &moof[(b.body - b.start) as usize..];
        let found = moof_samples(body, b.start, track.id, default_size)
            .map_err(|m| invalid(path, format!("fragment at byte {}: {m}", b.start)))?;
        samples.extend(found);
    }
    // Keep the samples stored whole; a crash or a cut may have left the last ones short.
    if let Some(cut) = samples
        .iter()
        .position(|&(at, n)| at.saturating_add(u64::from(n)) > size)
    {
        samples.truncate(cut);
    }
    if samples.is_empty() {
        return Err(invalid(
            path,
            "the MP4 holds no complete video sample (truncated file?)",
        ));
    }
    let count = u32::try_from(samples.len()).map_err(|_| invalid(path, "too many samples"))?;
    decode_h264(path, &track, count, |s| {
        let (at, n) = samples[s as usize - 1];
        let mut bytes = vec![0u8; n as usize];
        file.seek(SeekFrom::Start(at))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(read_error)?;
        Ok(bytes)
    })
}

/// A big-endian reader over a box payload; running past its end is an error.
struct Be<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Be<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let out = self
            .buf
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or("a box is shorter than its fields")?;
        self.pos += n;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
}

/// The child boxes of a payload: (type, payload).
fn child_boxes(mut buf: &[u8]) -> Result<Vec<([u8; 4], &[u8])>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let mut r = Be { buf, pos: 0 };
        let len = r.u32()? as u64;
        let kind: [u8; 4] = r.take(4)?.try_into().expect("4 bytes");
        let len = match len {
            0 => buf.len() as u64,
            1 => r.u64()?,
            n => n,
        };
        if len < r.pos as u64 || len > buf.len() as u64 {
            return Err(format!("box '{}' has a bad size", kind.escape_ascii()));
        }
        out.push((kind, &buf[r.pos..len as usize]));
        buf = &buf[len as usize..];
    }
    Ok(out)
}

/// The samples of track `track` that a `moof` (payload `body`, box at file offset
/// `moof_start`) describes: (file offset, size) each.
fn moof_samples(
    body: &[u8],
    moof_start: u64,
    track: u32,
    trex_size: u32,
) -> Result<Vec<(u64, u32)>, String> {
    let mut out = Vec::new();
    // Without an explicit base, a track fragment's data follows the previous one's.
    let mut next = moof_start;
    for (kind, traf) in child_boxes(body)? {
        if &kind != b"traf" {
            continue;
        }
        let children = child_boxes(traf)?;
        let (_, tfhd) = children
            .iter()
            .find(|(k, _)| k == b"tfhd")
            .ok_or("a track fragment has no tfhd")?;
        let mut r = Be { buf: tfhd, pos: 0 };
        let flags = r.u32()? & 0x00ff_ffff;
        let id = r.u32()?;
        let mut base = if flags & 0x02_0000 != 0 {
            moof_start
        } else {
            next
        };
        if flags & 0x01 != 0 {
            base = r.u64()?;
        }
        if flags & 0x02 != 0 {
            r.u32()?; // sample description index
        }
        if flags & 0x08 != 0 {
            r.u32()?; // default duration
        }
        let default_size = if flags & 0x10 != 0 {
            r.u32()?
        } else {
            trex_size
        };
        let mut pos = base;
        for (_, trun) in children.iter().filter(|(k, _)| k == b"trun") {
            let mut r = Be { buf: trun, pos: 0 };
            let flags = r.u32()? & 0x00ff_ffff;
            let count = r.u32()?;
            if flags & 0x01 != 0 {
                let offset = r.u32()? as i32;
                pos = base
                    .checked_add_signed(i64::from(offset))
                    .ok_or("a data offset points before the file")?;
            }
            if flags & 0x04 != 0 {
                r.u32()?; // first sample flags
            }
            for _ in 0..count {
                if flags & 0x100 != 0 {
                    r.u32()?; // duration
                }
                let n = if flags & 0x200 != 0 {
                    r.u32()?
                } else {
                    default_size
                };
                if flags & 0x400 != 0 {
                    r.u32()?; // flags
                }
                if flags & 0x800 != 0 {
                    r.u32()?; // composition time offset
                }
                if id == track {
                    out.push((pos, n));
                }
                pos = pos.saturating_add(u64::from(n));
            }
        }
        next = pos;
    }
    Ok(out)
}

/// Decodes `count` H.264 samples (4-byte length-prefixed NAL units; `sample(s)` gives sample
/// `s`, from 1) of `track` into RGB frames cropped to the track's size.
fn decode_h264(
    path: &Path,
    track: &AvcTrack,
    count: u32,
    mut sample: impl FnMut(u32) -> Result<Vec<u8>, RecordError>,
) -> Result<Video, RecordError> {
    use openh264::decoder::Decoder;
    use openh264::formats::YUVSource;
    let (tw, th) = (track.width, track.height);
    let mut head = Vec::new();
    annex_b(&mut head, &track.sps);
    annex_b(&mut head, &track.pps);
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
        let bytes = sample(s)?;
        let mut packet = if s == 1 { head.clone() } else { Vec::new() };
        let mut rest: &[u8] = &bytes;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain (unfragmented) MP4 as this crate wrote before fragments, and as most tools
    /// write: every sample indexed in a `moov` at the end. `frame(t)` gives frame t's RGB.
    fn write_plain_mp4(path: &Path, w: u32, h: u32, frames: u32, frame: impl Fn(u32) -> Vec<u8>) {
        use openh264::encoder::Encoder;
        use openh264::formats::{RgbSliceU8, YUVBuffer};
        let mut encoder = Encoder::new().unwrap();
        let out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        let config = mp4::Mp4Config {
            major_brand: "isom".parse().unwrap(),
            minor_version: 512,
            compatible_brands: vec!["isom".parse().unwrap(), "avc1".parse().unwrap()],
            timescale: 10,
        };
        let mut mux = mp4::Mp4Writer::write_start(out, &config).unwrap();
        let (mut sps, mut pps) = (None, None);
        let mut yuv = YUVBuffer::new(w as usize, h as usize);
        for t in 0..frames {
            yuv.read_rgb8(RgbSliceU8::new(&frame(t), (w as usize, h as usize)));
            let stream = encoder.encode(&yuv).unwrap();
            let (mut sample, mut sync) = (Vec::new(), false);
            for l in 0..stream.num_layers() {
                let layer = stream.layer(l).unwrap();
                for n in 0..layer.nal_count() {
                    let nal = layer.nal_unit(n).unwrap();
                    let nal = &nal[nal.iter().position(|&b| b == 1).unwrap() + 1..];
                    match nal[0] & 0x1f {
                        7 => sps = Some(nal.to_vec()),
                        8 => pps = Some(nal.to_vec()),
                        kind => {
                            sync |= kind == 5;
                            sample.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                            sample.extend_from_slice(nal);
                        }
                    }
                }
            }
            if t == 0 {
                let track = mp4::TrackConfig {
                    track_type: mp4::TrackType::Video,
                    timescale: 10,
                    language: "und".into(),
                    media_conf: mp4::MediaConfig::AvcConfig(mp4::AvcConfig {
                        width: w as u16,
                        height: h as u16,
                        seq_param_set: sps.clone().unwrap(),
                        pic_param_set: pps.clone().unwrap(),
                    }),
                };
                mux.add_track(&track).unwrap();
            }
            let sample = mp4::Mp4Sample {
                start_time: u64::from(t),
                duration: 1,
                rendering_offset: 0,
                is_sync: sync,
                bytes: bytes::Bytes::from(sample),
            };
            mux.write_sample(1, &sample).unwrap();
        }
        mux.write_end().unwrap();
    }

    /// Plain MP4s (earlier recordings, other tools' files) still read back; cut short they
    /// are an error (their index is at the end), not a panic.
    #[test]
    fn plain_mp4_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.mp4");
        let frame = |t: u32| -> Vec<u8> {
            (0..32 * 16)
                .flat_map(|i| [(i % 32 * 8) as u8, (i / 32 * 16) as u8, (t * 20) as u8])
                .collect()
        };
        write_plain_mp4(&path, 32, 16, 12, frame);
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(4).any(|w| w == b"moof" || w == b"mvex"));
        let video = load_video(&path).unwrap();
        assert_eq!((video.width, video.height, video.len()), (32, 16, 12));
        for (t, got) in video.frames.iter().enumerate() {
            let want = frame(t as u32);
            let error: u64 = got
                .iter()
                .zip(&want)
                .map(|(&a, &b)| u64::from(a.abs_diff(b)))
                .sum();
            let mean = error as f64 / want.len() as f64;
            assert!(mean < 6.0, "frame {t}: mean error {mean:.1}");
        }
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = load_video(&path).unwrap_err().to_string();
        assert!(err.contains("not a readable MP4"), "{err}");
    }
}
