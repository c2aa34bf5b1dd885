//! Screenshots and video from the app.
//!
//! `--frames N [--screenshot shot.png]` runs N frames (one simulation step
//! each), saves the window and exits: the scripted path docs and CI use.
//! The Record button writes the agent view (one frame per step) or the
//! window (one frame per drawn frame) through the same video writer as
//! `genreward rollout --video` ([`recording`]).

mod recording;

pub use recording::{RecordSource, Recording};

use crate::reward::RewardParam;
use crate::sim::SimParam;
use crate::AppSet;
use anyhow::{bail, Result};
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The error, if any, that ended the app; read after `App::run` returns.
#[derive(Resource, Clone, Default)]
pub struct Outcome(Arc<Mutex<Option<String>>>);

impl Outcome {
    pub fn error(&self) -> Option<String> {
        self.0.lock().ok().and_then(|g| g.clone())
    }
    fn set(&self, msg: String) {
        if let Ok(mut g) = self.0.lock() {
            g.get_or_insert(msg);
        }
    }
}

/// Refuses a screenshot path the app could not write, before opening a window.
pub fn check_screenshot_path(p: &Path) -> Result<()> {
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if !matches!(ext.as_deref(), Some("png") | Some("jpg") | Some("jpeg")) {
        bail!("screenshot '{}' must end in .png or .jpg", p.display());
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write screenshot '{}': folder {} does not exist",
            p.display(),
            dir.display()
        );
    }
    Ok(())
}

pub struct CapturePlugin {
    pub screenshot: Option<PathBuf>,
    pub record: Option<(PathBuf, RecordSource)>,
}

impl Plugin for CapturePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(WindowShot {
            path: self.screenshot.clone(),
            requested_at: None,
            saved: Arc::new(Mutex::new(None)),
        })
        .insert_resource(match &self.record {
            Some((path, source)) => Recording::starting(path, *source),
            None => Recording::default(),
        })
        .add_systems(
            Update,
            (script, recording::record).chain().in_set(AppSet::Capture),
        )
        .add_systems(Last, recording::stop_on_exit.in_set(AppSet::Capture));
    }
}

/// `--screenshot`: the window saved after a scripted run's last frame.
#[derive(Resource)]
struct WindowShot {
    path: Option<PathBuf>,
    /// The frame the screenshot was asked for on.
    requested_at: Option<u32>,
    /// The screenshot's fate, once captured and saved.
    saved: Arc<Mutex<Option<Result<(), String>>>>,
}

fn save_rgb(image: Image, path: &Path) -> Result<(), String> {
    let img = image
        .try_into_dynamic()
        .map_err(|e| format!("screenshot conversion failed: {e}"))?
        .to_rgb8();
    img.save(path)
        .map_err(|e| format!("cannot write screenshot '{}': {e}", path.display()))
}

/// What ending a scripted run touches: the agent-view file, the models' last terms, the
/// recording, the outcome and the exit.
#[derive(SystemParam)]
struct RunEnd<'w> {
    sim: SimParam<'w>,
    reward: RewardParam<'w>,
    rec: ResMut<'w, Recording>,
    outcome: Res<'w, Outcome>,
    exit: MessageWriter<'w, AppExit>,
}

impl RunEnd<'_> {
    /// Completes the files and exits (with `err`, an error).
    fn finish(&mut self, err: Option<String>) {
        if let Err(e) = self.sim.view.finish_dump() {
            self.outcome.set(format!("{e:#}"));
        }
        // The models' worker scores the last steps before the recording's data is written.
        let mut sim = self.sim.parts();
        self.reward.parts().finish(&mut sim);
        self.rec
            .stop(sim.shown(), &self.reward.goal, &self.reward.terms);
        if let Some(s) = self.rec.status.as_ref().filter(|s| !s.starts_with("saved")) {
            self.outcome.set(s.clone());
        }
        match err {
            Some(e) => {
                self.outcome.set(e);
                self.exit.write(AppExit::error());
            }
            None => {
                self.exit.write(AppExit::Success);
            }
        }
    }
}

/// A scripted run (`--frames N`): after N frames, the screenshot (when asked for), then the
/// files completed and the exit.
fn script(
    mut commands: Commands,
    mut frame: Local<u32>,
    mut shot: ResMut<WindowShot>,
    mut end: RunEnd,
) {
    let Some(frames) = end.sim.playback.frames else {
        return;
    };
    *frame += 1;
    let frame = *frame;
    if frame < frames {
        return;
    }
    let Some(path) = shot.path.clone() else {
        if frame == frames {
            end.finish(None);
        }
        return;
    };
    if shot.requested_at.is_none() {
        shot.requested_at = Some(frame);
        let saved = shot.saved.clone();
        commands.spawn(Screenshot::primary_window()).observe(
            move |shot: On<ScreenshotCaptured>| {
                let r = save_rgb(shot.image.clone(), &path);
                if let Ok(mut g) = saved.lock() {
                    *g = Some(r);
                }
            },
        );
        return;
    }
    let result = shot.saved.lock().ok().and_then(|mut g| g.take());
    match result {
        Some(Ok(())) => end.finish(None),
        Some(Err(e)) => end.finish(Some(e)),
        None if frame > shot.requested_at.unwrap_or(0) + 600 => {
            end.finish(Some("the window screenshot never arrived".into()))
        }
        None => {}
    }
}
