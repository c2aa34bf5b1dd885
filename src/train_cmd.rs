//! `genreward train vae|fb|goalgen|dreamer` and `genreward reconstruct`: the flags, checked and turned
//! into the library's configs (`genreward_train`), one call, the report as the last JSON line.

use crate::common::{bar, interrupt_flag, print_json, RewardArgs};
use anyhow::{bail, Result};
use genreward_models::dreamer::Preset;
use genreward_models::DeviceKind;
use genreward_render::CameraName;
use genreward_reward::features::StateKind;
use genreward_sim::TaskKind;
use genreward_train::{
    Cnn, DreamerGoal, DreamerReward, FbState, ReconstructConfig, StateDims, TrainDreamerConfig,
    TrainFbConfig, TrainGoalGenConfig, TrainVaeConfig,
};
use std::path::PathBuf;

/// The command line, recorded in checkpoints' meta.json.
fn command() -> Vec<String> {
    std::env::args().collect()
}

// ---------------------------------------------------------------------------------------------
// train vae

#[derive(clap::Args, Debug, Clone)]
pub struct TrainVaeArgs {
    /// Folders (searched recursively) or files of uint8 [T, H, W, 3] .npy episodes.
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Validation episodes (default: a `val` folder beside the first --data folder, if any).
    #[arg(long, num_args = 1..)]
    val: Vec<PathBuf>,
    /// Output folder: the checkpoint (config.json, model.mpk, optimizer.mpk, meta.json),
    /// metrics.jsonl and recon.mp4.
    #[arg(long)]
    out: PathBuf,
    /// Optimiser steps in all (with --resume: counting the steps already done).
    #[arg(long, default_value_t = 3000, allow_negative_numbers = true)]
    steps: usize,
    /// Stop after this many minutes of training even if --steps is not reached.
    #[arg(long)]
    minutes: Option<f64>,
    /// Clips per batch.
    #[arg(long, default_value_t = 4, allow_negative_numbers = true)]
    batch: usize,
    /// Frames per training clip.
    #[arg(long, default_value_t = 8, allow_negative_numbers = true)]
    clip: usize,
    /// Largest step between a clip's frames (the reward's windows are ~17 steps apart).
    #[arg(long, default_value_t = 17, allow_negative_numbers = true)]
    max_stride: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Save the checkpoint and measure validation PSNR every N steps.
    #[arg(long, default_value_t = 250, allow_negative_numbers = true)]
    checkpoint_every: usize,
    /// Continue the run saved in --out.
    #[arg(long)]
    resume: bool,
    /// cpu (burn-flex) or wgpu.
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// Latent channels per frame and position.
    #[arg(long, default_value_t = 4)]
    latent: usize,
    /// Channels at 1/2, 1/4 and 1/8 resolution, e.g. 16,32,64.
    #[arg(long, default_value = "16,32,64", value_parser = parse_channels)]
    channels: [usize; 3],
    /// Residual causal 3D blocks in encoder and decoder.
    #[arg(long, default_value_t = 2)]
    temporal_blocks: usize,
    /// Model input size (frames are resized to it).
    #[arg(long, default_value_t = 64)]
    frame_size: usize,
    #[arg(long, default_value_t = 1e-4)]
    kl_weight: f64,
}

fn parse_channels(s: &str) -> Result<[usize; 3]> {
    let v: Vec<usize> = s
        .split(',')
        .map(|x| x.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("--channels must be three numbers like 16,32,64"))?;
    match v.as_slice() {
        [a, b, c] if *a > 0 && *b > 0 && *c > 0 => Ok([*a, *b, *c]),
        _ => bail!("--channels must be three positive numbers like 16,32,64"),
    }
}

