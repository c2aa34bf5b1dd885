//! What a user keeps from a rollout: videos that players open, arrays NumPy loads, legible
//! overlays, and clear errors instead of panics.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use genreward_record::overlay::{draw_text, inset, stamp_step, text_size};
use genreward_record::{load_video, read_npy_u8, NpyWriter, RecordError, VideoFormat, VideoWriter};
use image::AnimationDecoder;

/// A frame with a gradient background and a coloured square that moves with `t`.
fn moving_square(w: u32, h: u32, t: u32) -> Vec<u8> {
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    let side = (w.min(h) / 4).max(2);
    let (sx, sy) = ((t * 3) % (w - side), (t * 2) % (h - side));
    for y in 0..h {
        for x in 0..w {
            let inside = (sx..sx + side).contains(&x) && (sy..sy + side).contains(&y);
            if inside {
                rgb.extend_from_slice(&[230, 40, 30]);
            } else {
                rgb.extend_from_slice(&[(x * 255 / w) as u8, (y * 255 / h) as u8, 90]);
            }
        }
    }
    rgb
}

fn write_video(path: &Path, w: u32, h: u32, frames: u32) {
    let mut video = VideoWriter::create(path, w, h, 80).unwrap();
    for t in 0..frames {
        video.write_frame(&moving_square(w, h, t)).unwrap();
    }
    assert_eq!(video.frames(), u64::from(frames));
    video.finish().unwrap();
}

/// `codec_name,nb_read_frames` (and `width,height`) of the first video stream, from ffprobe.
fn ffprobe(path: &Path, entries: &str, count_frames: bool) -> String {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-select_streams", "v:0"]);
    if count_frames {
        cmd.arg("-count_frames");
    }
    cmd.args(["-show_entries", entries, "-of", "csv=p=0"])
        .arg(path);
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run ffprobe ({e}): install ffmpeg (e.g. `apt-get install ffmpeg`) to check the MP4 output")
    });
    assert!(
        out.status.success(),
        "ffprobe rejected {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Top-level MP4 box types, in order.
fn top_level_boxes(bytes: &[u8]) -> Vec<String> {
    let mut boxes = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= bytes.len() {
        let mut size = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as u64;
        let kind = String::from_utf8_lossy(&bytes[pos + 4..pos + 8]).to_string();
        if size == 1 {
            size = u64::from_be_bytes(bytes[pos + 8..pos + 16].try_into().unwrap());
        }
        boxes.push(kind);
        if size < 8 {
            break;
        }
        pos += size as usize;
    }
    boxes
}

#[test]
fn mp4_has_one_h264_frame_per_input_frame() {
    let dir = tempfile::tempdir().unwrap();
    for (w, h, name) in [(64, 64, "square.mp4"), (63, 47, "odd.mp4")] {
        let path = dir.path().join(name);
        write_video(&path, w, h, 37);

        let bytes = std::fs::read(&path).unwrap();
        let boxes = top_level_boxes(&bytes);
        assert_eq!(boxes.first().map(String::as_str), Some("ftyp"), "{boxes:?}");
        assert!(boxes.iter().any(|b| b == "moov"), "no moov box: {boxes:?}");
        assert!(boxes.iter().any(|b| b == "mdat"), "no mdat box: {boxes:?}");
        // Fragmented: one moof + mdat per second (80 frames), so 37 frames make one.
        assert_eq!(&boxes[1..], ["moov", "moof", "mdat"], "{boxes:?}");

        let probe = ffprobe(&path, "stream=codec_name,nb_read_frames", true);
        assert_eq!(probe, "h264,37", "{name}");
        // Odd sizes are padded to even by repeating the last column / row.
        let size = ffprobe(&path, "stream=width,height", false);
        let (ew, eh) = (w.next_multiple_of(2), h.next_multiple_of(2));
        assert_eq!(size, format!("{ew},{eh}"), "{name}");

        // Decoded pictures match what was written: orientation, colours, padding.
        let decoded = ffmpeg_decode_rgb(&path);
        let frame_len = (ew * eh * 3) as usize;
        assert_eq!(decoded.len(), frame_len * 37, "{name}");
        for t in [0u32, 18, 36] {
            let got = &decoded[t as usize * frame_len..][..frame_len];
            let want = moving_square(w, h, t);
            let mut total = 0u64;
            for y in 0..eh {
                for x in 0..ew {
                    // Padding repeats the last column / row.
                    let i = ((y.min(h - 1) * w + x.min(w - 1)) * 3) as usize;
                    let j = ((y * ew + x) * 3) as usize;
                    for c in 0..3 {
                        total += u64::from(got[j + c].abs_diff(want[i + c]));
                    }
                }
            }
            let mean = total as f64 / frame_len as f64;
            assert!(mean < 6.0, "{name} frame {t}: mean error {mean:.1} levels");
        }
    }
}

/// All frames of `path` decoded by ffmpeg as packed RGB.
fn ffmpeg_decode_rgb(path: &Path) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run ffmpeg ({e}): install ffmpeg to check the MP4 output")
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn mp4_is_finished_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.mp4");
    {
        let mut video = VideoWriter::create(&path, 32, 32, 30).unwrap();
        for t in 0..5 {
            video.write_frame(&moving_square(32, 32, t)).unwrap();
        }
    }
    assert_eq!(
        ffprobe(&path, "stream=codec_name,nb_read_frames", true),
        "h264,5"
    );
}

