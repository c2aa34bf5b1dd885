//! The Bevy app (`genreward view`): the 3D scene, the agent's view, GenReward's terms and
//! their mix, live tuning, replay of run folders, recording. It depends on library crates
//! only; the CLI opens it through [`run`] with [`ViewOptions`].
//!
//! One plugin per concern, each a module, its systems in one [`AppSet`] each frame:
//!
//! - `sim`: the episode, its playback, the timeline, the agent's view and replays of run
//!   folders; steps the environment and renders the agent's observation with the headless
//!   renderer (the very pixels a headless run saves).
//! - `reward`: GenReward's goal, terms, link to the models' worker thread and reward field;
//!   follows the episode and rescores it.
//! - `scene`: mirrors the simulation into Bevy entities.
//! - `camera`: the 3D view's orbit camera and Meta-World's presets.
//! - `table_field`: the reward field drawn on the table in the 3D view.
//! - `textures`: the pictures the panel shows, as egui textures.
//! - `ui`: the egui side panel.
//! - `capture`: scripted runs' end and screenshot, and the recorder.
//! - `gpu`: the wgpu device shared by Bevy, the agent-view renderer and the models.

mod camera;
mod capture;
mod gpu;
mod reward;
mod scene;
mod sim;
mod table_field;
mod textures;
mod ui;

use anyhow::{bail, Result};
use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::window::{PresentMode, WindowResolution};
use bevy_egui::EguiPlugin;
use genreward_render::CameraName;
use genreward_sim::TaskKind;
use std::path::PathBuf;

pub use capture::RecordSource;
pub use gpu::open as open_shared_gpu;
pub use reward::GoalSetup;
pub use sim::Driver;

/// What `genreward view` was asked to do.
#[derive(Clone, Debug)]
pub struct ViewOptions {
    pub task: TaskKind,
    pub driver: Driver,
    pub seed: u32,
    /// Camera and size of the agent's observation.
    pub obs_camera: CameraName,
    pub obs_size: (u32, u32),
    /// Run this many frames, one simulation step per frame, then exit.
    pub frames: Option<u32>,
    /// Save a screenshot of the window after the last frame (needs `frames`).
    pub screenshot: Option<PathBuf>,
    /// Save the agent-view frames shown, as uint8 [T, H, W, 3] .npy.
    pub save_agent_view: Option<PathBuf>,
    /// Start recording at once (path, source), as the Record button does.
    pub record: Option<(PathBuf, RecordSource)>,
    /// Replay this run folder's episode instead of simulating.
    pub run: Option<(PathBuf, usize)>,
    /// Scripted use: files dropped on the window, one per frame from the third.
    pub drops: Vec<PathBuf>,
    /// The window's size in logical pixels.
    pub window: (u32, u32),
    /// `--policy agent:DIR`: the trained agent the `agent` policy runs.
    pub agent: Option<genreward_agent::AgentPolicy>,
}

/// The app's systems in the order they run each frame (`Update`); the panel draws later, in
/// egui's pass.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppSet {
    /// Goal files dropped on the window (and `view --drop`).
    Input,
    /// The simulation's steps due this frame.
    Step,
    /// GenReward follows the episode: steps sent to the models, terms taken, the field.
    Score,
    /// The 3D view follows: the scene, the camera, the field on the table.
    Present,
    /// The side panel (in egui's pass, after `Update`).
    Ui,
    /// Scripted runs' end and screenshot, and the recorder (also on exit, in `Last`).
    Capture,
}

/// Background of the 3D view, the same sky as the observations.
fn sky() -> Color {
    let b = genreward_render::renderer::BACKGROUND;
    Color::linear_rgb(b[0] as f32, b[1] as f32, b[2] as f32)
}

/// Opens the window and runs until it is closed (or the frame budget is spent); with a goal,
/// the GenReward terms follow the episode, and their figures are printed as one JSON line at
/// the end.
pub fn run(
    opts: ViewOptions,
    goal: Option<GoalSetup>,
    models: genreward_reward::RewardSettings,
) -> Result<()> {
    if let Some(p) = &opts.screenshot {
        capture::check_screenshot_path(p)?;
    }
    let scripted = opts.frames.is_some();
    let sim = match &opts.run {
        Some((dir, episode)) => sim::Sim::open_run(&opts, dir, *episode)?,
        None => sim::Sim::new(&opts)?,
    };
    let outcome = capture::Outcome::default();
    let mut reward = reward::Reward::new(goal);
    reward.set_loader(models);
    if let Some(r) = &sim.replay {
        reward.follow_run(&r.run.manifest);
    }
    let summary = reward.summary.clone();
    let mut app = App::new();
    app.insert_resource(ClearColor(sky()))
        .add_plugins(default_plugins(&opts, scripted))
        .add_plugins(EguiPlugin::default());
    sim.insert(&mut app);
    reward.insert(&mut app);
    app.insert_resource(outcome.clone())
        .insert_resource(reward::ScriptedDrops(opts.drops.clone()))
        .configure_sets(
            Update,
            (
                AppSet::Input,
                AppSet::Step,
                AppSet::Score,
                AppSet::Present,
                AppSet::Capture,
            )
                .chain(),
        )
        .add_plugins((
            sim::SimPlugin,
            reward::RewardPlugin,
            table_field::TableFieldPlugin,
            scene::ScenePlugin,
            camera::CameraPlugin,
            textures::TexturesPlugin,
            ui::UiPlugin,
            capture::CapturePlugin {
                screenshot: opts.screenshot.clone(),
                record: opts.record.clone(),
            },
        ));
    let exit = app.run();
    if let Some(msg) = outcome.error() {
        bail!("{msg}");
    }
    if let AppExit::Error(code) = exit {
        bail!("the app stopped with error code {code}");
    }
    if let Some(s) = summary.0.lock().ok().and_then(|g| g.clone()) {
        println!("{s}");
    }
    Ok(())
}

/// Bevy's plugins: the window `opts` asks for, rendering on the shared device when there is
/// one (scripted runs compile their shaders before the first frame).
fn default_plugins(opts: &ViewOptions, scripted: bool) -> impl PluginGroup {
    DefaultPlugins
        .set(WindowPlugin {
            primary_window: Some(Window {
                title: "genreward".into(),
                resolution: WindowResolution::new(opts.window.0, opts.window.1),
                present_mode: PresentMode::AutoVsync,
                ..default()
            }),
            ..default()
        })
        .set(RenderPlugin {
            // Scripted runs must show the scene on their last frame,
            // not wait for shaders compiling in the background.
            synchronous_pipeline_compilation: scripted,
            // `--device wgpu`: Bevy renders on the device the models run on.
            render_creation: gpu::render_creation().unwrap_or_default(),
            ..default()
        })
        // main() already installed the tracing subscriber.
        .disable::<bevy::log::LogPlugin>()
}