pub fn train_vae(a: TrainVaeArgs) -> Result<()> {
    if a.steps == 0 || a.batch == 0 || a.clip < 2 || a.checkpoint_every == 0 || a.max_stride == 0 {
        bail!("--steps, --batch, --checkpoint-every and --max-stride must be at least 1 and --clip at least 2");
    }
    if !(a.lr > 0.0 && a.lr.is_finite()) {
        bail!("--lr must be a positive number");
    }
    if a.frame_size == 0 || !a.frame_size.is_multiple_of(8) {
        bail!("--frame-size must be a positive multiple of 8");
    }
    let cfg = TrainVaeConfig {
        data: a.data,
        val: a.val,
        out: a.out,
        steps: a.steps,
        minutes: a.minutes,
        batch: a.batch,
        clip: a.clip,
        max_stride: a.max_stride,
        lr: a.lr,
        seed: a.seed,
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
        device: a.device,
        latent: a.latent,
        channels: a.channels,
        temporal_blocks: a.temporal_blocks,
        frame_size: a.frame_size,
        kl_weight: a.kl_weight,
        command: command(),
    };
    let report =
        genreward_train::train_vae(&cfg, &bar(cfg.steps as u64, "steps"), interrupt_flag())?;
    print_json(&report)
}

// ---------------------------------------------------------------------------------------------
// train goalgen

#[derive(clap::Args, Debug, Clone)]
pub struct TrainGoalGenArgs {
    /// A folder written by `genreward goal-data` (goal_data.json, train/, val/).
    #[arg(long)]
    data: PathBuf,
    /// Output folder: the checkpoint (config.json, model.mpk, optimizer.mpk, meta.json),
    /// metrics.jsonl and samples.mp4 (expert above generated, one validation seed per task).
    #[arg(long)]
    out: PathBuf,
    /// The VAE the data was encoded with (default: the one goal_data.json names, else the
    /// shipped one); its fingerprint must match the data's.
    #[arg(long)]
    vae: Option<PathBuf>,
    /// Optimiser steps in all (with --resume: counting the steps already done).
    #[arg(long, default_value_t = 20000, allow_negative_numbers = true)]
    steps: usize,
    /// Stop after this many minutes of training even if --steps is not reached.
    #[arg(long)]
    minutes: Option<f64>,
    /// Goal videos per batch.
    #[arg(long, default_value_t = 32, allow_negative_numbers = true)]
    batch: usize,
    #[arg(long, default_value_t = 3e-4)]
    lr: f64,
    /// Steps of linear learning-rate warm-up.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// The learning rate falls linearly to 0 over the last N of --steps (0: constant); with
    /// --resume, a cool-down of the run so far.
    #[arg(long, default_value_t = 0)]
    decay: usize,
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Save the checkpoint and validate every N steps.
    #[arg(long, default_value_t = 250, allow_negative_numbers = true)]
    checkpoint_every: usize,
    /// Continue the run saved in --out.
    #[arg(long)]
    resume: bool,
    /// cpu (burn-flex) or wgpu.
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// Width of the transformer.
    #[arg(long, default_value_t = 192)]
    width: usize,
    /// Transformer blocks.
    #[arg(long, default_value_t = 6)]
    depth: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 6)]
    heads: usize,
    /// Leave out the first frame's global paths (the scene MLP and prior; docs/goal-generator.md).
    /// Without this flag, --resume adds them to a checkpoint that lacks them.
    #[arg(long)]
    no_scene: bool,
    /// CLIP weights (OpenCLIP layout) whose text tower reads each task's sentence into the
    /// conditioning, as the paper's video model reads its prompt. The embeddings are stored in
    /// the checkpoint, so sampling needs no CLIP. With --resume: added to a checkpoint without
    /// them; a checkpoint made with other CLIP weights is refused.
    #[arg(long)]
    clip: Option<PathBuf>,
    /// Euler steps of the validation samples beside the 1-step ones, and of samples.mp4.
    #[arg(long, default_value_t = 10)]
    sample_steps: usize,
    /// Classifier-free guidance weight of the validation samples and samples.mp4.
    #[arg(long, default_value_t = genreward_reward::generate::DEFAULT_GUIDANCE)]
    guidance: f64,
    /// Validation videos per task measured at each checkpoint (0: all).
    #[arg(long, default_value_t = 10)]
    val_per_task: usize,
}