/// Whether ffprobe is on PATH: the crash tests check with it when it is (CI installs ffmpeg).
fn have_ffprobe() -> bool {
    let found = Command::new("ffprobe")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("note: ffprobe not found; skipped checking the MP4 with it");
    }
    found
}

/// Mean absolute difference, in levels, between two frames.
fn mean_error(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    total as f64 / a.len() as f64
}

/// Checks that `path` reads back as exactly `frames` frames of `moving_square(w, h, t)`.
fn assert_reads_back(path: &Path, w: u32, h: u32, frames: u32) {
    let video = load_video(path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((video.width, video.height), (w, h));
    assert_eq!(video.len(), frames as usize, "{}", path.display());
    for (t, got) in video.frames.iter().enumerate() {
        let mean = mean_error(got, &moving_square(w, h, t as u32));
        assert!(mean < 6.0, "frame {t}: mean error {mean:.1} levels");
    }
}

/// A finished MP4 is fragmented (a moof + mdat per second, each starting with a keyframe) and
/// reads back whole: every frame, the right size, the right pixels.
#[test]
fn finished_fragmented_mp4_reads_back_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fragments.mp4");
    // 10 fps: three full one-second fragments and a last one of 7 frames.
    let mut video = VideoWriter::create(&path, 48, 32, 10).unwrap();
    for t in 0..37 {
        video.write_frame(&moving_square(48, 32, t)).unwrap();
    }
    video.finish().unwrap();
    let boxes = top_level_boxes(&std::fs::read(&path).unwrap());
    let mut want = vec!["ftyp", "moov"];
    for _ in 0..4 {
        want.extend(["moof", "mdat"]);
    }
    assert_eq!(boxes, want);
    assert_reads_back(&path, 48, 32, 37);
    // No frames: a movie with no track, which readers refuse in one line.
    let empty = dir.path().join("empty.mp4");
    VideoWriter::create(&empty, 48, 32, 10)
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(
        top_level_boxes(&std::fs::read(&empty).unwrap()),
        ["ftyp", "moov"]
    );
    let err = load_video(&empty).unwrap_err().to_string();
    assert!(err.contains("no H.264 video track"), "{err}");
    if have_ffprobe() {
        let probe = ffprobe(&path, "stream=codec_name,width,height,nb_read_frames", true);
        assert_eq!(probe, "h264,48,32,37");
        // The duration is filled in at the end: 37 frames at 10 fps.
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "csv=p=0",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert!((secs - 3.7).abs() < 0.05, "duration {secs}");
        // Every fragment starts with a keyframe: ffprobe sees one at 0, 1, 2 and 3 s.
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-skip_frame",
                "nokey",
            ])
            .args(["-show_entries", "frame=pts", "-of", "csv=p=0"])
            .arg(&path)
            .output()
            .unwrap();
        let keys = String::from_utf8_lossy(&out.stdout);
        let keys: Vec<&str> = keys.split_whitespace().collect();
        assert_eq!(keys, ["0", "10", "20", "30"]);
    }
}

