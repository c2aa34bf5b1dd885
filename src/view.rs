//! `genreward view`: the app's flags, checked and turned into [`genreward_app::ViewOptions`].
//! Without the `app` feature the command says so and exits.

use crate::common::RewardArgs;
use anyhow::Result;
use genreward_render::{CameraName, Size};
use genreward_sim::TaskKind;
use std::path::PathBuf;

// Without the app its flags are parsed and not read.
#[cfg_attr(not(feature = "app"), allow(dead_code))]
#[derive(clap::Args, Debug)]
pub struct ViewArgs {
    #[arg(long, default_value = "pick-place")]
    task: TaskKind,
    /// expert | random | zero | keyboard | agent:DIR
    #[arg(long, default_value = "expert")]
    policy: ViewPolicy,
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u32,
    /// Camera of the agent's observation (with --policy agent:DIR: the agent's own, unless
    /// --goal asks for this one to be scored; the agent still acts on its own frames).
    #[arg(long, default_value = "corner2")]
    camera: CameraName,
    /// Observation size, WxH.
    #[arg(long, default_value = "64x64")]
    size: Size,
    /// Run this many frames (one simulation step each), then exit.
    #[arg(long, allow_negative_numbers = true)]
    frames: Option<u32>,
    /// Save a screenshot of the window after the last frame (.png), then exit.
    #[arg(long, requires = "frames")]
    screenshot: Option<PathBuf>,
    /// Save the agent-view frames shown as uint8 [T, H, W, 3] .npy.
    #[arg(long)]
    save_agent_view: Option<PathBuf>,
    /// Start recording at once to this .mp4 or .gif (as the Record button does).
    #[arg(long)]
    record: Option<PathBuf>,
    /// What --record records: agent (the agent view, one frame per step) or window.
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        default_value = "agent",
        requires = "record"
    )]
    record_source: RecordFrom,
    /// A goal video (.mp4, .gif, .npy, a folder of .png): the app computes GenReward's terms
    /// (r_video, r_fb) every step and shows the goal, the terms and the mix.
    #[arg(long)]
    goal: Option<PathBuf>,
    /// Pay r_env only every K steps in the mix (the paper's sparse setting uses 64); the panel
    /// can change it.
    #[arg(long, allow_negative_numbers = true)]
    sparse_every: Option<usize>,
    /// Show the FB reward field of the hand or the object from the start (needs --goal).
    #[arg(long)]
    heatmap: Option<genreward_reward::field::FieldSubject>,
    /// Replay a run folder (`rollout --out`, with its steps.jsonl, manifest.json and obs_*.npy):
    /// every step's scene rebuilt from its recorded state, its agent view and terms,
    /// scrubbable and rescoreable; the task, camera and goal are the run's.
    #[arg(long, conflicts_with_all = ["task", "policy", "seed", "save_agent_view"])]
    run: Option<PathBuf>,
    /// Scripted use: drop these files on the window (one per frame from the third), as a user
    /// drops a goal video.
    #[arg(long = "drop", value_name = "FILE")]
    drops: Vec<PathBuf>,
    /// Window size, WxH (a tall window shows every panel at once in a screenshot).
    #[arg(long, default_value = "1280x800")]
    window_size: Size,
    /// The episode of --run to show first.
    #[arg(
        long,
        default_value_t = 0,
        requires = "run",
        allow_negative_numbers = true
    )]
    episode: usize,
    #[command(flatten)]
    reward: RewardArgs,
}

/// Who drives the app's episode: a policy, or the keyboard.
#[cfg_attr(not(feature = "app"), allow(dead_code))]
#[derive(Clone, Debug)]
pub enum ViewPolicy {
    Keyboard,
    Policy(genreward_agent::PolicyChoice),
}

impl std::str::FromStr for ViewPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().eq_ignore_ascii_case("keyboard") {
            return Ok(ViewPolicy::Keyboard);
        }
        s.parse()
            .map(ViewPolicy::Policy)
            .map_err(|e| format!("{e} (known: expert, random, zero, keyboard, agent:DIR)"))
    }
}