pub fn train_goalgen(a: TrainGoalGenArgs) -> Result<()> {
    if a.steps == 0 || a.batch == 0 || a.checkpoint_every == 0 || a.sample_steps == 0 {
        bail!("--steps, --batch, --checkpoint-every and --sample-steps must be at least 1");
    }
    if !(a.lr > 0.0 && a.lr.is_finite()) {
        bail!("--lr must be a positive number");
    }
    let cfg = TrainGoalGenConfig {
        data: a.data,
        out: a.out,
        vae: a.vae,
        steps: a.steps,
        minutes: a.minutes,
        batch: a.batch,
        lr: a.lr,
        warmup: a.warmup,
        decay: a.decay,
        seed: a.seed,
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
        device: a.device,
        width: a.width,
        depth: a.depth,
        heads: a.heads,
        scene: !a.no_scene,
        clip: a.clip,
        sample_steps: a.sample_steps,
        guidance: a.guidance,
        val_per_task: a.val_per_task,
        command: command(),
    };
    let report =
        genreward_train::train_goalgen(&cfg, &bar(cfg.steps as u64, "steps"), interrupt_flag())?;
    print_json(&report)
}

// ---------------------------------------------------------------------------------------------
// reconstruct

#[derive(clap::Args, Debug)]
pub struct ReconstructArgs {
    /// VAE checkpoint folder (default: the shipped assets/models/vae).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// Any readable video (.mp4, .gif, .npy, a folder of .png).
    #[arg(long)]
    video: PathBuf,
    /// The side-by-side video (.mp4 or .gif): input above, reconstruction below.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
}

pub fn reconstruct(a: ReconstructArgs) -> Result<()> {
    let report = genreward_train::reconstruct(&ReconstructConfig {
        vae: a.vae,
        video: a.video,
        out: a.out,
        device: a.device,
    })?;
    print_json(&report)
}

// ---------------------------------------------------------------------------------------------
// train fb

#[derive(clap::Args, Debug, Clone)]
pub struct TrainFbArgs {
    /// Dataset folders (searched recursively for obs_/state_/action_<seed>.npy).
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Validation folders (default: a `val` folder beside the first --data folder, if any).
    #[arg(long, num_args = 1..)]
    val: Vec<PathBuf>,
    /// Output folder: config.json, model.mpk, target.mpk, optimizer.mpk, meta.json,
    /// metrics.jsonl.
    #[arg(long)]
    out: PathBuf,
    /// The video VAE whose per-frame latents are B's goal features (default: the shipped one);
    /// with --dino, only its frame size is used (frames are read at it).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// DINO weights (transformers' Dinov2Model or DINOv3ViTModel layout: model.safetensors +
    /// config.json): B's goal features are the tower's CLS feature, as in the paper.
    #[arg(long)]
    dino: Option<PathBuf>,
    /// The side frames are resized to for DINO (a multiple of its patch size; default: the
    /// tower's image_size, 224 for the released ViTs).
    #[arg(long, requires = "dino")]
    dino_size: Option<usize>,
    /// Optimiser steps in all (with --resume: counting the steps already done).
    #[arg(long, default_value_t = 20000, allow_negative_numbers = true)]
    steps: usize,
    /// Freeze the representation after N optimiser steps, as the paper does (at 100k steps of
    /// its online training): no step past N is taken, now or by a later --resume, and the
    /// checkpoint records it. Offline this caps --steps; it carries over to online training.
    #[arg(long)]
    freeze_after: Option<usize>,
    /// Stop after this many minutes even if --steps is not reached.
    #[arg(long)]
    minutes: Option<f64>,
    /// Transitions per batch.
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    batch: usize,
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Dimension d of the representation.
    #[arg(long, default_value_t = 50)]
    z_dim: usize,
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    #[arg(long, default_value_t = 0.98)]
    gamma: f64,
    #[arg(long, default_value_t = 1.0)]
    ortho_coef: f64,
    #[arg(long, default_value_t = 0.01)]
    tau: f64,
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Save the checkpoint and measure the validation loss every N steps.
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    checkpoint_every: usize,
    /// Continue the run saved in --out.
    #[arg(long)]
    resume: bool,
    /// cpu (burn-flex) or wgpu.
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// What F reads as the state: obs39 (the 39-d observation) or frame (the goal features of
    /// the current camera frame, from the same VAE as B's goals).
    #[arg(long, default_value = "obs39")]
    state: StateKind,
}

