//! Subcommands: `rollout`, `tasks`, `bench`, `parity`.

use crate::record::Recorder;
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use genreward_record::VideoFormat;
use genreward_render::{render_envs, CameraName, Renderer, ViewSpec};
use genreward_run::{RunManifest, VideoInfo};
use genreward_sim::fixture::parity_dir;
use genreward_sim::rollout::run_episode;
use genreward_sim::{
    Env, PhysicsConfig, Policy, PolicyKind, RolloutConfig, RolloutSummary, TaskKind, VecEnv,
};
use indicatif::{ProgressBar, ProgressStyle};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "genreward",
    version,
    about = "Goal-driven rewards and policies for Meta-World Sawyer tasks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run episodes headless and record every step to <out>/steps.jsonl.
    Rollout(RolloutArgs),
    /// List the tasks.
    Tasks,
    /// Measure simulation throughput (steps per second).
    Bench(BenchArgs),
    /// Open the app: the 3D scene, the agent's view, rewards and plots.
    View(ViewArgs),
    /// Render the scripted expert from a seed's initial scene until success (plus a short
    /// hold): the default goal video.
    Goal(crate::goal::GoalArgs),
    /// Write the video VAE's training data: expert, noisy-expert and random episodes of every
    /// task, rendered in batches, with held-out validation seeds.
    Dataset(crate::dataset::DatasetArgs),
    /// Train a model.
    #[command(subcommand)]
    Train(TrainCommand),
    /// Encode and decode a video with the VAE; write input above reconstruction and print PSNR.
    Reconstruct(crate::vae_cli::ReconstructArgs),
    /// Score a recorded run (rollout --camera) against a goal video: r_env, r_video, r_fb and
    /// the mixed reward per step.
    Score(crate::score::ScoreArgs),
    /// Pick the goal frame of a goal video (scores of its 16 sampled frames) and save the strip.
    GoalFrame(crate::goal_frame_cli::GoalFrameArgs),
    /// Draw the reward field (r_fb with the hand or object at each cell of a grid over the
    /// table) over a top view of the scene.
    Heatmap(crate::heatmap::HeatmapArgs),
    /// Measure how well r_video ranks expert, noisy-expert and random episodes on unseen seeds.
    EvalReward(crate::eval::EvalArgs),
    /// How well r_fb rises toward success and ranks expert over random episodes on unseen
    /// seeds (every task).
    EvalFb(crate::eval_fb::EvalFbArgs),
    /// How a policy (a trained agent, or expert / random / zero) does on unseen seeds:
    /// success with its 95 % interval, return, closest approach; with --probe, how precisely
    /// the agent's model state places the hand, the object and the goal (a linear read-out).
    EvalAgent(crate::eval_agent::EvalAgentArgs),
    /// Replay Meta-World fixtures (*.jsonl) through our rewards, info terms,
    /// success checks and experts; fail if any differs.
    Parity {
        /// Folder holding <task>-v3.jsonl fixture files.
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum TrainCommand {
    /// Train the 3D causal video VAE on .npy episodes (see `genreward dataset`).
    Vae(crate::vae_cli::TrainVaeArgs),
    /// Train the forward-backward representation on dataset episodes (see `genreward dataset`).
    Fb(crate::fb_cli::TrainFbArgs),
    /// Train a DreamerV3 agent on a task from pixels, with the environment's reward or the
    /// GenReward mix.
    Dreamer(crate::dreamer_cli::TrainDreamerArgs),
}

#[derive(clap::Args, Debug)]
struct RolloutArgs {
    /// Task name, e.g. pick-place (a -v3 suffix is accepted).
    #[arg(long)]
    task: String,
    /// expert | random | zero | agent:DIR (a trained DreamerV3 agent, a `train dreamer --out`
    /// folder: it sees its own camera at 64x64, saved as obs_NNN.npy unless --camera or --goal
    /// asks for another observation camera, and acts greedily).
    #[arg(long, default_value = "expert")]
    policy: String,
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    episodes: usize,
    /// Episode i uses placement seed seed+i.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u32,
    /// Steps per episode (Meta-World: 500; the paper uses 256).
    #[arg(long, default_value_t = 500, allow_negative_numbers = true)]
    max_steps: usize,
    /// Pay the environment reward only every K steps (the paper uses 64); 0 = every step.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    sparse_every: usize,
    /// Gaussian action noise standard deviation (seeded).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    noise: f64,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Save each episode's camera observations as <out>/obs_NNN.npy (uint8 [T, H, W, 3]).
    /// Cameras: corner, corner2, corner3, corner4, topview, behindGripper, gripperPOV (Meta-World's),
    /// and front, frontClose (ours: see the README).
    #[arg(long)]
    camera: Option<String>,
    /// Observation size, WxH.
    #[arg(long, default_value = "64x64")]
    size: String,
    /// Record the run as video, one frame per step (.mp4: H.264, .gif).
    #[arg(long)]
    video: Option<PathBuf>,
    /// Camera of the video.
    #[arg(long, default_value = "corner")]
    video_camera: String,
    /// Video frame size, WxH.
    #[arg(long, default_value = "256x256")]
    video_size: String,
    /// Print step, reward and success on the video frames (and r_video with --goal).
    #[arg(long)]
    overlay: bool,
    /// Score the run live against this goal video (.mp4, .gif, .npy, a folder of .png):
    /// r_env, r_video and r_fb go into steps.jsonl and reward becomes
    /// r_env + alpha * r_video + beta * r_fb. Renders the observation camera (--camera,
    /// default corner2 at the VAE's size) and saves it; an agent:DIR still acts on its own
    /// camera's frames.
    #[arg(long)]
    goal: Option<PathBuf>,
    #[command(flatten)]
    reward: crate::score::GenRewardArgs,
}

#[derive(clap::Args, Debug)]
struct ViewArgs {
    #[arg(long, default_value = "pick-place")]
    task: String,
    /// expert | random | zero | keyboard
    #[arg(long, default_value = "expert")]
    policy: String,
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u32,
    /// Camera of the agent's observation (with --policy agent:DIR: the agent's own, unless
    /// --goal asks for this one to be scored; the agent still acts on its own frames).
    #[arg(long, default_value = "corner2")]
    camera: String,
    /// Observation size, WxH.
    #[arg(long, default_value = "64x64")]
    size: String,
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
    #[arg(long, default_value = "agent", requires = "record")]
    record_source: String,
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
    heatmap: Option<String>,
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
    window_size: String,
    /// The episode of --run to show first.
    #[arg(
        long,
        default_value_t = 0,
        requires = "run",
        allow_negative_numbers = true
    )]
    episode: usize,
    #[command(flatten)]
    reward: crate::score::GenRewardArgs,
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    #[arg(long)]
    task: String,
    /// expert | random | zero
    #[arg(long, default_value = "expert")]
    policy: String,
    /// Environment steps to time (in total over all environments).
    #[arg(long, default_value_t = 20_000, allow_negative_numbers = true)]
    steps: usize,
    /// Environments stepped in parallel (1 = single-threaded figure).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    envs: usize,
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u32,
    /// Also render every environment's observation each step from this camera
    /// (all environments in one batch) and report obs_per_sec.
    #[arg(long)]
    camera: Option<String>,
    /// Observation size, WxH.
    #[arg(long, default_value = "64x64")]
    size: String,
}

