//! `genreward train dreamer`: DreamerV3 learning a task from pixels (64x64 agent-camera frames,
//! plus the 39-d state with `--state`), with the environment's reward or the GenReward mix.
//!
//! Each loop renders every environment's frame in one batch, the agent acts on all of them at
//! once, the environments step, and the steps go to the replay. Once the replay holds one batch
//! worth of steps, the agent trains so that `train_ratio` replayed steps are learned from per
//! environment step (the reference's default 32: one update of 16 x 64 steps every 32
//! environment steps). Episodes use fresh placement seeds; evaluation uses seeds from 1,000,000
//! on, which training never sees.

use crate::dreamer_fb::{FbState, OnlineFb};
use crate::score::{parse_device, GenRewardArgs};
use crate::train_loop::TrainLoop;
use anyhow::{bail, Context, Result};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use genreward_models::backend::{run_on, BackendJob};
use genreward_models::dreamer::replay::{frames_to_tensor, to_batch};
use genreward_models::dreamer::world::open_loop_rows;
use genreward_models::dreamer::{Agent, AgentConfig, Learner, Preset, Replay, Step};
use genreward_record::VideoWriter;
use genreward_render::{render_envs, CameraName, Frame, Renderer, ViewSpec};
use genreward_reward::features::GoalEncoder;
use genreward_reward::mix::MixWeights;
use genreward_reward::GenRewardTerms;
use genreward_reward::GoalFramePicker;
use genreward_sim::rollout::sparse_reward;
use genreward_sim::{Env, PhysicsConfig, TaskKind, ACT_DIM, OBS_DIM};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// First placement seed of evaluation episodes (training seeds count up from `--seed`).
pub const EVAL_SEED: u32 = 1_000_000;

#[derive(clap::Args, Debug, Clone)]
pub struct TrainDreamerArgs {
    /// The task (see `genreward tasks`).
    #[arg(long)]
    task: String,
    /// The reward trained on: env (Meta-World's, dense or every --sparse-every steps) or
    /// genreward (r_env + alpha r_video + beta r_fb toward --goal).
    #[arg(long, default_value = "env")]
    reward: String,
    /// The goal video of --reward genreward, or `expert`: each episode's own goal video, the
    /// scripted expert's from the episode's first scene held to the episode's length (the
    /// paper generates the goal video from the episode's first frame).
    #[arg(long)]
    goal: Option<PathBuf>,
    /// Pay r_env only every K steps (the paper's sparse setting: 64).
    #[arg(long)]
    sparse_every: Option<usize>,
    #[command(flatten)]
    models: GenRewardArgs,
    /// Output folder: config.json, model.mpk, optimizer.mpk, meta.json, metrics.jsonl,
    /// eval_<steps>.mp4 and openloop_<steps>.mp4.
    #[arg(long)]
    out: PathBuf,
    /// Model size: size1m, size12m, size25m, size50m, size100m, size200m, size400m.
    #[arg(long, default_value = "size1m")]
    size: String,
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
    state_dims: Option<String>,
    /// The CNNs: strided (stride-2 convolutions down and transposed convolutions up: about
    /// half the update time on the CPU) or pool (the reference's default: stride-1
    /// convolutions with max-pooling, nearest upsampling before each decoder convolution).
    #[arg(long, default_value = "strided")]
    cnn: String,
    /// Spatial soft-argmax points the encoder adds to its embedding (0: none, the reference's
    /// encoder): each a learned map over the first CNN stage's 32x32 pixels whose softmax gives
    /// an expected image position, so small objects such as reach's goal reach the model state
    /// as coordinates. New agents only: with --resume or --init the loaded agent's config decides.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    keypoints: i64,
    /// Weight F on the pixels that differ from the batch's mean frame in the decoder's loss
    /// (0: the reference's plain sum of squared errors): each pixel weighs 1 + F x its largest
    /// channel difference, normalised to average 1 per frame, so small things that change
    /// between episodes, such as reach's goal marker, count. New agents only.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    image_focus: f64,
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
    camera: String,
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
    reward_camera: String,
    /// What F of the FB reward reads: obs39 (the --fb checkpoint, the shipped one by default,
    /// frozen unless --fb-online) or dreamer (the agent's model state: a fresh representation
    /// trained online on the agent's replay, as in the paper).
    #[arg(long, default_value = "obs39")]
    fb_state: String,
    /// Go on training the --fb checkpoint on the agent's replay (implied by --fb-state dreamer).
    #[arg(long)]
    fb_online: bool,
    /// Freeze the online FB representation after this many environment steps (the paper: 100k).
    #[arg(long, default_value_t = 100_000, allow_negative_numbers = true)]
    fb_freeze_after: usize,
}

/// The online FB representation's inputs, known before the backend is.
struct FbSetup {
    state: FbState,
    /// The goal frame (at the VAE's size).
    goal_frame: Vec<u8>,
    vae: PathBuf,
    /// The checkpoint to go on training (obs39), or none (dreamer: fresh).
    start: Option<PathBuf>,
}