pub fn train_fb(a: TrainFbArgs) -> Result<()> {
    if a.state == StateKind::Model {
        bail!("train fb learns from dataset episodes, which hold no agent's model state; an FB on DreamerV3's model state trains in train dreamer --fb-state dreamer");
    }
    for (name, v) in [
        ("--lr", a.lr),
        ("--gamma", a.gamma),
        ("--tau", a.tau),
        ("--ortho-coef", a.ortho_coef),
    ] {
        if !v.is_finite() || v < 0.0 {
            bail!("{name} must be a non-negative number (got {v})");
        }
    }
    if a.gamma >= 1.0 || a.tau > 1.0 {
        bail!("--gamma must be below 1 and --tau at most 1");
    }
    if a.batch < 2 || a.z_dim == 0 || a.hidden == 0 || a.checkpoint_every == 0 {
        bail!("--batch must be at least 2, and --z-dim, --hidden, --checkpoint-every at least 1");
    }
    let cfg = TrainFbConfig {
        data: a.data,
        val: a.val,
        out: a.out,
        vae: a.vae,
        dino: a.dino,
        dino_size: a.dino_size,
        steps: a.steps,
        freeze_after: a.freeze_after,
        minutes: a.minutes,
        batch: a.batch,
        lr: a.lr,
        z_dim: a.z_dim,
        hidden: a.hidden,
        gamma: a.gamma,
        ortho_coef: a.ortho_coef,
        tau: a.tau,
        seed: a.seed,
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
        device: a.device,
        state: a.state,
        command: command(),
    };
    let report =
        genreward_train::train_fb(&cfg, &bar(cfg.steps as u64, "steps"), interrupt_flag())?;
    print_json(&report)
}

// ---------------------------------------------------------------------------------------------
// train dreamer

fn parse_reward(s: &str) -> Result<DreamerReward> {
    s.parse()
        .map_err(|_| anyhow::anyhow!("unknown --reward '{s}' (known: env, genreward)"))
}

fn parse_fb_state(s: &str) -> Result<FbState> {
    s.parse()
        .map_err(|_| anyhow::anyhow!("unknown --fb-state '{s}' (known: obs39, dreamer)"))
}

fn parse_cnn(s: &str) -> Result<Cnn> {
    s.parse()
        .map_err(|_| anyhow::anyhow!("unknown --cnn '{s}' (known: strided, pool)"))
}

