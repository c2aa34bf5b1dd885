//! Streaming video output: H.264 in fragmented MP4 (OpenH264 + a small muxer here) and
//! animated GIF.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
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
/// encoded samples before writing them), so memory stays flat however long the rollout.
///
/// * MP4: the file is a fragmented MP4 (`ftyp`, `moov`, then one `moof` + `mdat` per second of
///   video, each starting with a keyframe), written to the OS as each second completes. A
///   process killed mid-recording (even by SIGKILL) leaves a file that players open and that
///   holds every frame up to the last complete second; [`VideoWriter::finish`] adds the last,
///   partial second and the total duration.
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

    /// Writes what is still pending (the MP4's last fragment and its duration, the GIF trailer)
    /// and flushes the file.
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

/// Frames per fragment: one second of video, the most a crash can lose.
fn fragment_frames(fps: u32) -> usize {
    fps.max(1) as usize
}

/// Streams H.264 into a fragmented MP4 (ISO/IEC 14496-12 with movie fragments).
///
/// Layout: `ftyp`, then at the first frame `moov` (the track's `avc1`/`avcC` sample entry, an
/// empty sample table and `mvex`/`trex`), then one `moof` + `mdat` pair per second of video,
/// each written and flushed to the OS as soon as its last frame is encoded. Every fragment
/// starts with an IDR picture, so each decodes on its own. A process killed at any point leaves
/// a file that plays up to its last complete fragment; [`Mp4Sink::finish`] writes the last,
/// partial fragment and fills in the durations in the `moov` header.
struct Mp4Sink {
    encoder: Encoder,
    yuv: YUVBuffer,
    /// Scratch frame for odd sizes; empty when the input is already even.
    padded: Vec<u8>,
    width: u32,
    height: u32,
    fps: u32,
    out: BufWriter<File>,
    /// Bytes written to `out` so far (the file position).
    written: u64,
    /// SPS and PPS (without start codes), taken from the first frame; they go into `avcC`.
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    /// File offsets of the 32-bit duration fields of `mvhd`, `tkhd` and `mdhd`, set once the
    /// `moov` is written; [`Mp4Sink::finish`] fills them in.
    duration_fields: Option<[u64; 3]>,
    /// `moof` sequence number of the next fragment (from 1).
    sequence: u32,
    /// The fragment being collected: index of its first frame, its samples (length-prefixed
    /// NAL units, back to back) and each sample's size and whether it is a sync sample.
    fragment_start: u64,
    fragment_data: Vec<u8>,
    fragment_samples: Vec<(u32, bool)>,
    /// Frames encoded in all.
    frames: u64,
}

