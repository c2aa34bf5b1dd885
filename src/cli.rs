//! The commands: typed flags -> a library call -> the JSON line. `train`, `reconstruct` and the
//! evaluations live in `train_cmd` and `eval_cmd`; everything else is here.

use crate::common::{bar, check_png, interrupt_flag, print_json, warn_fb_note, RewardArgs};
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use genreward_agent::PolicyChoice;
use genreward_episodes::{
    field_map, write_dataset, write_expert_goal, DatasetConfig, ExpertGoal, FieldMapConfig,
    HOLD_STEPS,
};
use genreward_models::DeviceKind;
use genreward_record::VideoFormat;
use genreward_render::{render_envs, CameraName, Renderer, Size, ViewSpec};
use genreward_reward::field::FieldSubject;
use genreward_run::{
    record_rollout, score_run, Loaded, RolloutGoal, RolloutSpec, RunDir, VideoSpec,
};
use genreward_sim::fixture::parity_dir;
use genreward_sim::{
    Env, PhysicsConfig, Policy, PolicyKind, RolloutConfig, TaskKind, TaskList, VecEnv,
};
use std::io::Write;
use std::path::{Path, PathBuf};
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
    View(crate::view::ViewArgs),
    /// Render the scripted expert from a seed's initial scene until success (plus a short
    /// hold): the default goal video.
    Goal(GoalArgs),
    /// Write the video VAE's training data: expert, noisy-expert and random episodes of every
    /// task, rendered in batches, with held-out validation seeds.
    Dataset(DatasetArgs),
    /// Write the goal-video generator's data: the expert's goal video of every task on
    /// thousands of seeds (fixed, disjoint training and validation ranges), each as its VAE
    /// latent beside its first frame.
    GoalData(GoalDataArgs),
    /// Train a model.
    #[command(subcommand)]
    Train(TrainCommand),
    /// Encode and decode a video with the VAE; write input above reconstruction and print PSNR.
    Reconstruct(crate::train_cmd::ReconstructArgs),
    /// Score a recorded run (rollout --camera) against a goal video: r_env, r_video, r_fb and
    /// the mixed reward per step.
    Score(ScoreArgs),
    /// Pick the goal frame of a goal video (scores of its 16 sampled frames) and save the strip.
    GoalFrame(GoalFrameArgs),
    /// Draw the reward field (r_fb with the hand or object at each cell of a grid over the
    /// table) over a top view of the scene.
    Heatmap(HeatmapArgs),
    /// Measure how well r_video ranks expert, noisy-expert and random episodes on unseen seeds.
    EvalReward(crate::eval_cmd::EvalRewardArgs),
    /// How close generated goal videos come to each held-out seed's own expert video, beside
    /// the baselines (the oracle, another seed's expert, the task's mean, frame 0, retrieval),
    /// and how well each serves as the reward's goal (specificity, expert vs random, r_fb's
    /// rise to success).
    EvalGoals(crate::eval_cmd::EvalGoalsArgs),
    /// How well r_fb rises toward success and ranks expert over random episodes on unseen
    /// seeds (every task).
    EvalFb(crate::eval_cmd::EvalFbArgs),
    /// How a policy (a trained agent, or expert / random / zero) does on unseen seeds:
    /// success with its 95 % interval, return, closest approach; with --probe, how precisely
    /// the agent's model state places the hand, the object and the goal (a linear read-out).
    EvalAgent(crate::eval_cmd::EvalAgentArgs),
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
    Vae(crate::train_cmd::TrainVaeArgs),
    /// Train the forward-backward representation on dataset episodes (see `genreward dataset`).
    Fb(crate::train_cmd::TrainFbArgs),
    /// Train the goal-video generator on expert goal latents (see `genreward goal-data`).
    Goalgen(crate::train_cmd::TrainGoalGenArgs),
    /// Train a DreamerV3 agent on a task from pixels, with the environment's reward or the
    /// GenReward mix.
    Dreamer(crate::train_cmd::TrainDreamerArgs),
}