#[derive(clap::Args, Debug, Clone)]
pub struct TrainDreamerArgs {
    /// The task (see `genreward tasks`).
    #[arg(long)]
    task: TaskKind,
    /// The reward trained on: env (Meta-World's, dense or every --sparse-every steps) or
    /// genreward (r_env + alpha r_video + beta r_fb toward --goal).
    #[arg(long, default_value = "env", value_parser = parse_reward)]
    reward: DreamerReward,
    /// The goal video of --reward genreward; or `generated`: each episode's own, generated
    /// from its first frame (on --reward-camera) as in the paper, held to the episode's length;
    /// or `expert`: each episode's own, the scripted expert's from its scene (the oracle).
    #[arg(long)]
    goal: Option<PathBuf>,
    /// With --goal generated: how the goals are generated.
    #[command(flatten)]
    gen: crate::common::GenArgs,
    /// With --goal generated: Euler steps of the generator's sampler (default: its own).
    #[arg(long, allow_negative_numbers = true)]
    gen_steps: Option<usize>,
    /// Pay r_env only every K steps (the paper's sparse setting: 64).
    #[arg(long)]
    sparse_every: Option<usize>,
    #[command(flatten)]
    models: RewardArgs,
    /// Output folder: config.json, model.mpk, optimizer.mpk, meta.json, metrics.jsonl,
    /// eval_<steps>.mp4 and openloop_<steps>.mp4.
    #[arg(long)]
    out: PathBuf,
    /// Model size: size1m, size12m, size25m, size50m, size100m, size200m, size400m.
    #[arg(long, default_value = "size1m")]
    size: Preset,
    /// Also read (and reconstruct) the 39-d state besides the frames.
    #[arg(long)]
    state: bool,
    /// The 39-d state as a decoder target only, its squared error weighted SCALE times (10
    /// when the flag has no value): the agent reads and acts from frames alone, but training
    /// makes its model state carry what the state holds, such as reach's goal. Privileged
    /// information at training time (the true state), none when acting. New agents only: with
    /// --resume or --init the loaded agent's config decides.
    #[arg(long, value_name = "SCALE", num_args = 0..=1, default_missing_value = "10",
          conflicts_with = "state")]
    state_target: Option<f64>,
    /// Which entries of the 39-d state --state-target reconstructs (default: all of them):
    /// comma-separated `goal` (36:39), `hand` (0:3), `object` (4:7), ranges `A:B` (B not
    /// included) or single indices, e.g. `goal` or `0:3,36:39`. With the goal alone its error
    /// is not drowned by the entries the frames show plainly.
    #[arg(long, value_name = "LIST", requires = "state_target")]
    state_dims: Option<StateDims>,
    /// The CNNs: strided (stride-2 convolutions down and transposed convolutions up: about
    /// half the update time on the CPU) or pool (the reference's default: stride-1
    /// convolutions with max-pooling, nearest upsampling before each decoder convolution).
    #[arg(long, default_value = "strided", value_parser = parse_cnn)]
    cnn: Cnn,
    /// Environment steps in all (with --resume: counting those already taken).
    #[arg(long, default_value_t = 100_000, allow_negative_numbers = true)]
    steps: usize,
    /// Stop after this many minutes.
    #[arg(long)]
    minutes: Option<f64>,
    /// Environments stepped (and rendered) together.
    #[arg(long, default_value_t = 4, allow_negative_numbers = true)]
    envs: usize,
    /// Replayed steps trained on per environment step.
    #[arg(long, default_value_t = 32.0)]
    train_ratio: f64,
    /// Sequences per update and their length.
    #[arg(long, default_value_t = 16, allow_negative_numbers = true)]
    batch: usize,
    #[arg(long, default_value_t = 64, allow_negative_numbers = true)]
    length: usize,
    /// Environment steps per episode.
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    episode_steps: usize,
    /// The agent acts every K environment steps and repeats its action in between (the
    /// reference's `repeat` of its control suites: 2 for DMC); the rewards of the K steps are
    /// summed into the one it learns from. Episodes, `--steps` and the evaluations count
    /// environment steps; the train ratio counts the agent's steps.
    #[arg(long, default_value_t = 2, allow_negative_numbers = true)]
    action_repeat: usize,
    /// The agent's camera (default front: one frame of it places reach's goal within a few
    /// centimetres; see the README).
    #[arg(long, default_value = "front")]
    camera: CameraName,
    /// Learning rate after warm-up (default: the reference's 4e-5).
    #[arg(long)]
    lr: Option<f64>,
    /// Warm-up updates of the learning rate.
    #[arg(long, default_value_t = 1000)]
    warmup: usize,
    /// Evaluate (greedy, held-out seeds from 1,000,000) every N environment steps, and at the
    /// end; the best evaluation so far (success rate, then return) keeps its agent in DIR/best.
    #[arg(long, default_value_t = 10_000)]
    eval_every: usize,
    #[arg(long, default_value_t = 8)]
    eval_episodes: usize,
    /// Save a checkpoint every N environment steps (and at the end).
    #[arg(long, default_value_t = 10_000)]
    checkpoint_every: usize,
    /// Replay capacity in steps (all environments together).
    #[arg(long, default_value_t = 200_000)]
    replay: usize,
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Continue the run in --out (its replay is not saved: it refills).
    #[arg(long)]
    resume: bool,
    /// Start from the agent saved in DIR (a run's checkpoint, its `best`, or a shipped agent
    /// such as assets/models/dreamer-reach): its weights and return normaliser, with a fresh
    /// optimiser under this run's --lr and --warmup, its camera, state input and action repeat.
    /// Counts start from 0 in --out; the replay fills --resume-fill steps from the loaded
    /// policy before training, as a resumed run's does.
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    init: Option<PathBuf>,
    /// With --resume or --init: the replay steps (all environments together, at most --replay) the
    /// refilled replay holds before training goes on. Updates on a few hundred fresh steps
    /// overfit them and undo what the agent knew; the updates owed while it refills are not
    /// made up afterwards.
    #[arg(long, default_value_t = 5000)]
    resume_fill: usize,
    /// The camera whose frames GenReward scores (r_video, and the goal features of an online
    /// FB): the goal video's and the VAE's. The agent sees --camera.
    #[arg(long, default_value = "corner2")]
    reward_camera: CameraName,
    /// What F of the FB reward reads: obs39 (the --fb checkpoint, the shipped one by default,
    /// frozen unless --fb-online) or dreamer (the agent's model state: a fresh representation
    /// trained online on the agent's replay, as in the paper).
    #[arg(long, default_value = "obs39", value_parser = parse_fb_state)]
    fb_state: FbState,
    /// Go on training the --fb checkpoint on the agent's replay (implied by --fb-state dreamer).
    #[arg(long)]
    fb_online: bool,
    /// Freeze the online FB representation after this many environment steps (the paper: 100k).
    #[arg(long, default_value_t = 100_000, allow_negative_numbers = true)]
    fb_freeze_after: usize,
}