impl Mp4Sink {
    fn new(
        path: &Path,
        mut out: BufWriter<File>,
        width: u32,
        height: u32,
        fps: u32,
    ) -> Result<Self, RecordError> {
        // Rate control off: every frame at OpenH264's base QP 26, which keeps rendered scenes
        // sharp and never skips frames (the rate-controlled modes may, or warn on stderr).
        let gop = fragment_frames(fps) as u32;
        let config = EncoderConfig::new()
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            .rate_control_mode(RateControlMode::Off)
            // Never drop frames: the video must have exactly one frame per step.
            .skip_frames(false)
            // An IDR at the start of every fragment (one second), so each fragment decodes on
            // its own; `write` also forces one there in case the encoder's count drifts.
            .intra_frame_period(IntraFramePeriod::from_num_frames(gop))
            // OpenH264's RGB->YUV conversion is BT.601 limited range; say so in the stream.
            .vui(VuiConfig::bt601())
            .num_threads(1);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| RecordError::encode(path, e))?;
        let ftyp = ftyp_box();
        out.write_all(&ftyp)
            .map_err(|e| RecordError::write(path, e))?;
        Ok(Mp4Sink {
            encoder,
            yuv: YUVBuffer::new(width as usize, height as usize),
            padded: Vec::new(),
            width,
            height,
            fps,
            out,
            written: ftyp.len() as u64,
            sps: None,
            pps: None,
            duration_fields: None,
            sequence: 1,
            fragment_start: 0,
            fragment_data: Vec::new(),
            fragment_samples: Vec::new(),
            frames: 0,
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
        if self.fragment_samples.is_empty() && self.frames > 0 {
            // The first frame is an IDR anyway (and the encoder is only set up by it).
            self.encoder.force_intra_frame();
        }
        let bitstream = self
            .encoder
            .encode(&self.yuv)
            .map_err(|e| RecordError::encode(path, e))?;

        // OpenH264 hands out Annex-B NAL units (start code + NAL). MP4 wants SPS/PPS in the
        // sample description and every other NAL prefixed by its 4-byte big-endian length.
        let sample_start = self.fragment_data.len();
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
                        self.fragment_data
                            .extend_from_slice(&(nal.len() as u32).to_be_bytes());
                        self.fragment_data.extend_from_slice(nal);
                    }
                }
            }
        }
        let sample_len = self.fragment_data.len() - sample_start;
        if sample_len == 0 {
            return Err(RecordError::encode(
                path,
                format!("the H.264 encoder produced no picture for frame {index}"),
            ));
        }
        let Ok(sample_len) = u32::try_from(sample_len) else {
            self.fragment_data.truncate(sample_start);
            return Err(RecordError::encode(
                path,
                format!("frame {index} encoded to over 4 GiB"),
            ));
        };

        if self.duration_fields.is_none() {
            let (Some(sps), Some(pps)) = (&self.sps, &self.pps) else {
                self.fragment_data.truncate(sample_start);
                return Err(RecordError::encode(
                    path,
                    "the first H.264 frame has no SPS/PPS",
                ));
            };
            let (moov, fields) = moov_box(self.width, self.height, self.fps, Some((sps, pps)));
            let at = self.written;
            self.duration_fields = Some(fields.map(|f| at + f as u64));
            self.emit(path, &moov)?;
            // On disk at once: a file whose writer dies now is still recognisably a video.
            self.out.flush().map_err(|e| RecordError::write(path, e))?;
        }
        if self.fragment_samples.is_empty() {
            self.fragment_start = self.frames;
        }
        self.fragment_samples.push((sample_len, is_sync));
        self.frames += 1;
        if self.fragment_samples.len() >= fragment_frames(self.fps) {
            self.write_fragment(path)?;
        }
        Ok(())
    }

    /// Appends `bytes` to the file (through the buffer).
    fn emit(&mut self, path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
        self.out
            .write_all(bytes)
            .map_err(|e| RecordError::write(path, e))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes the collected samples as one `moof` + `mdat` and flushes them to the OS.
    fn write_fragment(&mut self, path: &Path) -> Result<(), RecordError> {
        if self.fragment_samples.is_empty() {
            return Ok(());
        }
        let data_len = self.fragment_data.len() as u64;
        // A 16-byte `mdat` header (64-bit size) only for fragments over 4 GiB.
        let mdat_header = if data_len + 8 <= u64::from(u32::MAX) {
            let mut h = ((data_len + 8) as u32).to_be_bytes().to_vec();
            h.extend_from_slice(b"mdat");
            h
        } else {
            let mut h = 1u32.to_be_bytes().to_vec();
            h.extend_from_slice(b"mdat");
            h.extend_from_slice(&(data_len + 16).to_be_bytes());
            h
        };
        let moof = moof_box(
            self.sequence,
            self.fragment_start,
            &self.fragment_samples,
            mdat_header.len(),
        );
        self.emit(path, &moof)?;
        self.emit(path, &mdat_header)?;
        let data = std::mem::take(&mut self.fragment_data);
        let result = self.emit(path, &data);
        self.fragment_data = data;
        result?;
        self.out.flush().map_err(|e| RecordError::write(path, e))?;
        self.sequence = self.sequence.wrapping_add(1);
        self.fragment_data.clear();
        self.fragment_samples.clear();
        Ok(())
    }

    fn finish(mut self, path: &Path) -> Result<(), RecordError> {
        self.write_fragment(path)?;
        match self.duration_fields {
            Some(fields) => {
                // Every frame lasts one tick of the `fps` timescale.
                let duration = u32::try_from(self.frames).unwrap_or(u32::MAX).to_be_bytes();
                for at in fields {
                    self.out
                        .seek(SeekFrom::Start(at))
                        .and_then(|_| self.out.write_all(&duration))
                        .map_err(|e| RecordError::write(path, e))?;
                }
                self.out
                    .seek(SeekFrom::Start(self.written))
                    .map_err(|e| RecordError::write(path, e))?;
            }
            None => {
                // No frames: a movie with no track, as players expect of an empty file.
                let (moov, _) = moov_box(self.width, self.height, self.fps, None);
                self.emit(path, &moov)?;
            }
        }
        self.out.flush().map_err(|e| RecordError::write(path, e))
    }
}