/// A writer that never finishes (its process died): every complete one-second fragment is on
/// disk, and readers and players take the file.
#[test]
fn unfinished_mp4_keeps_every_complete_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unfinished.mp4");
    let mut video = VideoWriter::create(&path, 48, 32, 10).unwrap();
    for t in 0..25 {
        video.write_frame(&moving_square(48, 32, t)).unwrap();
    }
    // No finish, no drop: as if the process were killed here.
    std::mem::forget(video);
    let boxes = top_level_boxes(&std::fs::read(&path).unwrap());
    assert_eq!(boxes, ["ftyp", "moov", "moof", "mdat", "moof", "mdat"]);
    assert_reads_back(&path, 48, 32, 20);
    if have_ffprobe() {
        let probe = ffprobe(&path, "stream=codec_name,nb_read_frames", true);
        assert_eq!(probe, "h264,20");
    }

    // Before its first fragment a file holds no frame: an error, not a panic.
    let early = dir.path().join("early.mp4");
    let mut video = VideoWriter::create(&early, 48, 32, 10).unwrap();
    for t in 0..5 {
        video.write_frame(&moving_square(48, 32, t)).unwrap();
    }
    std::mem::forget(video);
    let err = load_video(&early).unwrap_err().to_string();
    assert!(err.contains("no complete video sample"), "{err}");
}

/// Set in the child process of `run_killed_by_sigkill_leaves_usable_files`: the folder to
/// record into.
const CHILD_DIR: &str = "GENREWARD_RECORD_TEST_CHILD_DIR";

/// A recording process killed with SIGKILL mid-run (a run folder's video and observation
/// stack): the MP4 plays up to its last complete second and the `.npy` header counts every
/// frame written. The test runs itself again as the recording child, then kills it.
#[test]
fn run_killed_by_sigkill_leaves_usable_files() {
    let (w, h) = (48u32, 32u32);
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        // The child: 25 frames at 10 fps into both files, say so, then wait to be killed.
        let dir = Path::new(&dir);
        let mut video = VideoWriter::create(&dir.join("video.mp4"), w, h, 10).unwrap();
        let mut npy = NpyWriter::create(&dir.join("obs_000.npy"), h, w).unwrap();
        for t in 0..25 {
            let frame = moving_square(w, h, t);
            video.write_frame(&frame).unwrap();
            npy.write_frame(&frame).unwrap();
        }
        std::fs::write(dir.join("ready"), b"").unwrap();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "run_killed_by_sigkill_leaves_usable_files"])
        .args(["--nocapture", "--test-threads", "1"])
        .env(CHILD_DIR, dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !dir.path().join("ready").exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the recording child exited early: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the recording child never got ready"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let mp4 = dir.path().join("video.mp4");
    assert_reads_back(&mp4, w, h, 20);
    if have_ffprobe() {
        let probe = ffprobe(&mp4, "stream=codec_name,nb_read_frames", true);
        assert_eq!(probe, "h264,20");
    }
    let npy = dir.path().join("obs_000.npy");
    let bytes = std::fs::read(&npy).unwrap();
    let header = String::from_utf8_lossy(&bytes[..128]);
    assert!(header.contains("'shape': (25, 32, 48, 3)"), "{header}");
    let (shape, data) = read_npy_u8(&npy).unwrap();
    assert_eq!(shape, vec![25, 32, 48, 3]);
    let want: Vec<u8> = (0..25).flat_map(|t| moving_square(w, h, t)).collect();
    assert_eq!(data, want);
}

