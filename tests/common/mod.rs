//! Helpers shared by the integration tests (each test file uses some of them).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `genreward` binary with `args`.
pub fn genreward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_genreward"))
        .args(args)
        .output()
        .expect("run genreward")
}

/// Asserts a zero exit, showing stderr otherwise.
pub fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The last stdout line, parsed as JSON.
pub fn last_json(out: &Output) -> serde_json::Value {
    let s = String::from_utf8_lossy(&out.stdout);
    let line = s.lines().last().expect("stdout has a line");
    serde_json::from_str(line).expect("last stdout line is JSON")
}

/// `codec,width,height,frames` of a video's first stream, as ffprobe counts them.
pub fn ffprobe(path: &Path) -> String {
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe (from ffmpeg) is needed: scripts/setup-system.sh installs it");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}