#[derive(clap::Args, Debug)]
struct RolloutArgs {
    /// Task name, e.g. pick-place (a -v3 suffix is accepted).
    #[arg(long)]
    task: TaskKind,
    /// expert | random | zero | agent:DIR (a trained DreamerV3 agent, a `train dreamer --out`
    /// folder: it sees its own camera at 64x64, saved as obs_NNN.npy unless --camera or --goal
    /// asks for another observation camera, and acts greedily).
    #[arg(long, default_value = "expert")]
    policy: PolicyChoice,
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    episodes: usize,
    /// Episode i uses placement seed seed+i.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u32,
    /// Steps per episode (Meta-World: 500; the paper uses 256).
    #[arg(long, default_value_t = 500, allow_negative_numbers = true)]
    max_steps: usize,
    /// Pay the environment reward only every K steps (the paper uses 64; default: every step).
    #[arg(long, allow_negative_numbers = true)]
    sparse_every: Option<usize>,
    /// Gaussian action noise standard deviation (seeded).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    noise: f64,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Save each episode's camera observations as <out>/obs_NNN.npy (uint8 [T, H, W, 3]).
    /// Cameras: corner, corner2, corner3, corner4, topview, behindGripper, gripperPOV (Meta-World's),
    /// and front (ours: see docs/cameras.md).
    #[arg(long)]
    camera: Option<CameraName>,
    /// Observation size, WxH.
    #[arg(long, default_value = "64x64")]
    size: Size,
    /// Record the run as video, one frame per step (.mp4: fragmented H.264, .gif).
    #[arg(long)]
    video: Option<PathBuf>,
    /// Camera of the video.
    #[arg(long, default_value = "corner")]
    video_camera: CameraName,
    /// Video frame size, WxH.
    #[arg(long, default_value = "256x256")]
    video_size: Size,
    /// Print step, reward and success on the video frames (and r_video with --goal).
    #[arg(long)]
    overlay: bool,
    /// Score the run live against this goal video (.mp4, .gif, .npy, a folder of .png), or
    /// `generated`: each episode against its own goal, generated from its first observation
    /// frame before the first action (as in the paper; saved as goal_NNN.npy). r_env, r_video
    /// and r_fb go into steps.jsonl and reward becomes r_env + alpha * r_video + beta * r_fb.
    /// Renders the observation camera (--camera, default corner2 at the VAE's size) and saves
    /// it; an agent:DIR still acts on its own camera's frames.
    #[arg(long)]
    goal: Option<PathBuf>,
    /// With --goal generated: how the goals are generated.
    #[command(flatten)]
    gen: crate::common::GenArgs,
    #[command(flatten)]
    gen_steps: crate::common::GenSteps,
    #[command(flatten)]
    reward: RewardArgs,
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    #[arg(long)]
    task: TaskKind,
    /// expert | random | zero
    #[arg(long, default_value = "expert")]
    policy: PolicyKind,
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
    camera: Option<CameraName>,
    /// Observation size, WxH.
    #[arg(long, default_value = "64x64")]
    size: Size,
}