/// Flat blocks of colour (what GIF keeps exactly up to quantisation): a grey background and a
/// red square that moves with `t`.
fn flat_blocks(w: u32, h: u32, t: u32) -> Vec<u8> {
    let mut rgb = [70u8, 70, 80].repeat((w * h) as usize);
    for y in t..(t + 8).min(h) {
        for x in 2 * t..(2 * t + 8).min(w) {
            let i = ((y * w + x) * 3) as usize;
            rgb[i..i + 3].copy_from_slice(&[230, 40, 30]);
        }
    }
    rgb
}

#[test]
fn gif_round_trips_frames_and_colours() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (40u32, 30u32);
    let decode = |path: &Path| {
        let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
        let decoder = image::codecs::gif::GifDecoder::new(file).unwrap();
        decoder.into_frames().collect_frames().unwrap()
    };

    let path = dir.path().join("blocks.gif");
    let mut video = VideoWriter::create(&path, w, h, 80).unwrap();
    for t in 0..12 {
        video.write_frame(&flat_blocks(w, h, t)).unwrap();
    }
    video.finish().unwrap();
    let frames = decode(&path);
    assert_eq!(frames.len(), 12);
    for (t, frame) in frames.iter().enumerate() {
        let buffer = frame.buffer();
        assert_eq!(buffer.dimensions(), (w, h));
        let t = t as u32;
        for ((x, y), want) in [
            ((2 * t + 4, t + 4), [230u8, 40, 30]),
            ((w - 1, h - 1), [70, 70, 80]),
        ] {
            let got = buffer.get_pixel(x, y).0;
            for c in 0..3 {
                let diff = got[c].abs_diff(want[c]);
                assert!(diff <= 8, "frame {t} pixel ({x},{y}): {got:?} vs {want:?}");
            }
        }
        // 80 fps cannot be stored (1/100 s units, players slow down < 2/100 s): 50 fps.
        assert_eq!(frame.delay().numer_denom_ms(), (20, 1));
    }

    // A gradient-rich frame: every pixel within the error of a 256-colour palette.
    let path = dir.path().join("gradient.gif");
    write_video(&path, w, h, 12);
    let frames = decode(&path);
    assert_eq!(frames.len(), 12);
    let expected = moving_square(w, h, 11);
    let got = frames[11].buffer();
    let mut total = 0u64;
    for (i, p) in got.pixels().enumerate() {
        for c in 0..3 {
            total += (i32::from(p.0[c]) - i32::from(expected[i * 3 + c])).unsigned_abs() as u64;
        }
    }
    let mean = total as f64 / expected.len() as f64;
    eprintln!("GIF mean absolute error on a gradient frame: {mean:.2} levels");
    assert!(
        mean < 8.0,
        "GIF colours are off by {mean:.1} levels on average"
    );
}

#[test]
fn npy_round_trips_and_numpy_loads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("obs.npy");
    let (h, w) = (4u32, 6u32);
    let frames: Vec<Vec<u8>> = (0..5u8)
        .map(|t| {
            (0..h * w * 3)
                .map(|i| (i as u8).wrapping_mul(7).wrapping_add(t * 31))
                .collect()
        })
        .collect();
    let mut npy = NpyWriter::create(&path, h, w).unwrap();
    for f in &frames {
        npy.write_frame(f).unwrap();
    }
    assert_eq!(npy.frames(), 5);
    npy.finish().unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0, "header must be 64-byte aligned");
    assert_eq!(bytes[10 + header_len - 1], b'\n');

    let (shape, data) = read_npy_u8(&path).unwrap();
    assert_eq!(shape, vec![5, 4, 6, 3]);
    assert_eq!(data, frames.concat());

    let numpy_ok = Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !numpy_ok {
        eprintln!("note: python3 with numpy not found; skipped loading the .npy with NumPy");
        return;
    }
    let script = "import sys, numpy as np; a = np.load(sys.argv[1]); \
                  print(a.dtype, a.shape, int(a.astype(np.int64).sum()))";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("uint8 (5, 4, 6, 3) {sum}")
    );
}

