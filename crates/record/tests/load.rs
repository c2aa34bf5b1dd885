//! Reading videos back: every format the writers make, and the broken files a user may bring.

use genreward_record::{load_video, save_frames, ClipFormat, RecordError};
use std::path::Path;

/// A moving gradient: frame t, pixel (x, y).
fn clip(t: usize, w: u32, h: u32) -> Vec<Vec<u8>> {
    (0..t)
        .map(|k| {
            let mut f = Vec::with_capacity((w * h * 3) as usize);
            for y in 0..h {
                for x in 0..w {
                    f.push(((x * 255) / w.max(1)) as u8);
                    f.push(((y * 255) / h.max(1)) as u8);
                    f.push((k * 20 % 256) as u8);
                }
            }
            f
        })
        .collect()
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}

fn err_line(e: RecordError) -> String {
    let s = e.to_string();
    assert!(!s.contains('\n'), "one line: {s}");
    s
}

#[test]
fn every_written_format_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let frames = clip(9, 48, 32);
    for (name, fmt, tol) in [
        ("a.npy", ClipFormat::Npy, 0.0),
        ("a.mp4", ClipFormat::Mp4, 6.0),
        ("a.gif", ClipFormat::Gif, 8.0),
        ("pngs", ClipFormat::PngFolder, 0.0),
    ] {
        let p = dir.path().join(name);
        assert_eq!(save_frames(&p, 48, 32, 16, &frames).unwrap(), fmt);
        let v = load_video(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((v.width, v.height, v.len()), (48, 32, 9), "{name}");
        for (a, b) in frames.iter().zip(&v.frames) {
            let d = mean_abs_diff(a, b);
            assert!(d <= tol, "{name}: mean difference {d}");
        }
    }
    // An odd-sized MP4 is stored padded to even sides (H.264 4:2:0), and reads back so, as
    // any player shows it.
    let p = dir.path().join("odd.mp4");
    save_frames(&p, 33, 17, 16, &clip(3, 33, 17)).unwrap();
    let v = load_video(&p).unwrap();
    assert_eq!((v.width, v.height, v.len()), (34, 18, 3));
}

#[test]
fn broken_files_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: Vec<(&str, Box<dyn Fn(&Path)>, &str)> = vec![
        ("missing.mp4", Box::new(|_| {}), "no such file"),
        (
            "empty.mp4",
            Box::new(|p| std::fs::write(p, b"").unwrap()),
            "MP4",
        ),
        (
            "junk.mp4",
            Box::new(|p| std::fs::write(p, vec![7u8; 5000]).unwrap()),
            "cannot read video",
        ),
        (
            "junk.gif",
            Box::new(|p| std::fs::write(p, b"GIF89a\x01garbage").unwrap()),
            "cannot read video",
        ),
        (
            "clip.avi",
            Box::new(|p| std::fs::write(p, b"RIFF").unwrap()),
            "unknown video format",
        ),
        (
            "flat.npy",
            Box::new(|p| write_npy(p, "(4, 8, 3)", &[0u8; 96])),
            "[T, H, W, 3]",
        ),
        (
            "zero.npy",
            Box::new(|p| write_npy(p, "(0, 8, 8, 3)", &[])),
            "no frames",
        ),
        (
            "huge.npy",
            Box::new(|p| write_npy(p, "(1, 5000, 2, 3)", &[0u8; 30000])),
            "over 4096",
        ),
        (
            "short.npy",
            Box::new(|p| write_npy(p, "(2, 8, 8, 3)", &[0u8; 100])),
            "npy",
        ),
        (
            "nopngs",
            Box::new(|p| std::fs::create_dir_all(p).unwrap()),
            "no .png",
        ),
    ];
    for (name, make, want) in cases {
        let p = d.join(name);
        make(&p);
        let e = err_line(load_video(&p).expect_err(name));
        assert!(e.contains(want), "{name}: {e}");
    }
    // A truncated MP4. Cut inside its header: an error.
    let good = d.join("good.mp4");
    save_frames(&good, 32, 32, 16, &clip(20, 32, 32)).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let cut = d.join("cut.mp4");
    std::fs::write(&cut, &bytes[..200]).unwrap();
    let e = err_line(load_video(&cut).expect_err("truncated mp4"));
    assert!(e.contains("MP4"), "{e}");
    // Cut anywhere later (as a crash leaves it): the samples stored whole before the cut,
    // decoded as they were written.
    // Cut before the end of its first fragment's first sample: no frame, an error.
    let first_fragment = bytes.windows(4).position(|w| w == b"moof").unwrap() - 4;
    for keep in [first_fragment, first_fragment + 200] {
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        let e = err_line(load_video(&cut).expect_err("mp4 cut before its first sample"));
        assert!(e.contains("no complete video sample"), "cut at {keep}: {e}");
    }
    // Later cuts keep the samples stored whole: at 16 fps the first fragment holds frames
    // 0..16 and the second 16..20.
    let second_fragment = first_fragment
        + 8
        + bytes[first_fragment + 8..]
            .windows(4)
            .position(|w| w == b"moof")
            .unwrap()
        - 4;
    let frames = clip(20, 32, 32);
    for (keep, want) in [
        (second_fragment - 1, 15),
        (second_fragment, 16),
        (bytes.len() - 1, 19),
    ] {
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        let v = load_video(&cut).unwrap_or_else(|e| panic!("cut at {keep}: {e}"));
        assert_eq!(v.len(), want, "cut at {keep}");
        for (a, b) in frames.iter().zip(&v.frames) {
            let d = mean_abs_diff(a, b);
            assert!(d <= 6.0, "cut at {keep}: mean difference {d}");
        }
    }
    // PNG frames of different sizes.
    let mixed = d.join("mixed");
    save_frames(&mixed, 8, 8, 1, &clip(2, 8, 8)).unwrap();
    image::save_buffer(
        mixed.join("frame_0009.png"),
        &vec![0u8; 4 * 4 * 3],
        4,
        4,
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    let e = err_line(load_video(&mixed).expect_err("mixed sizes"));
    assert!(e.contains("first frame"), "{e}");
}

fn write_npy(p: &Path, shape: &str, data: &[u8]) {
    // Build a valid v1.0 header by hand, then the data.
    let dict = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': {shape}, }}");
    let mut header = dict.into_bytes();
    let total = 10 + header.len() + 1;
    header.extend(std::iter::repeat_n(b' ', (64 - total % 64) % 64));
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    std::fs::write(p, out).unwrap();
}