#[derive(clap::Args, Debug)]
struct GoalArgs {
    /// Task name.
    #[arg(long)]
    task: TaskKind,
    /// Placement seed of the scene the goal starts from (its reset frame is the generator's
    /// first frame; the expert starts from it).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u32,
    /// .mp4, .gif, .npy, or a folder name (no extension) for PNG frames.
    #[arg(long)]
    out: PathBuf,
    /// generated: the goal-video generator's video from the first frame and the task, as in
    /// the paper (no expert runs); expert: the scripted expert solving the seed's scene (the
    /// oracle, privileged: it needs an expert for the scene).
    #[arg(long, default_value = "generated", value_parser = ["generated", "expert"])]
    source: String,
    /// Generate from this image (.png, or .npy uint8 [1, H, W, 3], at the generator's size)
    /// instead of the seed's reset frame.
    #[arg(long)]
    first_frame: Option<PathBuf>,
    #[command(flatten)]
    gen: crate::common::GenArgs,
    #[command(flatten)]
    gen_steps: crate::common::GenSteps,
    /// The VAE the generator was trained with (default: the shipped assets/models/vae).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// cpu (burn-flex) or wgpu, for the generator.
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// Camera (the agent's, by default).
    #[arg(long, default_value = "corner2")]
    camera: CameraName,
    /// Frame size, WxH (the generator's is 64x64).
    #[arg(long, default_value = "64x64")]
    size: Size,
    /// Frames of the goal video: the episode's length (rollout's default --max-steps is 500,
    /// the paper's 256), so its 16 sampled frames line up in time with the agent's. A generated
    /// goal is its 16 frames stretched to it (16: just them); an expert goal holds its final
    /// state to it (0: stop `--hold` steps after the first success).
    #[arg(long, default_value_t = 500, allow_negative_numbers = true)]
    length: usize,
    /// The expert gives up if it has not succeeded after this many steps.
    #[arg(long, default_value_t = 500, allow_negative_numbers = true)]
    max_steps: usize,
    /// Steps the expert's goal keeps after the first success.
    #[arg(long, default_value_t = HOLD_STEPS, allow_negative_numbers = true)]
    hold: usize,
}

#[derive(clap::Args, Debug)]
struct DatasetArgs {
    /// Output folder: train/<task>/<variant>/{obs,state,action}_<seed>.npy and val/... .
    #[arg(long)]
    out: PathBuf,
    /// Training episodes per task and behaviour (seeds seed, seed+1, ...).
    #[arg(long, default_value_t = 6, allow_negative_numbers = true)]
    train_episodes: usize,
    /// Validation episodes per task and behaviour (seeds seed+500, ...).
    #[arg(long, default_value_t = 2, allow_negative_numbers = true)]
    val_episodes: usize,
    /// First training seed.
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    seed: u32,
    /// Steps per episode (the paper's 256).
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    steps: usize,
    #[arg(long, default_value = "corner2")]
    camera: CameraName,
    #[arg(long, default_value = "64x64")]
    size: Size,
    /// Comma-separated task names, or all.
    #[arg(long, default_value = "all")]
    tasks: TaskList,
}

#[derive(clap::Args, Debug)]
struct GoalDataArgs {
    /// Output folder: {train,val}/<task>/{latents,first}.npy, seeds.json, and goal_data.json.
    #[arg(long)]
    out: PathBuf,
    /// Training seeds per task (from 10000).
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    train: usize,
    /// Validation seeds per task (from 20000).
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    val: usize,
    /// Frames of each goal video, the 16 sampled from them (the episode's length).
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    length: usize,
    #[arg(long, default_value = "corner2")]
    camera: CameraName,
    /// VAE checkpoint folder (default: the shipped assets/models/vae).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// Comma-separated task names, or all.
    #[arg(long, default_value = "all")]
    tasks: TaskList,
}

#[derive(clap::Args, Debug)]
struct ScoreArgs {
    /// A run folder recorded with camera observations (rollout --camera).
    #[arg(long)]
    run: PathBuf,
    /// The goal video (.mp4, .gif, .npy, a folder of .png), or `generated`: each episode
    /// against the goal generated from its own first frame, as in the paper (one batch, one
    /// goal per distinct seed; a file named generated is ./generated).
    #[arg(long)]
    goal: PathBuf,
    /// Where to write one JSON line per step: episode, step, r_env (as paid), r_video, r_fb,
    /// reward.
    #[arg(long)]
    out: PathBuf,
    /// With --goal generated: also save each episode's goal video here, as goal_NNN.mp4.
    #[arg(long)]
    save_goals: Option<PathBuf>,
    #[command(flatten)]
    gen: crate::common::GenArgs,
    #[command(flatten)]
    gen_steps: crate::common::GenSteps,
    /// Pay r_env (the recorded dense reward) only every K steps (the paper uses 64); 0 = every
    /// step. Default: as the run was recorded.
    #[arg(long, allow_negative_numbers = true)]
    sparse_every: Option<usize>,
    #[command(flatten)]
    reward: RewardArgs,
}