#[test]
fn npy_finished_on_drop_and_empty_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.npy");
    {
        let mut npy = NpyWriter::create(&path, 2, 2).unwrap();
        npy.write_frame(&[9; 12]).unwrap();
        npy.write_frame(&[8; 12]).unwrap();
    }
    let (shape, data) = read_npy_u8(&path).unwrap();
    assert_eq!(shape, vec![2, 2, 2, 3]);
    assert_eq!(data.len(), 24);

    let empty = dir.path().join("empty.npy");
    NpyWriter::create(&empty, 3, 5).unwrap().finish().unwrap();
    assert_eq!(read_npy_u8(&empty).unwrap(), (vec![0, 3, 5, 3], vec![]));
}

/// A writer that never finishes (its process died) leaves a header that counts the frames
/// written; readers take the whole frames of a file whose header and data disagree.
#[test]
fn unfinished_npy_header_counts_the_frames_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unfinished.npy");
    let frame = |t: u8| -> Vec<u8> { (0..2 * 3 * 3).map(|i| i * 11 + t).collect() };
    let mut npy = NpyWriter::create(&path, 2, 3).unwrap();
    for t in 0..4 {
        npy.write_frame(&frame(t)).unwrap();
        // True after every frame, not only at the end.
        let (shape, _) = read_npy_u8(&path).unwrap();
        assert_eq!(shape, vec![usize::from(t) + 1, 2, 3, 3]);
    }
    std::mem::forget(npy); // no finish, no drop
    let bytes = std::fs::read(&path).unwrap();
    let header_len = 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = String::from_utf8_lossy(&bytes[..header_len]).to_string();
    assert!(header.contains("'shape': (4, 2, 3, 3)"), "{header}");
    let want: Vec<u8> = (0..4).flat_map(frame).collect();
    assert_eq!(
        read_npy_u8(&path).unwrap(),
        (vec![4, 2, 3, 3], want.clone())
    );

    // Part of a fifth frame (a kill mid-write): dropped.
    let mut partial = bytes.clone();
    partial.extend_from_slice(&frame(4)[..7]);
    std::fs::write(&path, &partial).unwrap();
    assert_eq!(
        read_npy_u8(&path).unwrap(),
        (vec![4, 2, 3, 3], want.clone())
    );
    // A whole fifth frame the header does not count yet: kept.
    let mut extra = bytes.clone();
    extra.extend_from_slice(&frame(4));
    std::fs::write(&path, &extra).unwrap();
    let (shape, data) = read_npy_u8(&path).unwrap();
    assert_eq!(shape, vec![5, 2, 3, 3]);
    assert_eq!(data, (0..5).flat_map(frame).collect::<Vec<u8>>());
    // A header that counts more frames than the data holds (a cut copy): the whole ones.
    std::fs::write(&path, &bytes[..bytes.len() - 20]).unwrap();
    assert_eq!(
        read_npy_u8(&path).unwrap(),
        (vec![2, 2, 3, 3], want[..36].to_vec())
    );
}

#[test]
fn corrupt_npy_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    let mut npy = NpyWriter::create(&good, 4, 4).unwrap();
    for _ in 0..3 {
        npy.write_frame(&[1; 48]).unwrap();
    }
    npy.finish().unwrap();
    let bytes = std::fs::read(&good).unwrap();

    let bad = dir.path().join("bad.npy");
    // Data that disagrees with the frame count is not an error: the whole frames are read
    // (see `unfinished_npy_header_counts_the_frames_written`).
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("truncated header", bytes[..40].to_vec()),
        ("not npy", b"hello, world".to_vec()),
    ];
    for (what, from, to) in [
        ("float dtype", "'|u1'", "'<f4'"),
        ("fortran order", "False", "True "),
        ("bad shape", "(3, 4, 4, 3)", "(3, x, 4, 3)"),
        ("unknown key", "'descr'", "'dtype'"),
    ] {
        // Same-length edits inside the header.
        let at = bytes
            .windows(from.len())
            .position(|w| w == from.as_bytes())
            .unwrap();
        let mut changed = bytes.clone();
        changed[at..at + to.len()].copy_from_slice(to.as_bytes());
        cases.push((what, changed));
    }
    for (what, content) in cases {
        std::fs::write(&bad, &content).unwrap();
        let err = read_npy_u8(&bad).expect_err(what);
        assert!(
            matches!(err, RecordError::InvalidNpy { .. }),
            "{what}: {err}"
        );
        assert!(err.to_string().contains("bad.npy"), "{what}: {err}");
    }
    let missing = read_npy_u8(&dir.path().join("missing.npy")).unwrap_err();
    assert!(matches!(missing, RecordError::Read { .. }), "{missing}");
}