pub fn run() -> Result<()> {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                e.exit();
            }
            // clap's messages span several lines; keep the first, and the line it introduces
            // when it ends with a colon (the arguments that are missing).
            let text = e.to_string();
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("invalid arguments");
            let first = first.trim_start_matches("error: ");
            match (first.ends_with(':'), lines.next()) {
                (true, Some(next)) => bail!("{first} {next}"),
                _ => bail!("{first}"),
            }
        }
    };
    match cli.command {
        Command::Rollout(a) => rollout(a),
        Command::Tasks => {
            for t in TaskKind::ALL {
                println!("{:<18}{}", t.name(), t.description());
                println!("{:<18}goal text: \"{}\"", "", t.goal_text());
            }
            Ok(())
        }
        Command::Bench(a) => bench(a),
        Command::View(a) => view(a),
        Command::Goal(a) => crate::goal::goal(a),
        Command::Dataset(a) => crate::dataset::dataset(a),
        Command::Train(TrainCommand::Vae(a)) => crate::vae_cli::train_vae(a),
        Command::Train(TrainCommand::Fb(a)) => crate::fb_cli::train_fb(a),
        Command::Train(TrainCommand::Dreamer(a)) => crate::dreamer_cli::train_dreamer(a),
        Command::Reconstruct(a) => crate::vae_cli::reconstruct(a),
        Command::Score(a) => crate::score::score(a),
        Command::GoalFrame(a) => crate::goal_frame_cli::goal_frame(a),
        Command::Heatmap(a) => crate::heatmap::heatmap(a),
        Command::EvalReward(a) => crate::eval::eval_reward(a),
        Command::EvalFb(a) => crate::eval_fb::eval_fb(a),
        Command::EvalAgent(a) => crate::eval_agent::eval_agent(a),
        Command::Parity { dir } => parity(&dir),
    }
}

