//! Streaming video output: H.264 in MP4 (OpenH264 + the `mp4` muxer) and animated GIF.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbaImage};
use openh264::encoder::{
    Encoder, EncoderConfig, FrameRate, IntraFramePeriod, RateControlMode, VuiConfig,
};
use openh264::formats::{RgbSliceU8, YUVBuffer};
use openh264::OpenH264API;

use crate::RecordError;

/// Frames per second used when the caller has no better idea: Meta-World's control rate.
pub const DEFAULT_FPS: u32 = 80;

/// The container chosen from a file name's extension (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoFormat {
    /// `.mp4`: H.264 (constrained baseline, 4:2:0) in an MP4 container.
    Mp4,
    /// `.gif`: animated GIF, 256 colours per frame, looping forever.
    Gif,
}

impl VideoFormat {
    /// Picks the format from `path`'s extension, so a CLI can reject a bad name before any work.
    pub fn from_path(path: &Path) -> Result<VideoFormat, RecordError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext.to_ascii_lowercase().as_str() {
            "mp4" => Ok(VideoFormat::Mp4),
            "gif" => Ok(VideoFormat::Gif),
            _ => Err(RecordError::UnsupportedFormat {
                path: path.to_path_buf(),
            }),
        }
    }

    /// The extension without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            VideoFormat::Mp4 => "mp4",
            VideoFormat::Gif => "gif",
        }
    }
}

/// Streams RGB frames into a video file; one output frame per input frame.
///
/// Nothing is buffered beyond the current frame (the MP4 muxer keeps at most one second of
/// encoded samples before writing them, plus a few bytes of index per frame), so memory stays
/// flat however long the rollout.
///
/// * MP4: H.264 needs even dimensions for 4:2:0 chroma. An odd width or height is padded by
///   repeating the last column / row, so a 63x47 input gives a 64x48 video.
/// * GIF: delays are stored in 1/100 s and players treat delays under 2/100 s as slow, so a
///   GIF never runs faster than 50 fps: above that the frames are all kept and play slower.
/// * With no frames written, the `.mp4` has no video track and the `.gif` is an empty file.
///
/// Call [`VideoWriter::finish`] to see errors; dropping an unfinished writer finishes it too,
/// ignoring errors.
pub struct VideoWriter {
    path: PathBuf,
    width: u32,
    height: u32,
    frames: u64,
    sink: Option<Sink>,
}

enum Sink {
    Mp4(Box<Mp4Sink>),
    Gif(GifSink),
}

impl VideoWriter {
    /// Creates the file and prepares the encoder; the format comes from the extension.
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        fps: u32,
    ) -> Result<VideoWriter, RecordError> {
        let format = VideoFormat::from_path(path)?;
        let invalid = |reason: String| RecordError::InvalidParameters {
            path: path.to_path_buf(),
            reason,
        };
        if width == 0 || height == 0 {
            return Err(invalid(format!("frame size {width}x{height} is empty")));
        }
        if fps == 0 {
            return Err(invalid("frame rate must be at least 1 fps".into()));
        }
        let (even_w, even_h) = (width.next_multiple_of(2), height.next_multiple_of(2));
        match format {
            // OpenH264 supports up to level 5.2: 3840x2160 either way round.
            VideoFormat::Mp4 if even_w.max(even_h) > 3840 || even_w.min(even_h) > 2160 => {
                return Err(invalid(format!(
                    "{width}x{height} is larger than H.264 allows here (3840x2160)"
                )));
            }
            VideoFormat::Gif if width > u32::from(u16::MAX) || height > u32::from(u16::MAX) => {
                return Err(invalid(format!(
                    "{width}x{height} is larger than GIF allows"
                )));
            }
            _ => {}
        }
        let file = File::create(path).map_err(|source| RecordError::Create {
            kind: "video",
            path: path.to_path_buf(),
            source,
        })?;
        let out = BufWriter::new(file);
        let sink = match format {
            VideoFormat::Mp4 => Sink::Mp4(Box::new(Mp4Sink::new(path, out, even_w, even_h, fps)?)),
            VideoFormat::Gif => Sink::Gif(GifSink::new(out, fps)),
        };
        Ok(VideoWriter {
            path: path.to_path_buf(),
            width,
            height,
            frames: 0,
            sink: Some(sink),
        })
    }

    /// Encodes one frame: `width * height * 3` bytes of RGB, row 0 at the top.
    pub fn write_frame(&mut self, rgb: &[u8]) -> Result<(), RecordError> {
        let (w, h) = (self.width, self.height);
        if rgb.len() != w as usize * h as usize * 3 {
            return Err(RecordError::frame_size(&self.path, w, h, rgb.len()));
        }
        match self.sink.as_mut() {
            Some(Sink::Mp4(sink)) => sink.write(&self.path, rgb, w, h, self.frames)?,
            Some(Sink::Gif(sink)) => sink.write(&self.path, rgb, w, h)?,
            None => unreachable!("the sink is only taken by finish, which consumes the writer"),
        }
        self.frames += 1;
        Ok(())
    }

    /// Number of frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the trailer (the MP4 `moov` index, the GIF trailer) and flushes the file.
    pub fn finish(mut self) -> Result<(), RecordError> {
        self.finish_inner()
    }

    fn finish_inner(&mut self) -> Result<(), RecordError> {
        match self.sink.take() {
            Some(Sink::Mp4(sink)) => sink.finish(&self.path),
            Some(Sink::Gif(sink)) => sink.finish(&self.path),
            None => Ok(()),
        }
    }
}