#[test]
fn bad_paths_sizes_and_formats_are_errors() {
    for name in ["/nonexistent-dir/x.mp4", "/nonexistent-dir/x.gif"] {
        let err = VideoWriter::create(Path::new(name), 64, 64, 80)
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot create video file '/nonexistent-dir/x."),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }
    let err = NpyWriter::create(Path::new("/nonexistent-dir/x.npy"), 4, 4)
        .err()
        .unwrap();
    assert!(
        err.to_string().starts_with("cannot create npy file"),
        "{err}"
    );

    let err = VideoWriter::create(Path::new("clip.avi"), 64, 64, 80)
        .err()
        .unwrap();
    assert!(matches!(err, RecordError::UnsupportedFormat { .. }));
    assert!(
        err.to_string().contains(".mp4") && err.to_string().contains(".gif"),
        "{err}"
    );
    assert!(VideoFormat::from_path(Path::new("no_extension")).is_err());
    assert_eq!(
        VideoFormat::from_path(Path::new("a/B.MP4")).unwrap(),
        VideoFormat::Mp4
    );
    assert_eq!(
        VideoFormat::from_path(Path::new("b.gif")).unwrap(),
        VideoFormat::Gif
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sizes.mp4");
    assert!(VideoWriter::create(&path, 0, 64, 80).is_err());
    assert!(VideoWriter::create(&path, 64, 64, 0).is_err());
    assert!(VideoWriter::create(&path, 8000, 64, 80).is_err());
    let mut video = VideoWriter::create(&path, 16, 16, 80).unwrap();
    let err = video.write_frame(&[0; 16 * 16 * 3 - 1]).unwrap_err();
    assert!(
        matches!(
            err,
            RecordError::FrameSize {
                expected: 768,
                got: 767,
                ..
            }
        ),
        "{err}"
    );
    let mut npy = NpyWriter::create(&dir.path().join("s.npy"), 2, 2).unwrap();
    assert!(npy.write_frame(&[0; 13]).is_err());
}

#[test]
fn text_changes_its_box_and_nothing_else() {
    let (w, h) = (64u32, 48u32);
    let background = vec![200u8; (w * h * 3) as usize];
    let mut rgb = background.clone();
    let (x, y) = (5, 7);
    draw_text(&mut rgb, w, h, x, y, "Hi 1", 1, [255, 0, 0]);
    let (bw, bh) = text_size("Hi 1", 1);
    assert_eq!((bw, bh), (4 * 8 + 2, 8 + 2));
    let mut red = 0;
    for py in 0..h {
        for px in 0..w {
            let i = ((py * w + px) * 3) as usize;
            let inside =
                (x as u32..x as u32 + bw).contains(&px) && (y as u32..y as u32 + bh).contains(&py);
            if inside {
                assert_ne!(
                    rgb[i..i + 3],
                    background[i..i + 3],
                    "({px},{py}) unchanged in box"
                );
                red += usize::from(rgb[i..i + 3] == [255, 0, 0]);
            } else {
                assert_eq!(
                    rgb[i..i + 3],
                    background[i..i + 3],
                    "({px},{py}) changed outside"
                );
            }
        }
    }
    assert!(red > 20, "only {red} text pixels drawn");
}

#[test]
fn text_anywhere_never_panics() {
    let (w, h) = (17u32, 9u32);
    let mut rgb = vec![50u8; (w * h * 3) as usize];
    let long = "x".repeat(1000);
    let odd = "naïve ✓\n\tline\n";
    for (x, y) in [
        (-5, -3),
        (-100_000, 4),
        (16, 8),
        (i32::MAX, i32::MAX),
        (i32::MIN, i32::MIN),
        (3, -7),
    ] {
        for text in ["", "A", long.as_str(), odd] {
            for scale in [0, 1, 3, u32::MAX] {
                draw_text(&mut rgb, w, h, x, y, text, scale, [1, 2, 3]);
            }
        }
    }
    // A buffer shorter than width * height * 3, and empty images.
    draw_text(&mut rgb[..100], w, h, 0, 0, "short", 1, [9, 9, 9]);
    draw_text(&mut [], 0, 0, 0, 0, "none", 1, [9, 9, 9]);
    stamp_step(&mut [], 0, 0, 3, 0.5, true);
    stamp_step(&mut rgb, w, h, usize::MAX, f64::NAN, true);
}

#[test]
fn stamp_step_is_legible_small_and_large() {
    for (size, scale) in [(64u32, 1u32), (480, 3)] {
        let mut rgb = vec![120u8; (size * size * 3) as usize];
        stamp_step(&mut rgb, size, size, 12, 0.53, true);
        let count = |color: [u8; 3]| rgb.chunks_exact(3).filter(|p| *p == color).count();
        // White step/reward text and green "success", each at least a few strokes' worth.
        let min = (40 * scale * scale) as usize;
        assert!(count([255, 255, 255]) > min, "{size}: white text missing");
        assert!(count([64, 255, 64]) > min, "{size}: green success missing");
        // The success label sits in the bottom rows, the numbers in the top rows.
        let (_, lh) = text_size("success", scale);
        for (i, p) in rgb.chunks_exact(3).enumerate() {
            let y = i as u32 / size;
            if p == [64, 255, 64] {
                assert!(y >= size - lh, "{size}: green pixel at row {y}");
            }
            if p == [255, 255, 255] {
                assert!(y < size / 2, "{size}: white pixel at row {y}");
            }
        }
    }
    let mut plain = vec![120u8; 64 * 64 * 3];
    stamp_step(&mut plain, 64, 64, 12, 0.53, false);
    assert!(!plain.chunks_exact(3).any(|p| p == [64, 255, 64]));
}

/// The goal-frame inset: the source scaled into the bottom-right corner inside a 1-pixel border
/// (a 4x2 source at side 8: each source pixel a 2x2 block); the rest of the frame untouched;
/// sizes that do not fit draw nothing.
#[test]
fn inset_draws_the_scaled_source_in_the_corner() {
    let (w, h) = (20u32, 16u32);
    let mut rgb = vec![7u8; (w * h * 3) as usize];
    let src: Vec<u8> = (0..8u8).flat_map(|i| [i * 30, 255 - i * 30, 100]).collect();
    inset(&mut rgb, w, h, &src, 4, 2, 8, [255, 255, 0]);
    let px = |x: u32, y: u32| {
        let i = ((y * w + x) * 3) as usize;
        [rgb[i], rgb[i + 1], rgb[i + 2]]
    };
    // Inset 8x4 at x 11..19, y 11..15; border one pixel around it.
    for sy in 0..2u32 {
        for sx in 0..4u32 {
            let want = {
                let i = ((sy * 4 + sx) * 3) as usize;
                [src[i], src[i + 1], src[i + 2]]
            };
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                assert_eq!(
                    px(11 + 2 * sx + dx, 11 + 2 * sy + dy),
                    want,
                    "source ({sx}, {sy})"
                );
            }
        }
    }
    assert_eq!(px(10, 10), [255, 255, 0]);
    assert_eq!(px(19, 15), [255, 255, 0]);
    assert_eq!(px(9, 9), [7, 7, 7]);
    assert_eq!(px(0, 0), [7, 7, 7]);
    let before = rgb.clone();
    inset(&mut rgb, w, h, &src, 4, 2, 40, [255, 255, 0]);
    inset(&mut rgb, w, h, &src[..6], 4, 2, 8, [255, 255, 0]);
    assert_eq!(
        rgb, before,
        "an inset that does not fit, or a short source, draws nothing"
    );
}