/// The checks `train dreamer` makes of its flags before anything loads.
fn check_dreamer(a: &mut TrainDreamerArgs) -> Result<()> {
    for (name, v) in [
        ("--envs", a.envs),
        ("--batch", a.batch),
        ("--length", a.length),
        ("--episode-steps", a.episode_steps),
        ("--action-repeat", a.action_repeat),
        ("--eval-episodes", a.eval_episodes),
    ] {
        if v == 0 {
            bail!("{name} must be at least 1");
        }
    }
    if !(a.train_ratio > 0.0 && a.train_ratio.is_finite()) {
        bail!("--train-ratio must be a positive number");
    }
    if a.sparse_every == Some(0) {
        bail!("--sparse-every must be at least 1");
    }
    if let Some(scale) = a.state_target {
        if !(scale.is_finite() && scale > 0.0) {
            bail!("--state-target {scale}: the weight must be a positive number");
        }
    }
    if let Some(dir) = &a.init {
        if !dir.join("config.json").is_file() {
            bail!("--init: no agent in {} (no config.json)", dir.display());
        }
        let Ok(m) = genreward_train::dreamer::read_agent_meta(dir) else {
            bail!("--init: {} is not a DreamerV3 agent", dir.display());
        };
        // The loaded agent sees what it was trained on.
        if let Some(camera) = m.camera {
            let camera: CameraName = camera.parse()?;
            if camera != a.camera {
                eprintln!(
                    "--init: the agent in {} sees the {camera} camera: using it",
                    dir.display()
                );
                a.camera = camera;
            }
        }
    } else if a.resume && !a.out.join("config.json").is_file() {
        bail!("--resume: no run in {}", a.out.display());
    }
    let online = a.fb_online || a.fb_state == FbState::Dreamer;
    if online && a.reward != DreamerReward::GenReward {
        bail!("an online FB representation (--fb-online, --fb-state dreamer) needs --reward genreward");
    }
    if online && a.models.no_fb {
        bail!("--no-fb leaves r_fb out: drop it to train the FB representation online");
    }
    if a.reward == DreamerReward::GenReward && a.goal.is_none() {
        bail!("--reward genreward needs --goal (a goal video, generated or expert)");
    }
    Ok(())
}

pub fn train_dreamer(mut a: TrainDreamerArgs) -> Result<()> {
    check_dreamer(&mut a)?;
    let genreward = a.models.settings()?;
    let cfg = TrainDreamerConfig {
        task: a.task,
        reward: a.reward,
        goal: match a.goal {
            Some(g) if g.as_os_str() == "generated" => Some(DreamerGoal::Generated {
                generator: a.gen.dir(),
                settings: a.gen.settings(a.gen_steps, "--gen-steps")?,
            }),
            g => g.map(DreamerGoal::from_path),
        },
        sparse_every: a.sparse_every,
        genreward,
        out: a.out,
        size: a.size,
        state: a.state,
        state_target: a.state_target,
        state_dims: a.state_dims,
        cnn: a.cnn,
        steps: a.steps,
        minutes: a.minutes,
        envs: a.envs,
        train_ratio: a.train_ratio,
        batch: a.batch,
        length: a.length,
        episode_steps: a.episode_steps,
        action_repeat: a.action_repeat,
        camera: a.camera,
        lr: a.lr,
        warmup: a.warmup,
        eval_every: a.eval_every,
        eval_episodes: a.eval_episodes,
        checkpoint_every: a.checkpoint_every,
        replay: a.replay,
        seed: a.seed,
        resume: a.resume,
        init: a.init,
        resume_fill: a.resume_fill,
        reward_camera: a.reward_camera,
        fb_state: a.fb_state,
        fb_online: a.fb_online,
        fb_freeze_after: a.fb_freeze_after,
    };
    let report =
        genreward_train::train_dreamer(&cfg, &bar(cfg.steps as u64, "steps"), interrupt_flag())?;
    print_json(&report)
}