impl Drop for VideoWriter {
    fn drop(&mut self) {
        let _ = self.finish_inner();
    }
}

/// Pads an odd-sized frame to `even_w x even_h` by repeating the last column and row.
fn pad_to_even(src: &[u8], w: usize, h: usize, dst: &mut [u8], even_w: usize, even_h: usize) {
    for y in 0..even_h {
        let src_row = &src[y.min(h - 1) * w * 3..][..w * 3];
        let dst_row = &mut dst[y * even_w * 3..][..even_w * 3];
        dst_row[..w * 3].copy_from_slice(src_row);
        for x in w..even_w {
            dst_row.copy_within((w - 1) * 3..w * 3, x * 3);
        }
    }
}

struct Mp4Sink {
    encoder: Encoder,
    yuv: YUVBuffer,
    /// Scratch frame for odd sizes; empty when the input is already even.
    padded: Vec<u8>,
    width: u32,
    height: u32,
    fps: u32,
    mux: mp4::Mp4Writer<BufWriter<File>>,
    /// SPS and PPS (without start codes), taken from the first frame; they go into `avcC`.
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    track_added: bool,
    /// The current sample: length-prefixed NAL units.
    sample: Vec<u8>,
}

impl Mp4Sink {
    fn new(
        path: &Path,
        out: BufWriter<File>,
        width: u32,
        height: u32,
        fps: u32,
    ) -> Result<Self, RecordError> {
        // Rate control off: every frame at OpenH264's base QP 26, which keeps rendered scenes
        // sharp and never skips frames (the rate-controlled modes may, or warn on stderr).
        let config = EncoderConfig::new()
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            .rate_control_mode(RateControlMode::Off)
            // Never drop frames: the video must have exactly one frame per step.
            .skip_frames(false)
            // A keyframe every two seconds keeps long videos seekable.
            .intra_frame_period(IntraFramePeriod::from_num_frames(fps.saturating_mul(2)))
            // OpenH264's RGB->YUV conversion is BT.601 limited range; say so in the stream.
            .vui(VuiConfig::bt601())
            .num_threads(1);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| RecordError::encode(path, e))?;
        let mp4_config = mp4::Mp4Config {
            major_brand: "isom".parse().expect("valid fourcc"),
            minor_version: 512,
            compatible_brands: ["isom", "iso2", "avc1", "mp41"]
                .iter()
                .map(|b| b.parse().expect("valid fourcc"))
                .collect(),
            timescale: fps,
        };
        let mux = mp4::Mp4Writer::write_start(out, &mp4_config)
            .map_err(|e| RecordError::encode(path, e))?;
        Ok(Mp4Sink {
            encoder,
            yuv: YUVBuffer::new(width as usize, height as usize),
            padded: Vec::new(),
            width,
            height,
            fps,
            mux,
            sps: None,
            pps: None,
            track_added: false,
            sample: Vec::new(),
        })
    }

    fn write(
        &mut self,
        path: &Path,
        rgb: &[u8],
        in_w: u32,
        in_h: u32,
        index: u64,
    ) -> Result<(), RecordError> {
        let (w, h) = (self.width as usize, self.height as usize);
        let src = if (in_w, in_h) == (self.width, self.height) {
            rgb
        } else {
            self.padded.resize(w * h * 3, 0);
            pad_to_even(rgb, in_w as usize, in_h as usize, &mut self.padded, w, h);
            &self.padded
        };
        self.yuv.read_rgb8(RgbSliceU8::new(src, (w, h)));
        let bitstream = self
            .encoder
            .encode(&self.yuv)
            .map_err(|e| RecordError::encode(path, e))?;

        // OpenH264 hands out Annex-B NAL units (start code + NAL). MP4 wants SPS/PPS in the
        // sample description and every other NAL prefixed by its 4-byte big-endian length.
        self.sample.clear();
        let mut is_sync = false;
        for l in 0..bitstream.num_layers() {
            let Some(layer) = bitstream.layer(l) else {
                continue;
            };
            for n in 0..layer.nal_count() {
                let Some(nal) = layer.nal_unit(n).map(strip_start_code) else {
                    continue;
                };
                let Some(&header) = nal.first() else { continue };
                match header & 0x1f {
                    7 if self.sps.is_none() => self.sps = Some(nal.to_vec()),
                    8 if self.pps.is_none() => self.pps = Some(nal.to_vec()),
                    7 | 8 => {} // repeated before each IDR; identical with a constant id
                    9 => {}     // access unit delimiter: not used in MP4
                    kind => {
                        is_sync |= kind == 5;
                        self.sample
                            .extend_from_slice(&(nal.len() as u32).to_be_bytes());
                        self.sample.extend_from_slice(nal);
                    }
                }
            }
        }
        if self.sample.is_empty() {
            return Err(RecordError::encode(
                path,
                format!("the H.264 encoder produced no picture for frame {index}"),
            ));
        }

        if !self.track_added {
            let (Some(sps), Some(pps)) = (&self.sps, &self.pps) else {
                return Err(RecordError::encode(
                    path,
                    "the first H.264 frame has no SPS/PPS",
                ));
            };
            let track = mp4::TrackConfig {
                track_type: mp4::TrackType::Video,
                timescale: self.fps,
                language: "und".into(),
                media_conf: mp4::MediaConfig::AvcConfig(mp4::AvcConfig {
                    width: self.width as u16,
                    height: self.height as u16,
                    seq_param_set: sps.clone(),
                    pic_param_set: pps.clone(),
                }),
            };
            self.mux
                .add_track(&track)
                .map_err(|e| RecordError::encode(path, e))?;
            self.track_added = true;
        }

        // Track and movie timescales are both `fps`: every frame lasts exactly one tick.
        let sample = mp4::Mp4Sample {
            start_time: index,
            duration: 1,
            rendering_offset: 0,
            is_sync,
            bytes: bytes::Bytes::copy_from_slice(&self.sample),
        };
        self.mux
            .write_sample(1, &sample)
            .map_err(|e| RecordError::encode(path, e))
    }

    fn finish(mut self, path: &Path) -> Result<(), RecordError> {
        self.mux
            .write_end()
            .map_err(|e| RecordError::encode(path, e))?;
        self.mux
            .into_writer()
            .flush()
            .map_err(|e| RecordError::write(path, e))
    }
}