/// What the agent is trained on, per environment.
struct Rewarder {
    terms: Option<GenRewardTerms>,
    weights: MixWeights,
}

impl Rewarder {
    /// Steps' reward: r_env as paid plus the GenReward terms of the frame the action was chosen
    /// from and the (state, action) pair.
    /// `online_fb`: r_fb of the step from the online FB representation, in place of the
    /// loaded one.
    fn reward(
        &mut self,
        t: usize,
        dense: f64,
        frame: &Frame,
        obs: &[f64; OBS_DIM],
        action: &[f64; ACT_DIM],
        online_fb: Option<f64>,
    ) -> Result<(f64, f64, f64)> {
        let env = sparse_reward(dense, t, self.weights.sparse_every.unwrap_or(1));
        let Some(terms) = self.terms.as_mut() else {
            return Ok((env, 0.0, 0.0));
        };
        let rv = terms
            .video
            .push(&frame.rgb, frame.width, frame.height)
            .unwrap_or(0.0);
        let rf = match (online_fb, terms.fb.as_mut()) {
            (Some(rf), _) => rf,
            (None, Some(fb)) => {
                let (s, a) = (
                    obs.iter().map(|&v| v as f32).collect::<Vec<_>>(),
                    action.iter().map(|&v| v as f32).collect::<Vec<_>>(),
                );
                fb.score(&s, &a)?[0]
            }
            (None, None) => 0.0,
        };
        Ok((env, rv, rf))
    }

    fn total(&self, (env, rv, rf): (f64, f64, f64)) -> f64 {
        env + self.weights.alpha * rv + self.weights.beta * rf
    }

    fn reset(&mut self) {
        if let Some(t) = self.terms.as_mut() {
            t.video.reset();
        }
    }
}

/// One environment's episode in progress.
struct Slot {
    env: Env,
    /// The episode's placement seed.
    seed: u32,
    rewarder: Rewarder,
    t: usize,
    first: bool,
    last_reward: f32,
    ret: f64,
    /// The episode's r_env (as paid), r_video and r_fb so far (unweighted), and its dense
    /// Meta-World return (what runs with different rewards compare by).
    terms: [f64; 4],
    success: bool,
}

/// `--goal expert`: what re-aims the terms at each episode's own goal video.
struct PerEpisode {
    picker: GoalFramePicker,
    view: ViewSpec,
}

/// Aims slot `i`'s terms (and the online FB's environment `i`) at the expert's goal video from
/// the slot's new episode.
fn aim<B: AutodiffBackend>(
    p: &PerEpisode,
    renderer: &mut Renderer,
    task: TaskKind,
    slot: &mut Slot,
    i: usize,
    online: Option<&mut OnlineFb<B>>,
    a: &TrainDreamerArgs,
) -> Result<()> {
    let Some(terms) = slot.rewarder.terms.as_mut() else {
        return Ok(());
    };
    let goal = crate::goal::expert_goal(task, slot.seed, p.view, a.episode_steps, renderer)?;
    let choice = p.picker.pick(&goal, a.models.goal_frame)?;
    let frame = &goal.window[choice.frame];
    terms.video.set_goal(&goal);
    if let Some(fb) = terms.fb.as_mut() {
        fb.set_goal(frame);
    }
    if let Some(fb) = online {
        fb.set_goal(i, frame);
    }
    Ok(())
}

struct Job {
    a: TrainDreamerArgs,
    task: TaskKind,
    /// What the agent sees, and what GenReward scores.
    view: ViewSpec,
    reward_view: ViewSpec,
    rewarders: Vec<Rewarder>,
    fb: Option<FbSetup>,
    per_episode: Option<PerEpisode>,
}

fn new_env(task: TaskKind, seed: u32, steps: usize) -> Env {
    let mut e = Env::new(task, seed, PhysicsConfig::default());
    e.set_max_path_length(steps);
    e
}

fn obs_vec(o: &[f64; OBS_DIM]) -> Vec<f32> {
    o.iter().map(|&v| v as f32).collect()
}

/// Acts on every slot's current frame at once.
#[allow(clippy::too_many_arguments)]
fn act_all<B: Backend>(
    agent: &Agent<B>,
    acting: &mut genreward_models::dreamer::agent::Acting<B>,
    frames: &[Frame],
    obs: &[[f64; OBS_DIM]],
    first: &[bool],
    state: bool,
    greedy: bool,
    device: &B::Device,
) -> Vec<[f64; ACT_DIM]> {
    let n = frames.len();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.rgb.as_slice()).collect();
    let image = frames_to_tensor::<B>(&refs, device);
    let vector = state.then(|| {
        let v: Vec<f32> = obs.iter().flat_map(obs_vec).collect();
        Tensor::from_data(TensorData::new(v, [n, OBS_DIM]), device)
    });
    let f: Vec<f32> = first.iter().map(|&b| b as u8 as f32).collect();
    let is_first = Tensor::from_data(TensorData::new(f, [n, 1]), device);
    let a = agent
        .act(acting, image, vector, is_first, greedy)
        .into_data()
        .to_vec::<f32>()
        .unwrap_or_default();
    a.chunks(ACT_DIM)
        .map(|c| std::array::from_fn(|i| c[i] as f64))
        .collect()
}