fn parse_task(s: &str) -> Result<TaskKind> {
    Ok(s.parse::<TaskKind>()?)
}

fn parse_policy(s: &str) -> Result<PolicyKind> {
    Ok(s.parse::<PolicyKind>()?)
}

fn check_noise(noise: f64) -> Result<()> {
    if !noise.is_finite() || noise < 0.0 {
        bail!("--noise must be a finite number >= 0 (got {noise})");
    }
    Ok(())
}

fn parse_view(camera: &str, size: &str, flag: &str) -> Result<ViewSpec> {
    let camera: CameraName = camera.parse()?;
    let (width, height) =
        genreward_render::parse_size(size).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))?;
    Ok(ViewSpec {
        camera,
        width,
        height,
    })
}

fn rollout(mut a: RolloutArgs) -> Result<()> {
    let task = parse_task(&a.task)?;
    let agent = match crate::agent_policy::agent_dir(&a.policy)? {
        Some(dir) => Some(crate::agent_policy::AgentPolicy::load(&dir)?),
        None => None,
    };
    if let Some(trained) = agent.as_ref().and_then(|p| p.task()).filter(|t| *t != task) {
        eprintln!("note: the agent was trained on {trained}; running it on {task}");
    }
    let policy = match &agent {
        Some(_) => PolicyKind::Agent,
        None => parse_policy(&a.policy)?,
    };
    check_noise(a.noise)?;
    if agent.is_some() && a.noise > 0.0 {
        bail!("--noise applies to the built-in policies, not to agent:DIR");
    }
    if a.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    if a.max_steps == 0 {
        bail!("--max-steps must be at least 1");
    }
    let mut obs = match (&a.camera, &a.goal) {
        (Some(c), _) => Some(parse_view(c, &a.size, "size")?),
        (None, Some(_)) => Some(parse_view("corner2", &a.size, "size")?),
        (None, None) => None,
    };
    // The agent acts on the frames it was trained on. Those are what the run saves unless
    // --camera (or --goal, which scores corner2 by default) asks for others: then the agent's
    // are rendered besides, for it alone.
    let actor_view = agent.as_ref().map(|p| p.view());
    if obs.is_none() {
        obs = actor_view;
    }
    // A live agent gives its model state to an FB trained on it.
    a.reward.live_agent = agent.is_some();
    let loaded = match &a.goal {
        Some(goal) => Some(crate::score::load_terms(goal, &a.reward, task)?),
        None => None,
    };
    let video = match &a.video {
        Some(path) => {
            VideoFormat::from_path(path)?;
            Some((
                parse_view(&a.video_camera, &a.video_size, "video-size")?,
                path.as_path(),
                a.overlay,
            ))
        }
        None => None,
    };
    let cfg = RolloutConfig {
        task,
        policy,
        episodes: a.episodes,
        seed: a.seed,
        max_steps: a.max_steps,
        sparse_every: a.sparse_every,
        noise: a.noise,
        physics: PhysicsConfig::default(),
    };
    fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create output folder {}", a.out.display()))?;

    let bar = ProgressBar::new((cfg.episodes * cfg.max_steps) as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} steps ({per_sec}, eta {eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_message(format!("{} {}", task, a.policy));
    let stop = crate::interrupt_flag();
    let mut rec = Recorder::new(&a.out, obs, video, bar.clone(), stop.clone())?;
    if let Some(view) = actor_view {
        rec = rec.with_actor_view(view)?;
    }
    let mut goal_info = None;
    if let Some(l) = loaded {
        let goal_frame = l
            .terms
            .goal
            .window
            .get(l.terms.goal_frame.frame)
            .map(|f| (f.clone(), l.terms.goal.size));
        rec = rec.with_terms(
            l.terms.video,
            l.terms.fb,
            l.info.alpha,
            l.info.beta,
            goal_frame,
        );
        goal_info = Some(l.info);
    }
    let mut actor: Box<dyn genreward_sim::Actor> = match &agent {
        Some(p) => Box::new(p.actor()),
        None => Box::new(Policy::for_run(cfg.policy, cfg.task, cfg.noise, cfg.seed)),
    };
    let mut episodes = Vec::with_capacity(cfg.episodes);
    for i in 0..cfg.episodes {
        rec.begin_episode(i)?;
        let summary = run_episode(&cfg, i, actor.as_mut(), &mut rec)?;
        rec.end_episode()?;
        episodes.push(summary);
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    let term_ms = rec.term_ms.clone();
    let fb_ms = rec.fb_ms.clone();
    let files = rec.finish()?;
    bar.finish_and_clear();
    let interrupted = stop.load(Ordering::SeqCst);

    let summary = RolloutSummary::new(&cfg, &episodes);
    let manifest = RunManifest {
        genreward_version: env!("CARGO_PKG_VERSION").into(),
        command: std::env::args().collect(),
        task: task.name().into(),
        metaworld_name: task.v3_name(),
        config: cfg.clone(),
        observations: obs,
        video: a.video.as_ref().map(|p| VideoInfo {
            path: p.display().to_string(),
            view: video.expect("video settings").0,
            overlay: a.overlay,
            fps: crate::record::VIDEO_FPS,
            frames_are: "state before each step's action, one frame per step".into(),
        }),
        goal: goal_info,
        agent: agent.as_ref().map(|p| p.describe()),
        files,
        interrupted,
        episodes: episodes.clone(),
        summary: summary.clone(),
    };
    let mpath = a.out.join("manifest.json");
    fs::write(&mpath, serde_json::to_string_pretty(&manifest)? + "\n")
        .with_context(|| format!("cannot write {}", mpath.display()))?;
    let mut line = serde_json::to_value(&summary)?;
    if a.goal.is_some() {
        line["ms_per_window"] = serde_json::json!(crate::score::median(&term_ms));
        if !fb_ms.is_empty() {
            // One step at a time, as the run goes (score batches a whole episode).
            line["ms_per_step_fb"] = serde_json::json!(crate::score::median(&fb_ms));
        }
    }
    println!("{line}");
    if interrupted {
        bail!(
            "interrupted: kept {} episode(s) in {}",
            episodes.len(),
            a.out.display()
        );
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct BenchResult {
    task: String,
    policy: String,
    envs: usize,
    threads: usize,
    steps: usize,
    seconds: f64,
    /// Environment steps per second (including rendering when a camera is given).
    steps_per_sec: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    camera: Option<ViewSpec>,
    /// Observations rendered per second, counting only the time spent rendering.
    #[serde(skip_serializing_if = "Option::is_none")]
    obs_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    adapter: Option<String>,
    profile: &'static str,
}

fn bench(a: BenchArgs) -> Result<()> {
    let task = parse_task(&a.task)?;
    let policy = parse_policy(&a.policy)?;
    if a.steps == 0 {
        bail!("--steps must be at least 1");
    }
    if a.envs == 0 {
        bail!("--envs must be at least 1");
    }
    let view = match &a.camera {
        Some(c) => Some(parse_view(c, &a.size, "size")?),
        None => None,
    };
    let mut renderer = match view {
        Some(_) => Some(Renderer::new()?),
        None => None,
    };
    let physics = PhysicsConfig::default();
    let mut render_time = 0.0;
    let mut rendered = 0usize;
    let (steps, seconds, threads) = if a.envs == 1 && renderer.is_none() {
        let mut env = Env::new(task, a.seed, physics);
        let mut pol = Policy::new(policy, task, 0.0, a.seed as u64);
        let t0 = Instant::now();
        for _ in 0..a.steps {
            let act = pol.action(env.last_obs());
            let r = env.step(act)?;
            if r.truncated {
                env.reset();
            }
        }
        (a.steps, t0.elapsed().as_secs_f64(), 1)
    } else {
        let mut venv = VecEnv::new(
            task,
            a.envs,
            a.seed,
            physics,
            genreward_sim::env::MAX_PATH_LENGTH,
        );
        let mut pols: Vec<Policy> = (0..a.envs)
            .map(|i| Policy::new(policy, task, 0.0, i as u64))
            .collect();
        let rounds = a.steps.div_ceil(a.envs);
        // Compile shaders and size the buffers before timing.
        if let (Some(r), Some(v)) = (&mut renderer, view) {
            genreward_render::render_specs(r, venv.envs()[0].world(), &[v])?;
        }
        let t0 = Instant::now();
        for _ in 0..rounds {
            if let (Some(r), Some(v)) = (&mut renderer, view) {
                let t = Instant::now();
                let worlds: Vec<_> = venv.envs().iter().map(|e| e.world()).collect();
                rendered += render_envs(r, &worlds, v)?.len();
                render_time += t.elapsed().as_secs_f64();
            }
            let obs = venv.observations();
            let acts: Vec<[f64; 4]> = pols
                .iter_mut()
                .zip(&obs)
                .map(|(p, o)| p.action(o))
                .collect();
            venv.step(&acts)?;
        }
        (
            rounds * a.envs,
            t0.elapsed().as_secs_f64(),
            rayon::current_num_threads(),
        )
    };
    let res = BenchResult {
        task: task.name().into(),
        policy: policy.to_string(),
        envs: a.envs,
        threads,
        steps,
        seconds,
        steps_per_sec: steps as f64 / seconds,
        camera: view,
        obs_per_sec: view.map(|_| rendered as f64 / render_time),
        adapter: renderer.as_ref().map(|r| r.adapter_name()),
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    };
    println!("{}", serde_json::to_string(&res)?);
    Ok(())
}

fn view(a: ViewArgs) -> Result<()> {
    let run = match &a.run {
        Some(dir) => Some(genreward_run::RunDir::open(dir)?),
        None => None,
    };
    let task = match &run {
        Some(r) => parse_task(&r.manifest.task)?,
        None => parse_task(&a.task)?,
    };
    let agent = match crate::agent_policy::agent_dir(&a.policy)? {
        Some(dir) => Some(crate::agent_policy::AgentPolicy::load(&dir)?),
        None => None,
    };
    let driver: crate::app::Driver = match &agent {
        Some(_) => crate::app::Driver::Policy(PolicyKind::Agent),
        None => a.policy.parse()?,
    };
    let mut obs = parse_view(&a.camera, &a.size, "size")?;
    if let Some(p) = agent.as_ref().filter(|_| a.goal.is_none()) {
        // The agent acts on its own camera's 64x64 frames: the agent view shows those. With a
        // goal it shows (and GenReward scores) --camera, and the agent still sees its own.
        obs = p.view();
    }
    if a.frames == Some(0) {
        bail!("--frames must be at least 1");
    }
    if let Some(p) = &a.record {
        VideoFormat::from_path(p)?;
    }
    let record_source = match a.record_source.to_ascii_lowercase().as_str() {
        "agent" => crate::app::RecordSource::AgentView,
        "window" => crate::app::RecordSource::Window,
        other => bail!("unknown --record-source '{other}' (known: agent, window)"),
    };
    if a.sparse_every == Some(0) {
        bail!("--sparse-every must be at least 1");
    }
    let heatmap = a.heatmap.as_deref().map(str::parse).transpose()?;
    let recorded_goal = run.as_ref().and_then(|r| r.manifest.goal.clone());
    let device = crate::score::parse_device(&a.reward.device)?;
    if device == genreward_models::DeviceKind::Wgpu {
        // One device for Bevy, the agent view and the models, opened before the models load.
        let name = crate::app::open_shared_gpu()?;
        tracing::info!("models, scene and agent view on one wgpu device: {name}");
    }
    let loaded = match (&a.goal, &recorded_goal) {
        (Some(g), _) => Some(crate::score::load_terms(g, &a.reward, task)?),
        // A replay re-aims r_fb with the models it was scored with, where they still load.
        (None, Some(info)) => match crate::score::load_recorded(info, task, device) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!(
                    "warning: the run's goal models do not load ({e}); showing its recorded terms without the goal strip"
                );
                None
            }
        },
        (None, None) => None,
    };
    if heatmap.is_some() && loaded.is_none() {
        bail!("--heatmap needs the goal's models (--goal FILE, or a run scored against a goal whose models load)");
    }
    let goal = loaded.map(|loaded| crate::app::GoalSetup {
        loaded,
        sparse_every: a.sparse_every,
        heatmap,
    });
    let opts = crate::app::ViewOptions {
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
        window: genreward_render::parse_size(&a.window_size)
            .map_err(|e| anyhow::anyhow!("--window-size: {e}"))?,
        agent,
    };
    crate::app::run(opts, goal, a.reward)
}

fn parity(dir: &Path) -> Result<()> {
    let report = parity_dir(dir)?;
    println!("{report}");
    if !report.passed() {
        bail!(
            "parity failed: an error exceeds {:e} or a flag differs",
            genreward_sim::fixture::PARITY_TOLERANCE
        );
    }
    Ok(())
}