/// Strips the leading Annex-B start code (`00 00 01` or `00 00 00 01`) from one NAL unit.
fn strip_start_code(nal: &[u8]) -> &[u8] {
    let zeros = nal.iter().take_while(|&&b| b == 0).count();
    if zeros >= 2 && nal.get(zeros) == Some(&1) {
        &nal[zeros + 1..]
    } else {
        nal
    }
}

/// A writer that remembers the first I/O error, so errors raised while the GIF encoder writes
/// its trailer on drop (which `image` does not report) still reach [`VideoWriter::finish`].
struct TrackedWriter {
    inner: BufWriter<File>,
    error: Arc<Mutex<Option<io::Error>>>,
}

impl TrackedWriter {
    fn record<T>(&self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| io::Error::new(e.kind(), e.to_string()));
        }
        result
    }
}

impl Write for TrackedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = self.inner.write(buf);
        self.record(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = self.inner.flush();
        self.record(result)
    }
}

impl Drop for TrackedWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

struct GifSink {
    encoder: GifEncoder<TrackedWriter>,
    error: Arc<Mutex<Option<io::Error>>>,
    delay: Delay,
}

impl GifSink {
    fn new(out: BufWriter<File>, fps: u32) -> Self {
        let error = Arc::new(Mutex::new(None));
        let writer = TrackedWriter {
            inner: out,
            error: Arc::clone(&error),
        };
        // Speed 1 (NeuQuant samples every pixel): about half the colour error of speed 10 on
        // gradients; still ~180 frames/s at 256x256 in release.
        let mut encoder = GifEncoder::new_with_speed(writer, 1);
        // Before the first frame this only records the setting; it cannot fail.
        let _ = encoder.set_repeat(Repeat::Infinite);
        let centiseconds = (100 + fps / 2) / fps;
        GifSink {
            encoder,
            error,
            delay: Delay::from_numer_denom_ms(centiseconds.max(2) * 10, 1),
        }
    }

    fn write(&mut self, path: &Path, rgb: &[u8], w: u32, h: u32) -> Result<(), RecordError> {
        let rgba: Vec<u8> = rgb
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        let image = RgbaImage::from_raw(w, h, rgba).expect("frame size checked by the caller");
        self.encoder
            .encode_frame(Frame::from_parts(image, 0, 0, self.delay))
            .map_err(|e| RecordError::encode(path, e))
    }

    fn finish(self, path: &Path) -> Result<(), RecordError> {
        // Dropping the encoder writes the GIF trailer and flushes through `TrackedWriter`.
        drop(self.encoder);
        let error = self.error.lock().unwrap_or_else(|p| p.into_inner()).take();
        match error {
            Some(e) => Err(RecordError::write(path, e)),
            None => Ok(()),
        }
    }
}