/// Greedy episodes on held-out seeds: success rate, mean return, and the first episode's frames.
fn evaluate<B: Backend>(
    agent: &Agent<B>,
    renderer: &mut Renderer,
    job: &Job,
    episodes: usize,
    device: &B::Device,
) -> Result<(f64, f64, Vec<Frame>)> {
    let a = &job.a;
    let mut envs: Vec<Env> = (0..episodes)
        .map(|k| new_env(job.task, EVAL_SEED + k as u32, a.episode_steps))
        .collect();
    let mut acting = agent.start_acting(episodes, ACT_DIM, device);
    let mut success = vec![false; episodes];
    let mut returns = vec![0.0; episodes];
    let mut shown = Vec::new();
    let mut actions = vec![[0.0; ACT_DIM]; episodes];
    for t in 0..a.episode_steps {
        let worlds: Vec<_> = envs.iter().map(|e| e.world()).collect();
        let frames = render_envs(renderer, &worlds, job.view)?;
        if t % a.action_repeat == 0 {
            let obs: Vec<[f64; OBS_DIM]> = envs.iter().map(|e| *e.last_obs()).collect();
            let first = vec![t == 0; episodes];
            actions = act_all(
                agent,
                &mut acting,
                &frames,
                &obs,
                &first,
                a.state,
                true,
                device,
            );
        }
        shown.push(frames[0].clone());
        for (i, e) in envs.iter_mut().enumerate() {
            let r = e.step(actions[i])?;
            // Returns in evaluation are of r_env (dense): comparable across reward settings.
            returns[i] += r.reward;
            success[i] |= r.info.success > 0.5;
        }
    }
    let rate = success.iter().filter(|s| **s).count() as f64 / episodes.max(1) as f64;
    Ok((
        rate,
        returns.iter().sum::<f64>() / episodes.max(1) as f64,
        shown,
    ))
}

/// Updates timed in this process (at least 1, to divide by).
fn updates_timed(updates: usize, at_start: usize) -> f64 {
    updates.saturating_sub(at_start).max(1) as f64
}

fn write_video(path: &Path, frames: &[Vec<u8>], w: u32, h: u32) -> Result<()> {
    let mut v = VideoWriter::create(path, w, h, 20)?;
    for f in frames {
        v.write_frame(f)?;
    }
    v.finish()?;
    Ok(())
}

impl BackendJob for Job {
    type Output = Result<serde_json::Value>;

