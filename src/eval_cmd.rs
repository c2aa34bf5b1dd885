//! `genreward eval-reward`, `eval-fb` and `eval-agent`: the flags, checked (errors name them),
//! turned into the library's configs; one call to `genreward_eval`; its table on stderr and its
//! report as the last stdout line.

use anyhow::{bail, Result};
use genreward_agent::PolicyChoice;
use genreward_eval::{EvalAgentConfig, EvalFbConfig, EvalRewardConfig, PROBE_MIN_EPISODES};
use genreward_models::DeviceKind;
use genreward_render::CameraName;
use genreward_sim::{TaskKind, TaskList};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct EvalRewardArgs {
    /// VAE checkpoint folder (default: the shipped assets/models/vae).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// Episodes per task and behaviour.
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    episodes: usize,
    /// First agent seed (the dataset uses 1000.. and 1500..; keep clear of them).
    #[arg(long, default_value_t = 9000, allow_negative_numbers = true)]
    seed: u32,
    /// Seed of the expert's goal video (not an agent seed).
    #[arg(long, default_value_t = 8000, allow_negative_numbers = true)]
    goal_seed: u32,
    /// Episode length; r_video is read at its last step.
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    steps: usize,
    /// Comma-separated tasks, or all.
    #[arg(long, default_value = "all")]
    tasks: TaskList,
    /// Frames of each goal video (the expert's final state held until then); 0 = the default
    /// short hold of `genreward goal`. By default as long as the episodes, so the 16 sampled
    /// frames of goal and agent line up in time.
    #[arg(long)]
    goal_length: Option<usize>,
    #[arg(long, default_value = "corner2")]
    camera: CameraName,
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
}

#[derive(clap::Args, Debug)]
pub struct EvalFbArgs {
    /// FB checkpoint folder (default: the shipped assets/models/fb).
    #[arg(long)]
    fb: Option<PathBuf>,
    /// The VAE the FB model's goal features come from (default: the shipped one).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// Episodes per task and behaviour.
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    episodes: usize,
    /// First agent seed (the dataset uses 1000.. and 1500..; keep clear of them).
    #[arg(long, default_value_t = 9000, allow_negative_numbers = true)]
    seed: u32,
    /// One goal video for every episode: the expert's on this seed (default: each episode's
    /// own seed, as the paper's goal videos start from the episode's first frame).
    #[arg(long)]
    goal_seed: Option<u32>,
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    steps: usize,
    /// Comma-separated tasks, or all.
    #[arg(long, default_value = "all")]
    tasks: TaskList,
    /// CLIP weights to pick each goal video's goal frame by the task's sentence.
    #[arg(long)]
    clip: Option<PathBuf>,
    /// DINO weights of an FB checkpoint trained with `train fb --dino` (default: the folder it
    /// was trained with).
    #[arg(long)]
    dino: Option<PathBuf>,
    /// Use this sampled goal frame (0-15) instead of the automatic choice.
    #[arg(long)]
    goal_frame: Option<usize>,
    #[arg(long, default_value = "corner2")]
    camera: CameraName,
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
}