#[derive(clap::Args, Debug)]
struct GoalFrameArgs {
    /// The goal video (.mp4, .gif, .npy, a folder of .png).
    #[arg(long)]
    goal: PathBuf,
    /// The task, whose sentence (see `genreward tasks`) CLIP scores the frames against.
    #[arg(long)]
    task: TaskKind,
    /// Where to save the 16 sampled frames with their scores and the choice marked (.png).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The VAE whose input size the frames are sampled at (and whose features the fallback
    /// scores with; default: the shipped one).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// CLIP weights (OpenCLIP layout: *.safetensors, open_clip_config.json, the BPE vocabulary):
    /// score each frame against the task's sentence and take the best. Without them: the last
    /// sampled frame, scored by its VAE-feature cosine to the last one.
    #[arg(long)]
    clip: Option<PathBuf>,
    /// Take this frame (0-15) instead; the scores are still shown.
    #[arg(long, allow_negative_numbers = true)]
    goal_frame: Option<usize>,
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
}

#[derive(clap::Args, Debug)]
struct HeatmapArgs {
    #[arg(long)]
    task: TaskKind,
    /// Placement seed of the scene.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u32,
    /// The goal video (default: the expert's on this seed, as `genreward goal` makes it).
    #[arg(long)]
    goal: Option<PathBuf>,
    /// Where to save the picture (.png).
    #[arg(long)]
    out: PathBuf,
    /// Whose position the field moves: hand or object.
    #[arg(long, default_value = "hand")]
    subject: FieldSubject,
    /// Let the expert act this many steps first (the field of a state mid-task).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    at_step: usize,
    /// Cells per side of the grid over the hand's reachable box.
    #[arg(long, default_value_t = 32, allow_negative_numbers = true)]
    grid: usize,
    /// Side of the picture's top view in pixels.
    #[arg(long, default_value_t = 512, allow_negative_numbers = true)]
    size: u32,
    /// FB checkpoint folder (default: the shipped one).
    #[arg(long)]
    fb: Option<PathBuf>,
    /// The VAE the FB model's goal features come from (default: the shipped one).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// CLIP weights to pick the goal frame by the task's sentence.
    #[arg(long)]
    clip: Option<PathBuf>,
    /// DINO weights of an FB checkpoint trained with `train fb --dino` (default: the folder it
    /// was trained with).
    #[arg(long)]
    dino: Option<PathBuf>,
    /// The goal frame (0-15; default: chosen as `score` does).
    #[arg(long, allow_negative_numbers = true)]
    goal_frame: Option<usize>,
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// The camera an FB model that reads frames was trained on (the dataset's): the field's
    /// cells are re-rendered from it.
    #[arg(long, default_value = "corner2")]
    camera: CameraName,
}

/// Parses the command line; clap's multi-line errors become one line.
fn parse() -> Result<Cli> {
    match Cli::try_parse() {
        Ok(c) => Ok(c),
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
    }
}

pub fn run() -> Result<()> {
    match parse()?.command {
        Command::Rollout(a) => rollout(a),
        Command::Tasks => {
            for t in TaskKind::ALL {
                println!("{:<18}{}", t.name(), t.description());
                println!("{:<18}goal text: \"{}\"", "", t.goal_text());
            }
            Ok(())
        }
        Command::Bench(a) => bench(a),
        Command::View(a) => crate::view::view(a),
        Command::Goal(a) => goal(a),
        Command::Dataset(a) => dataset(a),
        Command::GoalData(a) => goal_data(a),
        Command::Train(TrainCommand::Vae(a)) => crate::train_cmd::train_vae(a),
        Command::Train(TrainCommand::Fb(a)) => crate::train_cmd::train_fb(a),
        Command::Train(TrainCommand::Goalgen(a)) => crate::train_cmd::train_goalgen(a),
        Command::Train(TrainCommand::Dreamer(a)) => crate::train_cmd::train_dreamer(a),
        Command::Reconstruct(a) => crate::train_cmd::reconstruct(a),
        Command::Score(a) => score(a),
        Command::GoalFrame(a) => goal_frame(a),
        Command::Heatmap(a) => heatmap(a),
        Command::EvalReward(a) => crate::eval_cmd::eval_reward(a),
        Command::EvalGoals(a) => crate::eval_cmd::eval_goals(a),
        Command::EvalFb(a) => crate::eval_cmd::eval_fb(a),
        Command::EvalAgent(a) => crate::eval_cmd::eval_agent(a),
        Command::Parity { dir } => parity(&dir),
    }
}