    fn run<B: AutodiffBackend>(mut self, device: B::Device) -> Self::Output {
        let mut a = self.a.clone();
        B::seed(&device, a.seed as u64);
        let mut learner = if a.resume {
            Learner::<B>::resume(&a.out, &device)
                .with_context(|| format!("cannot resume from {}", a.out.display()))?
        } else if let Some(dir) = &a.init {
            Learner::<B>::warm_start(dir, a.lr, a.warmup, &device)
                .with_context(|| format!("--init: cannot load an agent from {}", dir.display()))?
        } else {
            let preset: Preset = a.size.parse().map_err(anyhow::Error::msg)?;
            let with_state = a.state || a.state_target.is_some();
            let mut cfg =
                AgentConfig::preset(preset, ACT_DIM, if with_state { OBS_DIM } else { 0 });
            if let Some(scale) = a.state_target {
                if !(scale.is_finite() && scale > 0.0) {
                    bail!("--state-target {scale}: the weight must be a positive number");
                }
                cfg = cfg.with_state_target(scale);
            }
            if let Some(list) = &a.state_dims {
                cfg = cfg.with_vector_dims(parse_state_dims(list)?);
            }
            cfg.world.strided = a.cnn == "strided";
            cfg = cfg.with_keypoints(a.keypoints as usize);
            cfg.world.image_focus = (a.image_focus > 0.0).then_some(a.image_focus);
            cfg.warmup = a.warmup;
            if let Some(lr) = a.lr {
                cfg.lr = lr;
            }
            Learner::new(cfg, &device)
        };
        // A resumed run reads what its model was built for (frames only, or with the state),
        // and its replay batches carry the state when the model reads or reconstructs it.
        a.state = learner.cfg.world.reads_vector();
        self.a.state = a.state;
        a.state_target = match learner.cfg.world.reads_vector() {
            false if learner.cfg.world.vector_dim > 0 => {
                Some(learner.cfg.vector_scale.unwrap_or(1.0))
            }
            _ => None,
        };
        self.a.state_target = a.state_target;
        let batch_state = learner.cfg.world.vector_dim > 0;
        let state_dims = learner.cfg.world.vector_dims.clone();
        let batch_dims = state_dims.as_deref();
        let meta0 = genreward_models::checkpoint::read_meta(&a.out);
        // Where the run's weights first came from (--init), kept by its resumptions.
        let init_from = if a.resume {
            meta0["init"].clone()
        } else {
            serde_json::json!(a.init)
        };
        if let Some(dir) = &a.init {
            let m = genreward_models::checkpoint::read_meta(dir);
            a.action_repeat = m["action_repeat"].as_u64().unwrap_or(1).max(1) as usize;
            self.a.action_repeat = a.action_repeat;
            if let Some(size) = m["size"].as_str() {
                a.size = size.to_string();
            }
        }
        if a.resume {
            // ... and acts at the rate it was trained at (runs from before the flag: every step).
            a.action_repeat = meta0["action_repeat"].as_u64().unwrap_or(1).max(1) as usize;
            self.a.action_repeat = a.action_repeat;
        }
        let mut env_steps = if a.resume {
            meta0["env_steps"].as_u64().unwrap_or(0) as usize
        } else {
            0
        };
        let mut agent_steps = if a.resume {
            meta0["agent_steps"]
                .as_u64()
                .map_or(env_steps / a.action_repeat, |s| s as usize)
        } else {
            0
        };
        let mut episodes = if a.resume {
            meta0["episodes"].as_u64().unwrap_or(0) as u32
        } else {
            0
        };
        let mut lp = TrainLoop::open(&a.out, a.steps, a.minutes, a.resume)?;
        lp.step = env_steps;
        let mut renderer = Renderer::new()?;
        let mut rng = ChaCha8Rng::seed_from_u64(a.seed as u64 ^ 0x5eed);
        let per_env = (a.replay / a.envs).max(a.length);
        let mut replay = Replay::new(a.envs, per_env);
        let rewarders = std::mem::take(&mut self.rewarders);
        let next_seed = |episodes: &mut u32| {
            let s = a.seed.wrapping_add(*episodes);
            *episodes += 1;
            s
        };
        let mut slots: Vec<Slot> = rewarders
            .into_iter()
            .map(|rewarder| {
                let seed = next_seed(&mut episodes);
                (seed, rewarder)
            })
            .map(|(seed, rewarder)| Slot {
                env: new_env(self.task, seed, a.episode_steps),
                seed,
                rewarder,
                t: 0,
                first: true,
                last_reward: 0.0,
                ret: 0.0,
                terms: [0.0; 4],
                success: false,
            })
            .collect();
        let mut online = match self.fb.take() {
            Some(f) => {
                let encoder = match &f.start {
                    Some(dir) => {
                        genreward_reward::fb::load_fb::<B::InnerBackend>(
                            dir,
                            &f.vae,
                            a.models.dino.as_deref(),
                            &device,
                        )?
                        .1
                    }
                    None => GoalEncoder::vae(&f.vae, device.clone())?,
                };
                let dim = match f.state {
                    FbState::Dreamer => learner.cfg.world.rssm.feat_dim(),
                    FbState::Obs39 => OBS_DIM,
                };
                Some(OnlineFb::<B>::new(
                    f.state,
                    dim,
                    encoder,
                    &f.goal_frame,
                    a.envs,
                    f.start.as_deref(),
                    &a.out.join("fb"),
                    a.resume,
                    a.fb_freeze_after,
                    &device,
                )?)
            }
            None => None,
        };
        let mut agent = learner.acting_agent();
        let mut acting = agent.start_acting(a.envs, ACT_DIM, &device);
        let (mut recent_ret, mut recent_succ) = (Vec::<f64>::new(), Vec::<bool>::new());
        let started = std::time::Instant::now();
        let steps0 = env_steps;
        let per_update = (a.batch * a.length) as f64 / a.train_ratio.max(1e-9);
        // Training starts once the replay holds a batch (a resumed run: once it has refilled),
        // and from then on keeps `train_ratio` counted from `anchor` (updates, agent steps): a
        // fresh run counts from its first step; a resumed one from where its refill ended.
        let fill = if a.resume || a.init.is_some() {
            a.resume_fill.min(a.envs * per_env).max(a.batch * a.length)
        } else {
            a.batch * a.length
        };
        let mut anchor: Option<(usize, usize)> = (!a.resume && a.init.is_none()).then_some((0, 0));
        let mut last = serde_json::Value::Null;
        // The best held-out evaluation so far (of this run, resumed ones included).
        let best_meta = genreward_models::checkpoint::read_meta(&a.out.join("best"));
        let mut best = a
            .resume
            .then(|| {
                let e = &best_meta["eval"];
                Some((e["success_rate"].as_f64()?, e["mean_return_env"].as_f64()?))
            })
            .flatten();
        let (mut update_seconds, updates0) = (0.0f64, learner.updates);
        let mut next_eval = (env_steps / a.eval_every.max(1) + 1) * a.eval_every.max(1);
        let mut next_ckpt = (env_steps / a.checkpoint_every.max(1) + 1) * a.checkpoint_every.max(1);
        let save = |learner: &Learner<B>,
                    dir: &Path,
                    (env_steps, agent_steps): (usize, usize),
                    episodes: u32,
                    lp: &TrainLoop,
                    eval: &serde_json::Value| {
            learner.save(
                dir,
                serde_json::json!({
                    "eval": eval,
                    "kind": "dreamer",
                    "task": self.task.name(),
                    "reward": a.reward,
                    "goal": a.goal,
                    "sparse_every": a.sparse_every,
                    "state": a.state,
                    "state_target": a.state_target,
                    "state_dims": state_dims,
                    "camera": a.camera,
                    "size": a.size,
                    "init": init_from,
                    "cnn": if learner.cfg.world.strided { "strided" } else { "pool" },
                    "keypoints": learner.cfg.world.keypoint_count(),
                    "image_focus": learner.cfg.world.image_focus,
                    "env_steps": env_steps,
                    "agent_steps": agent_steps,
                    "action_repeat": a.action_repeat,
                    "episodes": episodes,
                    "step": env_steps,
                    "train_seconds": lp.elapsed(),
                }),
            )
        };
        // The run's checkpoint: the agent, and the online FB representation beside it.
        let save_all = |learner: &Learner<B>,
                        online: Option<&OnlineFb<B>>,
                        steps: (usize, usize),
                        episodes: u32,
                        lp: &TrainLoop,
                        eval: &serde_json::Value|
         -> Result<()> {
            save(learner, &a.out, steps, episodes, lp, eval)?;
            if let Some(fb) = online {
                fb.save(steps.0)?;
            }
            Ok(())
        };
        // With `--goal expert` every episode aims at the expert's goal video from its own scene.
        let picker = self.per_episode.as_ref();
        if let Some(p) = picker {
            for (i, slot) in slots.iter_mut().enumerate() {
                aim(p, &mut renderer, self.task, slot, i, online.as_mut(), &a)?;
            }
        }
        // Only r_video reads the frames between the agent's steps.
        let needs_frames = slots.iter().any(|s| s.rewarder.terms.is_some());
        let separate_reward_view = needs_frames && self.reward_view != self.view;
        let reward_frames = |renderer: &mut Renderer, slots: &[Slot]| -> Result<Vec<Frame>> {
            let worlds: Vec<_> = slots.iter().map(|s| s.env.world()).collect();
            Ok(render_envs(renderer, &worlds, self.reward_view)?)
        };
        while !lp.done() {
            let worlds: Vec<_> = slots.iter().map(|s| s.env.world()).collect();
            let frames = render_envs(&mut renderer, &worlds, self.view)?;
            let mut scored = if separate_reward_view {
                reward_frames(&mut renderer, &slots)?
            } else {
                frames.clone()
            };
            let obs: Vec<[f64; OBS_DIM]> = slots.iter().map(|s| *s.env.last_obs()).collect();
            let first: Vec<bool> = slots.iter().map(|s| s.first).collect();
            let actions = act_all(
                &agent,
                &mut acting,
                &frames,
                &obs,
                &first,
                a.state,
                false,
                &device,
            );
            // The online FB's r_fb of this decision (from the state the agent acted from), paid
            // on each step the action is held; the goal features of the frames for its replay.
            let (fb_rewards, goal_feats) = match online.as_ref() {
                Some(fb) => {
                    let n = slots.len();
                    let states = match fb.state {
                        FbState::Dreamer => acting.state.feat(),
                        FbState::Obs39 => {
                            let v: Vec<f32> = obs.iter().flat_map(obs_vec).collect();
                            Tensor::from_data(TensorData::new(v, [n, OBS_DIM]), &device)
                        }
                    };
                    let act: Vec<f32> = actions.iter().flatten().map(|&v| v as f32).collect();
                    let act = Tensor::from_data(TensorData::new(act, [n, ACT_DIM]), &device);
                    let refs: Vec<&[u8]> = scored.iter().map(|f| f.rgb.as_slice()).collect();
                    (Some(fb.reward(states, act)), fb.features(&refs))
                }
                None => (None, vec![Vec::new(); slots.len()]),
            };
            for (i, slot) in slots.iter().enumerate() {
                replay.push(
                    i,
                    Step {
                        frame: frames[i].rgb.clone(),
                        vector: obs_vec(&obs[i]),
                        action: actions[i].iter().map(|&v| v as f32).collect(),
                        reward: slot.last_reward,
                        is_first: slot.first,
                        is_terminal: false,
                        goal: goal_feats[i].clone(),
                    },
                );
            }
            // The action held for `action_repeat` environment steps (fewer when the episode
            // ends first); the agent learns from the sum of their rewards.
            let n = slots.len();
            let (mut summed, mut ended) = (vec![0.0f64; n], vec![false; n]);
            let mut step_obs = obs;
            for j in 0..a.action_repeat {
                if ended.iter().all(|&e| e) {
                    break;
                }
                if j > 0 {
                    if needs_frames {
                        scored = reward_frames(&mut renderer, &slots)?;
                    }
                    step_obs = slots.iter().map(|s| *s.env.last_obs()).collect();
                }
                for (i, slot) in slots.iter_mut().enumerate() {
                    if ended[i] {
                        continue;
                    }
                    let r = slot.env.step(actions[i])?;
                    let terms = slot.rewarder.reward(
                        slot.t,
                        r.reward,
                        &scored[i],
                        &step_obs[i],
                        &actions[i],
                        fb_rewards.as_ref().map(|f| f[i]),
                    )?;
                    let reward = slot.rewarder.total(terms);
                    summed[i] += reward;
                    slot.ret += reward;
                    slot.terms[0] += terms.0;
                    slot.terms[1] += terms.1;
                    slot.terms[2] += terms.2;
                    slot.terms[3] += r.reward;
                    slot.success |= r.info.success > 0.5;
                    slot.t += 1;
                    env_steps += 1;
                    ended[i] = r.truncated;
                }
            }
            agent_steps += n;
            for (i, slot) in slots.iter_mut().enumerate() {
                slot.last_reward = summed[i] as f32;
                slot.first = false;
                if ended[i] {
                    // The episode's last frame, with the reward of reaching it.
                    let f = render_envs(&mut renderer, &[slot.env.world()], self.view)?;
                    let goal = match online.as_ref() {
                        Some(fb) => {
                            let g =
                                render_envs(&mut renderer, &[slot.env.world()], self.reward_view)?;
                            fb.features(&[g[0].rgb.as_slice()]).remove(0)
                        }
                        None => Vec::new(),
                    };
                    replay.push(
                        i,
                        Step {
                            frame: f[0].rgb.clone(),
                            vector: obs_vec(slot.env.last_obs()),
                            action: vec![0.0; ACT_DIM],
                            reward: slot.last_reward,
                            is_first: false,
                            is_terminal: false,
                            goal,
                        },
                    );
                    lp.log(&serde_json::json!({
                        "kind": "episode",
                        "env_steps": env_steps,
                        "return": slot.ret,
                        "r_env": slot.terms[0],
                        "r_video": slot.terms[1],
                        "r_fb": slot.terms[2],
                        "dense_return": slot.terms[3],
                        "success": slot.success,
                        "seconds": lp.elapsed(),
                    }))?;
                    recent_ret.push(slot.ret);
                    recent_succ.push(slot.success);
                    slot.seed = next_seed(&mut episodes);
                    slot.env = new_env(self.task, slot.seed, a.episode_steps);
                    slot.rewarder.reset();
                    if let Some(p) = picker {
                        aim(p, &mut renderer, self.task, slot, i, online.as_mut(), &a)?;
                    }
                    slot.t = 0;
                    slot.first = true;
                    slot.last_reward = 0.0;
                    slot.ret = 0.0;
                    slot.terms = [0.0; 4];
                    slot.success = false;
                }
            }
            // Train as the ratio asks, once the replay holds a batch worth of steps.
            let mut trained = false;
            if replay.len() >= fill {
                let (u0, s0) = *anchor.get_or_insert((learner.updates, agent_steps));
                let due = u0 + ((agent_steps - s0) as f64 / per_update) as usize;
                while learner.updates < due {
                    let Some(seqs) = replay.sample(&mut rng, a.batch, a.length) else {
                        break;
                    };
                    let batch = to_batch::<B>(&seqs, batch_state, batch_dims, &device);
                    let t0 = std::time::Instant::now();
                    let (m, states) = learner.train_with_states(&batch);
                    update_seconds += t0.elapsed().as_secs_f64();
                    if let Some(fb) = online.as_mut() {
                        let was = fb.frozen;
                        if let Some(st) = fb.train(&seqs, &states, env_steps) {
                            if fb.updates % 10 == 0 {
                                let mut line = serde_json::to_value(st)?;
                                line["kind"] = "fb".into();
                                line["env_steps"] = env_steps.into();
                                line["updates"] = fb.updates.into();
                                lp.log(&line)?;
                            }
                        }
                        if fb.frozen && !was {
                            lp.log(&serde_json::json!({
                                "kind": "fb_frozen",
                                "env_steps": env_steps,
                                "updates": fb.updates,
                            }))?;
                        }
                    }
                    if !m.loss.is_finite() {
                        bail!(
                            "the loss is not finite at update {}: {m:?}",
                            learner.updates
                        );
                    }
                    trained = true;
                    if learner.updates % 10 == 0 {
                        let mut line = serde_json::to_value(&m)?;
                        line["kind"] = "train".into();
                        line["env_steps"] = env_steps.into();
                        line["updates"] = learner.updates.into();
                        line["seconds_per_update"] =
                            (update_seconds / updates_timed(learner.updates, updates0)).into();
                        lp.log(&line)?;
                    }
                }
            }
            if trained {
                agent = learner.acting_agent();
            }
            let keep = recent_ret.len().saturating_sub(20);
            recent_ret.drain(..keep);
            recent_succ.drain(..keep);
            let sps = (env_steps - steps0) as f64 / started.elapsed().as_secs_f64().max(1e-9);
            let msg = format!(
                "{sps:.1} steps/s, {} updates, return {:.1}, success {:.0} %",
                learner.updates,
                recent_ret.iter().sum::<f64>() / recent_ret.len().max(1) as f64,
                100.0 * recent_succ.iter().filter(|s| **s).count() as f64
                    / recent_succ.len().max(1) as f64,
            );
            lp.step = env_steps - 1;
            lp.advance(msg);
            let finishing = lp.done();
            if env_steps >= next_eval || finishing {
                next_eval += a.eval_every.max(1);
                let (rate, ret, shown) =
                    evaluate(&agent, &mut renderer, &self, a.eval_episodes, &device)?;
                let frames: Vec<Vec<u8>> = shown.into_iter().map(|f| f.rgb).collect();
                let (w, h) = (self.view.width, self.view.height);
                write_video(&a.out.join(format!("eval_{env_steps}.mp4")), &frames, w, h)?;
                // Open loop: 16 frames seen, 16 imagined with the replayed actions (half and
                // half of shorter episodes; the replay holds one frame per decision).
                let len = 32.min(a.episode_steps.div_ceil(a.action_repeat));
                if let Some(seqs) = replay.sample(&mut rng, 4, len) {
                    let batch =
                        to_batch::<B::InnerBackend>(&seqs, batch_state, batch_dims, &device);
                    let model = agent.world.open_loop(&batch, len / 2);
                    let rows = open_loop_rows(batch.image, model);
                    write_video(
                        &a.out.join(format!("openloop_{env_steps}.mp4")),
                        &rows,
                        4 * 64,
                        3 * 64,
                    )?;
                }
                last = serde_json::json!({
                    "kind": "eval",
                    "env_steps": env_steps,
                    "updates": learner.updates,
                    "success_rate": rate,
                    "mean_return_env": ret,
                    "episodes": a.eval_episodes,
                    "first_seed": EVAL_SEED,
                    "seconds": lp.elapsed(),
                });
                lp.log(&last)?;
                // The best evaluation so far (success, then return) keeps its agent in `best/`.
                let score = (rate, ret);
                if best.is_none_or(|b: (f64, f64)| score > b) {
                    best = Some(score);
                    let dir = a.out.join("best");
                    save(
                        &learner,
                        &dir,
                        (env_steps, agent_steps),
                        episodes,
                        &lp,
                        &last,
                    )?;
                }
            }
            // (The end of the run is saved after the loop.)
            if env_steps >= next_ckpt && !finishing {
                next_ckpt += a.checkpoint_every.max(1);
                save_all(
                    &learner,
                    online.as_ref(),
                    (env_steps, agent_steps),
                    episodes,
                    &lp,
                    &last,
                )?;
            }
        }
        lp.finish();
        save_all(
            &learner,
            online.as_ref(),
            (env_steps, agent_steps),
            episodes,
            &lp,
            &last,
        )?;
        Ok(serde_json::json!({
            "out": a.out,
            "env_steps": env_steps,
            "updates": learner.updates,
            "seconds": lp.elapsed(),
            "seconds_per_update": update_seconds / updates_timed(learner.updates, updates0),
            "last_eval": last,
            "best_eval": best.map(|(rate, ret)| serde_json::json!({
                "success_rate": rate,
                "mean_return_env": ret,
                "dir": a.out.join("best"),
            })),
            "fb": online.as_ref().map(OnlineFb::describe),
        }))
    }
}

