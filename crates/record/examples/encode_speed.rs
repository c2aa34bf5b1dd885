//! Prints MP4 (and GIF) encode speed for rollout-sized frames.
//!
//! `cargo run --release -p genreward-record --example encode_speed`

use std::time::Instant;

use genreward_record::overlay::stamp_step;
use genreward_record::VideoWriter;

/// A synthetic frame: smooth background, a moving square and the step overlay.
fn frame(size: u32, t: u32) -> Vec<u8> {
    let mut rgb = Vec::with_capacity((size * size * 3) as usize);
    let side = size / 5;
    let (sx, sy) = ((t * 2) % (size - side), (t * 3 / 2) % (size - side));
    for y in 0..size {
        for x in 0..size {
            if (sx..sx + side).contains(&x) && (sy..sy + side).contains(&y) {
                rgb.extend_from_slice(&[220, 60, 40]);
            } else {
                let shade = (x + y) * 160 / (2 * size);
                rgb.extend_from_slice(&[shade as u8 + 40, shade as u8 + 50, 110]);
            }
        }
    }
    stamp_step(
        &mut rgb,
        size,
        size,
        t as usize,
        f64::from(t) / 100.0,
        t > 250,
    );
    rgb
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("genreward-encode-speed-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for (ext, size, count) in [
        ("mp4", 64, 2000),
        ("mp4", 256, 500),
        ("gif", 64, 200),
        ("gif", 256, 50),
    ] {
        let frames: Vec<Vec<u8>> = (0..count).map(|t| frame(size, t)).collect();
        let path = dir.join(format!("speed_{size}.{ext}"));
        let start = Instant::now();
        let mut video = VideoWriter::create(&path, size, size, 80)?;
        for f in &frames {
            video.write_frame(f)?;
        }
        video.finish()?;
        let secs = start.elapsed().as_secs_f64();
        let bytes = std::fs::metadata(&path)?.len();
        println!(
            "{ext} {size}x{size}: {count} frames in {secs:.2} s = {:.0} frames/s, {:.1} KiB",
            f64::from(count) / secs,
            bytes as f64 / 1024.0
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