#[derive(clap::Args, Debug)]
pub struct EvalAgentArgs {
    /// expert | random | zero | agent:DIR (a `train dreamer --out` folder).
    #[arg(long)]
    policy: PolicyChoice,
    /// Task (default: the one the agent was trained on; reach for the built-in policies).
    #[arg(long)]
    task: Option<TaskKind>,
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    episodes: usize,
    /// First seed (training uses 0.., its evaluations 1,000,000..: keep clear of both).
    #[arg(long, default_value_t = 2_000_000)]
    seed: u32,
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    max_steps: usize,
    /// Also fit and score the linear read-out of the agent's model state (agents only; use
    /// 100 or more episodes: the goal is one sample per episode).
    #[arg(long)]
    probe: bool,
    /// Also write the report to this JSON file, with every episode (seed, success, steps to
    /// success, return, closest approach, the object's and the goal's first positions).
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct EvalGoalsArgs {
    /// A goal-data folder (genreward goal-data): its train split gives the mean and retrieval
    /// baselines, its camera and length the expert goals'.
    #[arg(long)]
    data: PathBuf,
    /// The seeds scored: eval (30000 and on, never data: the expert runs here) or a split of
    /// --data (val: 20000 and on).
    #[arg(long, default_value = "eval")]
    split: String,
    /// Seeds per task (seeds the expert fails are left out).
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    episodes: usize,
    /// Generator checkpoint folder (default: the shipped assets/models/goalgen).
    #[arg(long)]
    generator: Option<PathBuf>,
    /// The VAE it was trained with (default: the shipped assets/models/vae).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// Euler steps of the second generated row (the first is 1 step, the default of `goal`).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    steps: usize,
    /// Classifier-free guidance weight (default: the generator's own).
    #[arg(long, allow_negative_numbers = true)]
    guidance: Option<f64>,
    #[arg(long, default_value_t = 0)]
    gen_seed: u64,
    /// With more than 1, a third generated row: that many 1-step samples per first frame, the
    /// goal made by --pick (as `goal --samples K --pick P` makes it; by default as `goal` does).
    #[arg(long, default_value_t = genreward_reward::DEFAULT_GEN_SAMPLES)]
    samples: usize,
    /// mean (the mean latent, decoded), medoid or first: the third row's goal.
    #[arg(long, default_value_t = genreward_reward::DEFAULT_GEN_PICK)]
    pick: genreward_reward::SamplePick,
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// FB checkpoint for the r_fb figures (default: the shipped assets/models/fb).
    #[arg(long)]
    fb: Option<PathBuf>,
    /// CLIP weights: pick each goal video's goal frame by the task's sentence.
    #[arg(long)]
    clip: Option<PathBuf>,
    /// Only the latent figures: no episodes, no reward figures.
    #[arg(long)]
    no_rewards: bool,
}

pub fn eval_goals(a: EvalGoalsArgs) -> Result<()> {
    if a.episodes == 0 || a.steps == 0 || a.samples == 0 {
        bail!("--episodes, --steps and --samples must be at least 1");
    }
    let cfg = genreward_eval::EvalGoalsConfig {
        data: a.data,
        split: a.split,
        per_task: a.episodes,
        generator: a
            .generator
            .unwrap_or_else(genreward_reward::default_goalgen_dir),
        vae: a.vae.unwrap_or_else(genreward_reward::default_vae_dir),
        steps: Some(a.steps),
        guidance: a.guidance,
        gen_seed: a.gen_seed,
        samples: a.samples,
        pick: a.pick,
        device: a.device,
        rewards: (!a.no_rewards).then(|| a.fb.unwrap_or_else(genreward_reward::default_fb_dir)),
        clip: a.clip,
    };
    let report = genreward_eval::eval_goals(&cfg, &crate::common::bar(0, "tasks"))?;
    eprintln!("{}", report.table());
    crate::common::print_json(&report)
}

pub fn eval_reward(a: EvalRewardArgs) -> Result<()> {
    if a.episodes == 0 || a.steps == 0 {
        bail!("--episodes and --steps must be at least 1");
    }
    let cfg = EvalRewardConfig {
        vae: a.vae,
        episodes: a.episodes,
        seed: a.seed,
        goal_seed: a.goal_seed,
        steps: a.steps,
        tasks: a.tasks.0,
        goal_length: a.goal_length,
        camera: a.camera,
        device: a.device,
    };
    let report = genreward_eval::eval_reward(&cfg, &crate::common::bar(0, "behaviours"))?;
    eprintln!("{}", report.table());
    crate::common::print_json(&report)
}

pub fn eval_fb(a: EvalFbArgs) -> Result<()> {
    if a.episodes == 0 || a.steps == 0 {
        bail!("--episodes and --steps must be at least 1");
    }
    crate::common::check_goal_frame(a.goal_frame)?;
    let cfg = EvalFbConfig {
        fb: a.fb,
        vae: a.vae,
        episodes: a.episodes,
        seed: a.seed,
        goal_seed: a.goal_seed,
        steps: a.steps,
        tasks: a.tasks.0,
        clip: a.clip,
        dino: a.dino,
        goal_frame: a.goal_frame,
        camera: a.camera,
        device: a.device,
    };
    let report = genreward_eval::eval_fb(&cfg, &crate::common::bar(0, "behaviours"))?;
    eprintln!("{}", report.table());
    crate::common::print_json(&report)
}

pub fn eval_agent(a: EvalAgentArgs) -> Result<()> {
    if a.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    if a.max_steps == 0 {
        bail!("--max-steps must be at least 1");
    }
    if a.probe && matches!(a.policy, PolicyChoice::Builtin(_)) {
        bail!("--probe reads a trained agent's model state: use --policy agent:DIR");
    }
    if a.probe && a.episodes < PROBE_MIN_EPISODES {
        bail!(
            "--probe needs at least {PROBE_MIN_EPISODES} episodes (got {})",
            a.episodes
        );
    }
    let cfg = EvalAgentConfig {
        policy: a.policy,
        task: a.task,
        episodes: a.episodes,
        seed: a.seed,
        max_steps: a.max_steps,
        probe: a.probe,
        json: a.json,
    };
    let stop = crate::common::interrupt_flag();
    let report = genreward_eval::eval_agent(&cfg, &crate::common::bar(0, "steps"), &stop)?;
    crate::common::print_json(&report)
}