/// What `--record` records.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum RecordFrom {
    /// The agent view, one frame per step.
    Agent,
    /// The whole window.
    Window,
}

#[cfg(not(feature = "app"))]
pub fn view(_a: ViewArgs) -> Result<()> {
    anyhow::bail!("this genreward was built without the app (cargo feature `app`)")
}

#[cfg(feature = "app")]
pub fn view(a: ViewArgs) -> Result<()> {
    use anyhow::bail;
    use genreward_app::{Driver, GoalSetup, RecordSource, ViewOptions};
    use genreward_models::DeviceKind;

    let run = match &a.run {
        Some(dir) => Some(genreward_run::RunDir::open(dir)?),
        None => None,
    };
    let task = match &run {
        Some(r) => r.manifest.task.parse()?,
        None => a.task,
    };
    let (driver, agent) = match &a.policy {
        ViewPolicy::Keyboard => (Driver::Keyboard, None),
        ViewPolicy::Policy(choice) => (Driver::Policy(choice.kind()), choice.load_agent()?),
    };
    let mut obs = genreward_render::ViewSpec::new(a.camera, a.size);
    if let Some(p) = agent.as_ref().filter(|_| a.goal.is_none()) {
        // The agent acts on its own camera's 64x64 frames: the agent view shows those. With a
        // goal it shows (and GenReward scores) --camera, and the agent still sees its own.
        obs = p.view();
    }
    if a.frames == Some(0) {
        bail!("--frames must be at least 1");
    }
    if let Some(p) = &a.record {
        genreward_record::VideoFormat::from_path(p)?;
    }
    let record_source = match a.record_source {
        RecordFrom::Agent => RecordSource::AgentView,
        RecordFrom::Window => RecordSource::Window,
    };
    if a.sparse_every == Some(0) {
        bail!("--sparse-every must be at least 1");
    }
    let mut settings = a.reward.settings()?;
    let recorded_goal = run.as_ref().and_then(|r| r.manifest.goal.clone());
    if settings.device == DeviceKind::Wgpu {
        // One device for Bevy, the agent view and the models, opened before the models load.
        let name = genreward_app::open_shared_gpu()?;
        tracing::info!("models, scene and agent view on one wgpu device: {name}");
    }
    settings.live_agent = false;
    let loaded = match (&a.goal, &recorded_goal) {
        (Some(g), _) => {
            let l = genreward_run::Loaded::from_file(g, &settings, task)?;
            crate::common::warn_fb_note(&l.terms);
            Some(l)
        }
        // A replay re-aims r_fb with the models it was scored with, where they still load.
        (None, Some(_)) => match run
            .as_ref()
            .map(|r| genreward_run::load_recorded(r, a.episode, settings.device))
            .transpose()
            .map(Option::flatten)
        {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "warning: the run's goal models do not load ({e}); showing its recorded terms without the goal strip"
                );
                None
            }
        },
        (None, None) => None,
    };
    if a.heatmap.is_some() && loaded.is_none() {
        bail!("--heatmap needs the goal's models (--goal FILE, or a run scored against a goal whose models load)");
    }
    let goal = loaded.map(|loaded| GoalSetup {
        loaded,
        sparse_every: a.sparse_every,
        heatmap: a.heatmap,
    });
    let opts = ViewOptions {
        task,
        driver,
        seed: a.seed,
        obs_camera: obs.camera,
        obs_size: (obs.width, obs.height),
        frames: a.frames,
        screenshot: a.screenshot,
        save_agent_view: a.save_agent_view,
        record: a.record.map(|p| (p, record_source)),
        run: a.run.map(|p| (p, a.episode)),
        drops: a.drops,
        window: (a.window_size.width, a.window_size.height),
        agent,
    };
    genreward_app::run(opts, goal, settings)
}