pub fn train_dreamer(mut a: TrainDreamerArgs) -> Result<()> {
    let task: TaskKind = a.task.parse()?;
    let device = parse_device(&a.models.device)?;
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
    if !(a.image_focus >= 0.0 && a.image_focus.is_finite()) {
        bail!("--image-focus {}: must be a number >= 0", a.image_focus);
    }
    if !(0..=64).contains(&a.keypoints) {
        bail!("--keypoints {}: must be between 0 and 64", a.keypoints);
    }
    if !matches!(a.cnn.as_str(), "strided" | "pool") {
        bail!("unknown --cnn '{}' (known: strided, pool)", a.cnn);
    }
    if let Some(dir) = &a.init {
        if !dir.join("config.json").is_file() {
            bail!("--init: no agent in {} (no config.json)", dir.display());
        }
        let m = genreward_models::checkpoint::read_meta(dir);
        if m["kind"].as_str() != Some("dreamer") {
            bail!("--init: {} is not a DreamerV3 agent", dir.display());
        }
        // The loaded agent sees what it was trained on.
        if let Some(camera) = m["camera"].as_str() {
            if camera != a.camera {
                eprintln!(
                    "--init: the agent in {} sees the {camera} camera: using it",
                    dir.display()
                );
                a.camera = camera.to_string();
            }
        }
    } else if !a.resume {
        a.size.parse::<Preset>().map_err(anyhow::Error::msg)?;
    } else if !a.out.join("config.json").is_file() {
        bail!("--resume: no run in {}", a.out.display());
    }
    let camera: CameraName = a.camera.parse()?;
    let view = ViewSpec {
        camera,
        width: 64,
        height: 64,
    };
    let reward_view = ViewSpec {
        camera: a.reward_camera.parse()?,
        width: 64,
        height: 64,
    };
    let fb_state: FbState = a.fb_state.parse()?;
    let online = a.fb_online || fb_state == FbState::Dreamer;
    if online && a.reward != "genreward" {
        bail!("an online FB representation (--fb-online, --fb-state dreamer) needs --reward genreward");
    }
    if online && a.models.no_fb {
        bail!("--no-fb leaves r_fb out: drop it to train the FB representation online");
    }
    let mut weights = MixWeights {
        alpha: 0.0,
        beta: 0.0,
        sparse_every: a.sparse_every,
    };
    // `--goal expert`: the first episode's goal video now (to load the terms with), each
    // episode's own in the run.
    let expert_goals = a.reward == "genreward" && a.goal.as_deref() == Some(Path::new("expert"));
    let first_goal = if expert_goals {
        let mut renderer = Renderer::new()?;
        Some(crate::goal::expert_goal(
            task,
            a.seed,
            reward_view,
            a.episode_steps,
            &mut renderer,
        )?)
    } else {
        None
    };
    let mut fb = None;
    let mut load = |weights: &mut MixWeights| -> Result<Rewarder> {
        let terms = match a.reward.as_str() {
            "env" => None,
            "genreward" => {
                let Some(goal) = &a.goal else {
                    bail!("--reward genreward needs --goal FILE");
                };
                let mut loaded = match &first_goal {
                    Some(g) => crate::score::load_terms_video(
                        g.clone(),
                        "expert (each episode's own)",
                        &a.models,
                        task,
                    )?,
                    None => crate::score::load_terms(goal, &a.models, task)?,
                };
                weights.alpha = loaded.info.alpha;
                weights.beta = loaded.info.beta;
                if online {
                    // r_fb comes from the representation training in the run instead.
                    loaded.terms.fb = None;
                    weights.beta = a.models.beta;
                    let t = &loaded.terms;
                    fb.get_or_insert_with(|| FbSetup {
                        state: fb_state,
                        goal_frame: t.goal.window[t.goal_frame.frame].clone(),
                        vae: crate::score::vae_dir(&a.models.vae),
                        start: match fb_state {
                            FbState::Obs39 => t.fb_dir.clone(),
                            FbState::Dreamer => None,
                        },
                    });
                }
                Some(loaded.terms)
            }
            other => bail!("unknown --reward '{other}' (known: env, genreward)"),
        };
        Ok(Rewarder {
            terms,
            weights: *weights,
        })
    };
    let rewarders = (0..a.envs)
        .map(|_| load(&mut weights))
        .collect::<Result<Vec<_>>>()?;
    let per_episode = if expert_goals {
        let vae = crate::score::vae_dir(&a.models.vae);
        let mut picker = GoalFramePicker::new(&vae)?;
        if let Some(dir) = &a.models.clip {
            picker = picker.with_clip(dir, task.goal_text())?;
        }
        Some(PerEpisode {
            picker,
            view: reward_view,
        })
    } else {
        None
    };
    if a.fb_online && fb_state == FbState::Obs39 && fb.as_ref().is_some_and(|f| f.start.is_none()) {
        bail!("--fb-online: no FB checkpoint to go on training (see --fb)");
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let out = run_on(
        device,
        Job {
            a,
            task,
            view,
            reward_view,
            rewarders,
            fb,
            per_episode,
        },
    )?;
    println!("{out}");
    Ok(())
}

/// `--state-dims`: comma-separated names (`goal`, `hand`, `object`), ranges `A:B` (B not
/// included) and indices into the 39-d state, in the order given, each entry once.
fn parse_state_dims(list: &str) -> Result<Vec<usize>> {
    let mut dims = Vec::new();
    for item in list.split(',').map(str::trim) {
        let range = match item {
            "goal" => 36..39,
            "hand" => 0..3,
            "object" => 4..7,
            _ => {
                let num = |t: &str| {
                    t.trim().parse::<usize>().map_err(|_| {
                        anyhow::anyhow!(
                            "--state-dims {list}: `{item}` is not goal, hand, object, A:B or an index"
                        )
                    })
                };
                match item.split_once(':') {
                    Some((lo, hi)) => num(lo)?..num(hi)?,
                    None => {
                        let i = num(item)?;
                        i..i + 1
                    }
                }
            }
        };
        if range.is_empty() || range.end > OBS_DIM {
            bail!("--state-dims {list}: `{item}` is empty or outside the state's 0..{OBS_DIM}");
        }
        for i in range {
            if dims.contains(&i) {
                bail!("--state-dims {list}: entry {i} is named twice");
            }
            dims.push(i);
        }
    }
    Ok(dims)
}