/// Builds ISO BMFF boxes in memory, big-endian; nested boxes get their sizes when closed.
#[derive(Default)]
struct BoxBuf {
    buf: Vec<u8>,
    open: Vec<usize>,
}

impl BoxBuf {
    fn begin(&mut self, kind: &[u8; 4]) -> &mut Self {
        self.open.push(self.buf.len());
        self.buf.extend_from_slice(&[0; 4]);
        self.buf.extend_from_slice(kind);
        self
    }

    /// A "full box": version and 24-bit flags after the header.
    fn begin_full(&mut self, kind: &[u8; 4], version: u8, flags: u32) -> &mut Self {
        self.begin(kind)
            .u32(u32::from(version) << 24 | (flags & 0x00ff_ffff))
    }

    fn end(&mut self) -> &mut Self {
        let start = self.open.pop().expect("a box to close");
        let size = u32::try_from(self.buf.len() - start).expect("header boxes stay small");
        self.buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
        self
    }

    fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    fn zeros(&mut self, n: usize) -> &mut Self {
        self.buf.resize(self.buf.len() + n, 0);
        self
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    /// Offset of the next byte written.
    fn pos(&self) -> usize {
        self.buf.len()
    }

    fn finish(self) -> Vec<u8> {
        debug_assert!(self.open.is_empty(), "unclosed box");
        self.buf
    }
}

/// The unity transformation matrix of `mvhd` and `tkhd`.
const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// `ftyp`: ISO base media with fragments (iso5/iso6), H.264.
fn ftyp_box() -> Vec<u8> {
    let mut b = BoxBuf::default();
    b.begin(b"ftyp").bytes(b"isom").u32(512);
    for brand in [b"isom", b"iso5", b"iso6", b"avc1", b"mp41"] {
        b.bytes(brand);
    }
    b.end();
    b.finish()
}

/// `moov` for a fragmented file: with `avc` = (SPS, PPS), one H.264 track whose sample table
/// is empty (the samples are in the fragments) and `mvex`; without, a movie with no track.
/// Also returns the offsets, within the box, of the duration fields of `mvhd`, `tkhd` and
/// `mdhd` (all 0 here: unknown until the end).
fn moov_box(
    width: u32,
    height: u32,
    fps: u32,
    avc: Option<(&[u8], &[u8])>,
) -> (Vec<u8>, [usize; 3]) {
    let mut b = BoxBuf::default();
    let mut fields = [0usize; 3];
    b.begin(b"moov");
    // mvhd: times 0, timescale = fps so each frame is one tick.
    b.begin_full(b"mvhd", 0, 0).u32(0).u32(0).u32(fps);
    fields[0] = b.pos();
    b.u32(0).u32(0x0001_0000).u16(0x0100).zeros(10);
    for m in MATRIX {
        b.u32(m);
    }
    b.zeros(24).u32(2).end();
    if let Some((sps, pps)) = avc {
        b.begin(b"trak");
        // tkhd: enabled and in the movie; track 1; the picture size in 16.16.
        b.begin_full(b"tkhd", 0, 3).u32(0).u32(0).u32(1).u32(0);
        fields[1] = b.pos();
        b.u32(0).zeros(8).u16(0).u16(0).u16(0).u16(0);
        for m in MATRIX {
            b.u32(m);
        }
        b.u32(width << 16).u32(height << 16).end();
        b.begin(b"mdia");
        // mdhd: language "und" packed as three 5-bit letters.
        b.begin_full(b"mdhd", 0, 0).u32(0).u32(0).u32(fps);
        fields[2] = b.pos();
        b.u32(0).u16(0x55c4).u16(0).end();
        b.begin_full(b"hdlr", 0, 0)
            .u32(0)
            .bytes(b"vide")
            .zeros(12)
            .bytes(b"VideoHandler\0")
            .end();
        b.begin(b"minf");
        b.begin_full(b"vmhd", 0, 1).zeros(8).end();
        b.begin(b"dinf");
        b.begin_full(b"dref", 0, 0).u32(1);
        b.begin_full(b"url ", 0, 1).end(); // media in this file
        b.end().end();
        b.begin(b"stbl");
        b.begin_full(b"stsd", 0, 0).u32(1);
        b.begin(b"avc1")
            .zeros(6)
            .u16(1) // data reference index
            .zeros(16)
            .u16(width as u16)
            .u16(height as u16)
            .u32(0x0048_0000) // 72 dpi
            .u32(0x0048_0000)
            .u32(0)
            .u16(1) // frames per sample
            .zeros(32) // compressor name
            .u16(0x0018) // colour, no alpha
            .u16(0xffff); // pre-defined -1
        let byte = |nal: &[u8], i: usize| nal.get(i).copied().unwrap_or(0);
        b.begin(b"avcC")
            .u8(1)
            .u8(byte(sps, 1)) // profile
            .u8(byte(sps, 2)) // constraint flags
            .u8(byte(sps, 3)) // level
            .u8(0xff) // 4-byte NAL lengths
            .u8(0xe1) // one SPS
            .u16(sps.len() as u16)
            .bytes(sps)
            .u8(1) // one PPS
            .u16(pps.len() as u16)
            .bytes(pps)
            .end();
        b.end().end(); // avc1, stsd
        b.begin_full(b"stts", 0, 0).u32(0).end();
        b.begin_full(b"stsc", 0, 0).u32(0).end();
        b.begin_full(b"stsz", 0, 0).u32(0).u32(0).end();
        b.begin_full(b"stco", 0, 0).u32(0).end();
        b.end().end().end().end(); // stbl, minf, mdia, trak
                                   // mvex/trex: track 1's fragment defaults (each sample one tick long).
        b.begin(b"mvex");
        b.begin_full(b"trex", 0, 0)
            .u32(1)
            .u32(1)
            .u32(1)
            .u32(0)
            .u32(SAMPLE_NON_SYNC)
            .end();
        b.end();
    }
    b.end();
    (b.finish(), fields)
}

/// Sample flags: depends on others and not a sync sample (a P picture) ...
const SAMPLE_NON_SYNC: u32 = 0x0101_0000;
/// ... or depends on no other (an IDR picture).
const SAMPLE_SYNC: u32 = 0x0200_0000;

/// `moof` for one fragment of track 1: its samples start at frame `first` and sit back to back
/// in the `mdat` that follows, whose header is `mdat_header` bytes long.
fn moof_box(sequence: u32, first: u64, samples: &[(u32, bool)], mdat_header: usize) -> Vec<u8> {
    let mut b = BoxBuf::default();
    b.begin(b"moof");
    b.begin_full(b"mfhd", 0, 0).u32(sequence).end();
    b.begin(b"traf");
    // tfhd: default-base-is-moof, so data offsets count from the start of this `moof`.
    b.begin_full(b"tfhd", 0, 0x02_0000).u32(1).end();
    b.begin_full(b"tfdt", 1, 0).u64(first).end();
    // trun: data offset, then each sample's duration, size and flags.
    b.begin_full(b"trun", 0, 0x000701).u32(samples.len() as u32);
    let offset_at = b.pos();
    b.u32(0);
    for &(size, sync) in samples {
        b.u32(1)
            .u32(size)
            .u32(if sync { SAMPLE_SYNC } else { SAMPLE_NON_SYNC });
    }
    b.end().end().end(); // trun, traf, moof
    let mut moof = b.finish();
    let data_offset = (moof.len() + mdat_header) as u32;
    moof[offset_at..offset_at + 4].copy_from_slice(&data_offset.to_be_bytes());
    moof
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