fn check_noise(noise: f64) -> Result<()> {
    if !noise.is_finite() || noise < 0.0 {
        bail!("--noise must be a finite number >= 0 (got {noise})");
    }
    Ok(())
}

fn rollout(a: RolloutArgs) -> Result<()> {
    let task = a.task;
    let agent = a.policy.load_agent()?;
    if let Some(trained) = agent.as_ref().and_then(|p| p.task()).filter(|t| *t != task) {
        eprintln!("note: the agent was trained on {trained}; running it on {task}");
    }
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
    if a.sparse_every == Some(0) {
        bail!("--sparse-every must be at least 1");
    }
    // The agent acts on the frames it was trained on. Those are what the run saves unless
    // --camera (or --goal, which scores corner2 by default) asks for others: then the agent's
    // are rendered besides, for it alone.
    let actor_view = agent.as_ref().map(|p| p.view());
    let observations = match (a.camera, &a.goal) {
        (Some(c), _) => Some(ViewSpec::new(c, a.size)),
        (None, Some(_)) => Some(ViewSpec::new(CameraName::Corner2, a.size)),
        (None, None) => actor_view,
    };
    let generated = a
        .goal
        .as_ref()
        .is_some_and(|g| g.as_os_str() == "generated");
    let goal = match &a.goal {
        Some(path) => {
            let mut settings = a.reward.settings()?;
            // A live agent gives its model state to an FB trained on it.
            settings.live_agent = agent.is_some();
            if generated {
                let goals = a.gen.episode_goals(a.gen_steps.steps, &settings)?;
                Some(RolloutGoal::Generated { goals, settings })
            } else {
                let loaded = Loaded::from_file(path, &settings, task)?;
                warn_fb_note(&loaded.terms);
                Some(RolloutGoal::Fixed(loaded))
            }
        }
        None => None,
    };
    let video = match &a.video {
        Some(path) => {
            VideoFormat::from_path(path)?;
            Some(VideoSpec {
                path: path.clone(),
                view: ViewSpec::new(a.video_camera, a.video_size),
                overlay: a.overlay,
            })
        }
        None => None,
    };
    let config = RolloutConfig {
        task,
        policy: a.policy.kind(),
        episodes: a.episodes,
        seed: a.seed,
        max_steps: a.max_steps,
        sparse_every: a.sparse_every,
        noise: a.noise,
        physics: PhysicsConfig::default(),
    };
    let mut actor: Box<dyn genreward_sim::Actor> = match &agent {
        Some(p) => Box::new(p.actor()),
        None => Box::new(Policy::for_run(config.policy, task, a.noise, a.seed)),
    };
    let progress = bar((a.episodes * a.max_steps) as u64, "steps");
    progress.set_message(format!("{task} {}", a.policy));
    let stop = interrupt_flag();
    let has_goal = goal.is_some();
    let spec = RolloutSpec {
        config,
        out: a.out.clone(),
        observations,
        actor_view,
        video,
        goal,
        agent: agent.as_ref().map(|p| p.describe()),
        command: std::env::args().collect(),
    };
    let outcome = record_rollout(spec, actor.as_mut(), progress.clone(), stop)?;
    progress.finish_and_clear();
    if let Some(note) = &outcome.fb_note {
        eprintln!("warning: {note}");
    }
    let mut line = serde_json::to_value(&outcome.manifest.summary)?;
    if has_goal {
        line["ms_per_window"] = serde_json::json!(genreward_stats::median(&outcome.term_ms));
        if !outcome.fb_ms.is_empty() {
            // One step at a time, as the run goes (score batches a whole episode).
            line["ms_per_step_fb"] = serde_json::json!(genreward_stats::median(&outcome.fb_ms));
        }
    }
    println!("{line}");
    if outcome.manifest.interrupted {
        bail!(
            "interrupted: kept {} episode(s) in {}",
            outcome.manifest.episodes.len(),
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
    let (task, policy) = (a.task, a.policy);
    if a.steps == 0 {
        bail!("--steps must be at least 1");
    }
    if a.envs == 0 {
        bail!("--envs must be at least 1");
    }
    let view = a.camera.map(|c| ViewSpec::new(c, a.size));
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
    print_json(&BenchResult {
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
    })
}

fn goal(a: GoalArgs) -> Result<()> {
    if a.source == "expert" {
        if a.first_frame.is_some() {
            bail!("--first-frame needs --source generated (the expert starts from a seed's scene)");
        }
        if a.max_steps == 0 {
            bail!("--max-steps must be at least 1");
        }
        let g = ExpertGoal {
            task: a.task,
            seed: a.seed,
            view: ViewSpec::new(a.camera, a.size),
            max_steps: a.max_steps,
            hold: a.hold,
            length: a.length,
        };
        return print_json(&write_expert_goal(&g, &a.out)?);
    }
    let settings = a.gen.settings(a.gen_steps.steps, "--steps")?;
    if a.length < 2 {
        bail!("--length must be at least 2 for a generated goal");
    }
    let spec = genreward_episodes::GeneratedGoalSpec {
        task: a.task,
        first: match a.first_frame {
            Some(p) => genreward_episodes::FirstFrame::Image(p),
            None => genreward_episodes::FirstFrame::Seed(a.seed),
        },
        view: ViewSpec::new(a.camera, a.size),
        length: a.length,
        generator: a.gen.dir(),
        vae: a.vae.unwrap_or_else(genreward_reward::default_vae_dir),
        settings,
        device: a.device,
    };
    print_json(&genreward_episodes::write_generated_goal(&spec, &a.out)?)
}

fn goal_data(a: GoalDataArgs) -> Result<()> {
    if a.train + a.val == 0 {
        bail!("--train + --val must be at least 1");
    }
    let max = genreward_episodes::GOAL_MAX_SEEDS;
    if a.train > max || a.val > max {
        bail!("--train and --val must be at most {max} (the seed ranges stay apart)");
    }
    if a.length < genreward_reward::WINDOW {
        bail!("--length must be at least {}", genreward_reward::WINDOW);
    }
    let vae = a.vae.unwrap_or_else(genreward_reward::default_vae_dir);
    let encoder = genreward_reward::load_encoder::<burn::backend::Flex>(&vae, Default::default())?;
    let side = encoder.size();
    let cfg = genreward_episodes::GoalDataConfig {
        out: a.out,
        tasks: a.tasks.0,
        train: a.train,
        val: a.val,
        view: ViewSpec::new(
            a.camera,
            genreward_render::Size {
                width: side,
                height: side,
            },
        ),
        length: a.length,
        vae,
    };
    let progress = bar(0, "goal videos");
    let report = genreward_episodes::write_goal_data(&cfg, &encoder, &progress)?;
    progress.finish_and_clear();
    print_json(&report)
}

fn dataset(a: DatasetArgs) -> Result<()> {
    if a.train_episodes + a.val_episodes == 0 || a.steps == 0 {
        bail!("--train-episodes + --val-episodes and --steps must be at least 1");
    }
    let limit = genreward_episodes::VAL_SEED_OFFSET;
    if a.train_episodes as u32 > limit {
        bail!("--train-episodes must be at most {limit} (validation seeds start there)");
    }
    let cfg = DatasetConfig {
        out: a.out,
        train_episodes: a.train_episodes,
        val_episodes: a.val_episodes,
        seed: a.seed,
        steps: a.steps,
        view: ViewSpec::new(a.camera, a.size),
        tasks: a.tasks.0,
    };
    let progress = bar(0, "frames");
    let report = write_dataset(&cfg, std::env::args().collect(), &progress)?;
    progress.finish_and_clear();
    print_json(&report)
}

fn score(a: ScoreArgs) -> Result<()> {
    let run = RunDir::open(&a.run)?;
    if run.manifest.observations.is_none() {
        bail!(
            "run '{}' has no camera observations: record it with rollout --camera",
            a.run.display()
        );
    }
    let task: TaskKind = run.manifest.task.parse()?;
    let settings = a.reward.settings()?;
    if a.goal.as_os_str() == "generated" {
        let goals = a.gen.episode_goals(a.gen_steps.steps, &settings)?;
        let (lines, report, videos) =
            genreward_run::score_run_generated(&run, &goals, &settings, a.sparse_every)?;
        if let Some(dir) = &a.save_goals {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for (ep, v) in report.episodes.iter().zip(&videos) {
                let path = dir.join(format!("goal_{:03}.mp4", ep.episode));
                genreward_record::save_frames(
                    &path,
                    v.video.width,
                    v.video.height,
                    genreward_sim::CONTROL_HZ,
                    &v.video.frames,
                )?;
            }
        }
        write_lines(&a.out, &lines)?;
        return print_json(&report);
    }
    if a.save_goals.is_some() {
        bail!("--save-goals needs --goal generated");
    }
    let loaded = Loaded::from_file(&a.goal, &settings, task)?;
    warn_fb_note(&loaded.terms);
    // Everything is computed before the output file is opened: a failure leaves nothing half
    // written.
    let (lines, report) = score_run(&run, loaded, a.sparse_every)?;
    write_lines(&a.out, &lines)?;
    print_json(&report)
}

/// Writes one JSON line per item.
fn write_lines(path: &Path, lines: &[impl serde::Serialize]) -> Result<()> {
    let err = || format!("cannot write {}", path.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).with_context(err)?);
    for line in lines {
        serde_json::to_writer(&mut out, line)?;
        out.write_all(b"\n").with_context(err)?;
    }
    out.flush().with_context(err)
}

fn goal_frame(a: GoalFrameArgs) -> Result<()> {
    if let Some(out) = &a.out {
        check_png(out)?;
    }
    crate::common::check_goal_frame(a.goal_frame)?;
    let vae = a
        .vae
        .clone()
        .unwrap_or_else(genreward_reward::default_vae_dir);
    let (goal, choice) = genreward_reward::goal_frame::pick_goal_frame(
        &a.goal,
        &vae,
        a.clip.as_deref(),
        a.goal_frame,
        a.task,
    )?;
    if let Some(out) = &a.out {
        genreward_reward::goal_frame::strip_picture(&goal, &choice, a.task).save_png(out)?;
    }
    print_json(&choice)
}

fn heatmap(a: HeatmapArgs) -> Result<()> {
    check_png(&a.out)?;
    if a.grid < 2 || a.grid > 256 {
        bail!("--grid must be between 2 and 256 (got {})", a.grid);
    }
    if !(64..=4096).contains(&a.size) {
        bail!("--size must be between 64 and 4096 (got {})", a.size);
    }
    crate::common::check_goal_frame(a.goal_frame)?;
    let reward = genreward_reward::RewardSettings {
        vae: a.vae,
        fb: match a.fb {
            Some(p) => genreward_reward::FbChoice::Path(p),
            None => genreward_reward::FbChoice::Default,
        },
        goal_frame: a.goal_frame,
        clip: a.clip,
        dino: a.dino,
        device: a.device,
        ..Default::default()
    };
    let cfg = FieldMapConfig {
        task: a.task,
        seed: a.seed,
        at_step: a.at_step,
        subject: a.subject,
        grid: a.grid,
        size: a.size,
        goal: a.goal,
        reward,
        camera: a.camera,
    };
    let (picture, report) = field_map(&cfg)?;
    picture.save_png(&a.out)?;
    let mut line = serde_json::to_value(&report)?;
    line["out"] = serde_json::json!(a.out.display().to_string());
    println!("{line}");
    Ok(())
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
