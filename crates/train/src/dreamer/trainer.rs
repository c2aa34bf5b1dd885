//! [`DreamerTrainer`]: one DreamerV3 run, a decision at a time.

use super::config::{Cnn, TrainDreamerConfig};
use super::rewarder::{
    act_all, new_env, obs_vec, write_video, GoalSource, PerEpisode, Slot, Terms,
};
use super::{Setup, EVAL_SEED};
use crate::error::{bail, During};
use crate::online_fb::{FbState, OnlineFb, OnlineFbSummary};
use crate::train_loop::TrainLoop;
use crate::Result;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use genreward_models::dreamer::agent::Acting;
use genreward_models::dreamer::replay::to_batch;
use genreward_models::dreamer::world::open_loop_rows;
use genreward_models::dreamer::{
    Agent, AgentConfig, DreamerEval, DreamerMeta, Learner, Replay, Step, DREAMER_KIND,
};
use genreward_render::{render_envs, Frame, Renderer};
use genreward_reward::features::GoalEncoder;
use genreward_sim::{Env, ACT_DIM, OBS_DIM};
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// The best held-out evaluation of a run, and where its agent is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestEval {
    pub dir: PathBuf,
    pub mean_return_env: f64,
    pub success_rate: f64,
}

/// What a DreamerV3 run did (the last line `train dreamer` prints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DreamerReport {
    pub best_eval: Option<BestEval>,
    pub env_steps: usize,
    /// The online FB representation, when one trained.
    pub fb: Option<OnlineFbSummary>,
    /// The last evaluation (`None` when the run took no step).
    pub last_eval: Option<DreamerEval>,
    pub out: PathBuf,
    /// Training seconds (a resumed run's included).
    pub seconds: f64,
    /// Seconds per update in this process.
    pub seconds_per_update: f64,
    pub updates: usize,
}

/// What a checkpoint says about the run besides the agent (settings resolved from the loaded
/// agent when resuming or starting from one).
struct RunFacts {
    /// Whether the agent reads the state (its replay batches carry it when it also
    /// reconstructs it).
    state: bool,
    state_target: Option<f64>,
    state_dims: Option<Vec<usize>>,
    batch_state: bool,
    action_repeat: usize,
    size: String,
    init: Option<PathBuf>,
}

/// Counters of the run.
#[derive(Clone, Copy, Default)]
struct Counts {
    env_steps: usize,
    agent_steps: usize,
    episodes: u32,
}

/// One episode's end, as the metrics file logs it.
#[derive(Serialize)]
struct EpisodeLine {
    kind: &'static str,
    env_steps: usize,
    #[serde(rename = "return")]
    ret: f64,
    r_env: f64,
    r_video: f64,
    r_fb: f64,
    dense_return: f64,
    success: bool,
    seconds: f64,
}

/// A training line every 10 updates (the agent's, or the online FB's).
#[derive(Serialize)]
struct UpdateLine<T: Serialize> {
    #[serde(flatten)]
    metrics: T,
    kind: &'static str,
    env_steps: usize,
    updates: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    seconds_per_update: Option<f64>,
}

/// The online FB froze.
#[derive(Serialize)]
struct FrozenLine {
    kind: &'static str,
    env_steps: usize,
    updates: usize,
}

/// One DreamerV3 run: the agent and its optimiser, the environments, the replay, the online FB,
/// and the bookkeeping. [`DreamerTrainer::step`] makes one decision in every environment (and
/// the updates it makes due); [`DreamerTrainer::train`] steps until the run is done and saves.
pub struct DreamerTrainer<B: AutodiffBackend> {
    cfg: TrainDreamerConfig,
    facts: RunFacts,
    device: B::Device,
    learner: Learner<B>,
    agent: Agent<B::InnerBackend>,
    acting: Acting<B::InnerBackend>,
    renderer: Renderer,
    rng: ChaCha8Rng,
    replay: Replay,
    slots: Vec<Slot>,
    online: Option<OnlineFb<B>>,
    per_episode: Option<PerEpisode>,
    lp: TrainLoop,
    counts: Counts,
    /// Replay steps before training starts (goes on).
    fill: usize,
    /// Agent steps per update.
    per_update: f64,
    /// (updates, agent steps) the train ratio counts from.
    anchor: Option<(usize, usize)>,
    last: Option<DreamerEval>,
    /// The best evaluation so far (success rate, then return).
    best: Option<(f64, f64)>,
    update_seconds: f64,
    updates0: usize,
    next_eval: usize,
    next_ckpt: usize,
    recent_ret: Vec<f64>,
    recent_succ: Vec<bool>,
    started: Instant,
    steps0: usize,
}

/// The learner: resumed, started from a saved agent, or new as the config says.
fn learner<B: AutodiffBackend>(cfg: &TrainDreamerConfig, device: &B::Device) -> Result<Learner<B>> {
    if cfg.resume {
        return Learner::<B>::resume(&cfg.out, device)
            .during(|| format!("cannot resume from {}", cfg.out.display()));
    }
    if let Some(dir) = &cfg.init {
        return Learner::<B>::warm_start(dir, cfg.lr, cfg.warmup, device)
            .during(|| format!("cannot load an agent from {}", dir.display()));
    }
    let with_state = cfg.state || cfg.state_target.is_some();
    let mut a = AgentConfig::preset(cfg.size, ACT_DIM, if with_state { OBS_DIM } else { 0 });
    if let Some(scale) = cfg.state_target {
        a = a.with_state_target(scale);
    }
    if let Some(dims) = &cfg.state_dims {
        a = a.with_vector_dims(dims.0.clone());
    }
    a.world.strided = cfg.cnn == Cnn::Strided;
    a.warmup = cfg.warmup;
    if let Some(lr) = cfg.lr {
        a.lr = lr;
    }
    Ok(Learner::new(a, device))
}

/// What the loaded agent decides, and the counts a resumed run goes on from.
fn facts<B: AutodiffBackend>(
    cfg: &TrainDreamerConfig,
    learner: &Learner<B>,
) -> Result<(RunFacts, Counts)> {
    let world = &learner.cfg.world;
    let meta0 = if cfg.resume {
        DreamerMeta::read(&cfg.out)?
    } else {
        DreamerMeta::default()
    };
    let mut facts = RunFacts {
        state: world.reads_vector(),
        state_target: (!world.reads_vector() && world.vector_dim > 0)
            .then(|| learner.cfg.vector_scale.unwrap_or(1.0)),
        state_dims: world.vector_dims.clone(),
        batch_state: world.vector_dim > 0,
        action_repeat: cfg.action_repeat,
        size: cfg.size.name().to_string(),
        // Where the run's weights first came from, kept by its resumptions.
        init: if cfg.resume {
            meta0.init.clone()
        } else {
            cfg.init.clone()
        },
    };
    if let Some(dir) = &cfg.init {
        let m = DreamerMeta::read(dir)?;
        facts.action_repeat = m.action_repeat();
        if let Some(size) = m.size {
            facts.size = size;
        }
    }
    let mut counts = Counts::default();
    if cfg.resume {
        // ... and acts at the rate it was trained at (runs from before the option: every step).
        facts.action_repeat = meta0.action_repeat();
        counts = Counts {
            env_steps: meta0.env_steps,
            agent_steps: meta0
                .agent_steps
                .unwrap_or(meta0.env_steps / facts.action_repeat),
            episodes: meta0.episodes,
        };
    }
    Ok((facts, counts))
}

impl<B: AutodiffBackend> DreamerTrainer<B> {
    /// A run as `cfg` says, on the backend of `device`: checks the config, loads the rewards,
    /// loads or builds the agent, the environments and the online FB. `bar` shows the
    /// environment steps; `stop`, once set, ends the run after the decision in hand.
    pub fn new(
        cfg: &TrainDreamerConfig,
        device: B::Device,
        bar: &ProgressBar,
        stop: Arc<AtomicBool>,
    ) -> Result<Self> {
        let mut cfg = cfg.clone();
        cfg.validate()?;
        cfg.adopt_init_camera()?;
        let setup = super::setup(&cfg)?;
        std::fs::create_dir_all(&cfg.out)
            .during(|| format!("cannot create {}", cfg.out.display()))?;
        Self::with_setup(&cfg, setup, device, bar, stop)
    }

    /// [`DreamerTrainer::new`] with the rewards loaded.
    fn with_setup(
        cfg: &TrainDreamerConfig,
        setup: Setup,
        device: B::Device,
        bar: &ProgressBar,
        stop: Arc<AtomicBool>,
    ) -> Result<Self> {
        let cfg = cfg.clone();
        B::seed(&device, cfg.seed as u64);
        let learner = learner::<B>(&cfg, &device)?;
        let (facts, mut counts) = facts(&cfg, &learner)?;
        let mut lp = TrainLoop::open(&cfg.out, cfg.steps, cfg.minutes, cfg.resume, bar, stop)?;
        lp.step = counts.env_steps;
        let per_env = (cfg.replay / cfg.envs).max(cfg.length);
        let slots: Vec<Slot> = setup
            .rewarders
            .into_iter()
            .map(|r| {
                let seed = next_seed(cfg.seed, &mut counts.episodes);
                Slot::new(cfg.task, seed, cfg.episode_steps, r)
            })
            .collect();
        let online = match setup.fb {
            Some(f) => Some(online_fb::<B>(&cfg, f, &learner, &device)?),
            None => None,
        };
        let agent = learner.acting_agent();
        let acting = agent.start_acting(cfg.envs, ACT_DIM, &device);
        // Training starts once the replay holds a batch (a resumed run: once it has refilled),
        // and from then on keeps the train ratio counted from `anchor`.
        let loaded = cfg.resume || cfg.init.is_some();
        let fill = if loaded {
            cfg.resume_fill
                .min(cfg.envs * per_env)
                .max(cfg.batch * cfg.length)
        } else {
            cfg.batch * cfg.length
        };
        // The best held-out evaluation so far (of this run, resumed ones included).
        let best = if cfg.resume {
            DreamerMeta::read(&cfg.out.join("best"))?
                .eval
                .map(|e| (e.success_rate, e.mean_return_env))
        } else {
            None
        };
        let every = |n: usize| (counts.env_steps / n.max(1) + 1) * n.max(1);
        let mut trainer = DreamerTrainer {
            facts,
            device,
            updates0: learner.updates,
            next_eval: every(cfg.eval_every),
            next_ckpt: every(cfg.checkpoint_every),
            per_update: (cfg.batch * cfg.length) as f64 / cfg.train_ratio.max(1e-9),
            anchor: (!loaded).then_some((0, 0)),
            learner,
            agent,
            acting,
            renderer: Renderer::new()?,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed as u64 ^ 0x5eed),
            replay: Replay::new(cfg.envs, per_env),
            slots,
            online,
            per_episode: setup.per_episode,
            lp,
            steps0: counts.env_steps,
            counts,
            fill,
            last: None,
            best,
            update_seconds: 0.0,
            recent_ret: Vec::new(),
            recent_succ: Vec::new(),
            started: Instant::now(),
            cfg,
        };
        for i in 0..trainer.slots.len() {
            trainer.aim(i)?;
        }
        Ok(trainer)
    }

    /// Whether the run is done (its steps, its minutes, or stopped).
    pub fn done(&self) -> bool {
        self.lp.done()
    }

    /// Steps until done, then saves the run's checkpoint.
    pub fn train(&mut self) -> Result<()> {
        while !self.done() {
            self.step()?;
        }
        self.lp.finish();
        self.checkpoint()
    }

    /// With each episode's own goal: aims slot `i` at the expert's goal from its scene.
    fn aim(&mut self, i: usize) -> Result<()> {
        let Some(p) = &mut self.per_episode else {
            return Ok(());
        };
        p.aim(
            &mut self.renderer,
            self.cfg.task,
            &mut self.slots[i],
            i,
            self.online.as_mut(),
            self.cfg.episode_steps,
            self.cfg.genreward.goal_frame,
        )
    }

    /// Renders every environment's frame in `view`.
    fn render(&mut self, view: genreward_render::ViewSpec) -> Result<Vec<Frame>> {
        let worlds: Vec<_> = self.slots.iter().map(|s| s.env.world()).collect();
        Ok(render_envs(&mut self.renderer, &worlds, view)?)
    }

    /// Only r_video reads the frames between the agent's decisions.
    fn needs_frames(&self) -> bool {
        self.slots.iter().any(|s| s.rewarder.terms.is_some())
    }

    /// One decision in every environment: act, hold the action for the action repeat, end the
    /// episodes that end, make the updates due, and evaluate and save when due.
    pub fn step(&mut self) -> Result<()> {
        let frames = self.render(self.cfg.view())?;
        let separate = self.needs_frames() && self.cfg.reward_view() != self.cfg.view();
        let scored = if separate {
            self.render(self.cfg.reward_view())?
        } else {
            frames.clone()
        };
        let obs: Vec<[f64; OBS_DIM]> = self.slots.iter().map(|s| *s.env.last_obs()).collect();
        let first: Vec<bool> = self.slots.iter().map(|s| s.first).collect();
        let actions = act_all(
            &self.agent,
            &mut self.acting,
            &frames,
            &obs,
            &first,
            self.facts.state,
            false,
            &self.device,
        );
        let (fb_rewards, goal_feats) = self.online_terms(&obs, &actions, &scored)?;
        for (i, slot) in self.slots.iter().enumerate() {
            self.replay.push(
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
            )?;
        }
        let (summed, ended) = self.hold(&actions, obs, scored, fb_rewards.as_deref())?;
        self.counts.agent_steps += self.slots.len();
        for i in 0..self.slots.len() {
            self.slots[i].last_reward = summed[i] as f32;
            self.slots[i].first = false;
            if ended[i] {
                self.end_episode(i)?;
            }
        }
        if self.update()? {
            self.agent = self.learner.acting_agent();
        }
        self.advance();
        let finishing = self.lp.done();
        if self.counts.env_steps >= self.next_eval || finishing {
            self.next_eval += self.cfg.eval_every.max(1);
            self.evaluate()?;
        }
        // (The end of the run is saved by `train`.)
        if self.counts.env_steps >= self.next_ckpt && !finishing {
            self.next_ckpt += self.cfg.checkpoint_every.max(1);
            self.checkpoint()?;
        }
        Ok(())
    }

    /// The online FB's r_fb of this decision (from the state the agent acted from), paid on
    /// each step the action is held, and the goal features of the scored frames for its replay.
    fn online_terms(
        &self,
        obs: &[[f64; OBS_DIM]],
        actions: &[[f64; ACT_DIM]],
        scored: &[Frame],
    ) -> Result<(Option<Vec<f64>>, Vec<Vec<f32>>)> {
        let n = self.slots.len();
        let Some(fb) = self.online.as_ref() else {
            return Ok((None, vec![Vec::new(); n]));
        };
        let states = match fb.state {
            FbState::Dreamer => self.acting.state.feat(),
            FbState::Obs39 => {
                let v: Vec<f32> = obs.iter().flat_map(obs_vec).collect();
                Tensor::from_data(TensorData::new(v, [n, OBS_DIM]), &self.device)
            }
        };
        let act: Vec<f32> = actions.iter().flatten().map(|&v| v as f32).collect();
        let act = Tensor::from_data(TensorData::new(act, [n, ACT_DIM]), &self.device);
        let refs: Vec<&[u8]> = scored.iter().map(|f| f.rgb.as_slice()).collect();
        Ok((Some(fb.reward(states, act)), fb.features(&refs)?))
    }

    /// Holds each action for the action repeat (fewer steps when the episode ends first);
    /// returns the summed rewards the agent learns from and which episodes ended.
    fn hold(
        &mut self,
        actions: &[[f64; ACT_DIM]],
        obs: Vec<[f64; OBS_DIM]>,
        mut scored: Vec<Frame>,
        fb_rewards: Option<&[f64]>,
    ) -> Result<(Vec<f64>, Vec<bool>)> {
        let n = self.slots.len();
        let (mut summed, mut ended) = (vec![0.0f64; n], vec![false; n]);
        let mut step_obs = obs;
        for j in 0..self.facts.action_repeat {
            if ended.iter().all(|&e| e) {
                break;
            }
            if j > 0 {
                if self.needs_frames() {
                    scored = self.render(self.cfg.reward_view())?;
                }
                step_obs = self.slots.iter().map(|s| *s.env.last_obs()).collect();
            }
            for (i, slot) in self.slots.iter_mut().enumerate() {
                if ended[i] {
                    continue;
                }
                let r = slot.env.step(actions[i])?;
                let terms: Terms = slot.rewarder.reward(
                    slot.t,
                    r.reward,
                    &scored[i],
                    &step_obs[i],
                    &actions[i],
                    fb_rewards.map(|f| f[i]),
                )?;
                let reward = slot.rewarder.total(terms);
                summed[i] += reward;
                slot.ret += reward;
                slot.terms[0] += terms.env;
                slot.terms[1] += terms.video;
                slot.terms[2] += terms.fb;
                slot.terms[3] += r.reward;
                slot.success |= r.info.success > 0.5;
                slot.t += 1;
                self.counts.env_steps += 1;
                ended[i] = r.truncated;
            }
        }
        Ok((summed, ended))
    }

    /// Slot `i`'s episode ended: its last frame (with the reward of reaching it) to the
    /// replay, a metrics line, and the next episode.
    fn end_episode(&mut self, i: usize) -> Result<()> {
        let world = [self.slots[i].env.world()];
        let f = render_envs(&mut self.renderer, &world, self.cfg.view())?;
        let goal = match self.online.as_ref() {
            Some(fb) => {
                let g = render_envs(&mut self.renderer, &world, self.cfg.reward_view())?;
                fb.features(&[g[0].rgb.as_slice()])?.remove(0)
            }
            None => Vec::new(),
        };
        let slot = &self.slots[i];
        self.replay.push(
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
        )?;
        self.lp.log(&EpisodeLine {
            kind: "episode",
            env_steps: self.counts.env_steps,
            ret: slot.ret,
            r_env: slot.terms[0],
            r_video: slot.terms[1],
            r_fb: slot.terms[2],
            dense_return: slot.terms[3],
            success: slot.success,
            seconds: self.lp.elapsed(),
        })?;
        self.recent_ret.push(slot.ret);
        self.recent_succ.push(slot.success);
        let seed = next_seed(self.cfg.seed, &mut self.counts.episodes);
        self.slots[i].restart(self.cfg.task, seed, self.cfg.episode_steps);
        self.aim(i)
    }

    /// The updates the train ratio asks for, once the replay holds enough steps; whether any
    /// was made.
    fn update(&mut self) -> Result<bool> {
        if self.replay.len() < self.fill {
            return Ok(false);
        }
        let (u0, s0) = *self
            .anchor
            .get_or_insert((self.learner.updates, self.counts.agent_steps));
        let due = u0 + ((self.counts.agent_steps - s0) as f64 / self.per_update) as usize;
        let mut trained = false;
        while self.learner.updates < due {
            let Some(seqs) = self
                .replay
                .sample(&mut self.rng, self.cfg.batch, self.cfg.length)
            else {
                break;
            };
            let dims = self.facts.state_dims.as_deref();
            let batch = to_batch::<B>(&seqs, self.facts.batch_state, dims, &self.device);
            let t0 = Instant::now();
            let (m, states) = self.learner.train_with_states(&batch);
            self.update_seconds += t0.elapsed().as_secs_f64();
            let env_steps = self.counts.env_steps;
            if let Some(fb) = self.online.as_mut() {
                let was = fb.frozen;
                if let Some(st) = fb.train(&seqs, &states, env_steps) {
                    if fb.updates % 10 == 0 {
                        self.lp.log(&UpdateLine {
                            metrics: st,
                            kind: "fb",
                            env_steps,
                            updates: fb.updates,
                            seconds_per_update: None,
                        })?;
                    }
                }
                if fb.frozen && !was {
                    self.lp.log(&FrozenLine {
                        kind: "fb_frozen",
                        env_steps,
                        updates: fb.updates,
                    })?;
                }
            }
            if !m.loss.is_finite() {
                bail!(
                    "the loss is not finite at update {}: {m:?}",
                    self.learner.updates
                );
            }
            trained = true;
            if self.learner.updates.is_multiple_of(10) {
                let per = self.update_seconds / self.updates_timed();
                self.lp.log(&UpdateLine {
                    metrics: &m,
                    kind: "train",
                    env_steps,
                    updates: self.learner.updates,
                    seconds_per_update: Some(per),
                })?;
            }
        }
        Ok(trained)
    }

    /// Updates timed in this process (at least 1, to divide by).
    fn updates_timed(&self) -> f64 {
        self.learner.updates.saturating_sub(self.updates0).max(1) as f64
    }

    /// Moves the bar to the environment steps taken, with the recent episodes' figures.
    fn advance(&mut self) {
        let keep = self.recent_ret.len().saturating_sub(20);
        self.recent_ret.drain(..keep);
        self.recent_succ.drain(..keep);
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let sps = (self.counts.env_steps - self.steps0) as f64 / secs;
        let n = self.recent_ret.len().max(1) as f64;
        let msg = format!(
            "{sps:.1} steps/s, {} updates, return {:.1}, success {:.0} %",
            self.learner.updates,
            self.recent_ret.iter().sum::<f64>() / n,
            100.0 * self.recent_succ.iter().filter(|s| **s).count() as f64 / n,
        );
        self.lp.step = self.counts.env_steps.saturating_sub(1);
        self.lp.advance(msg);
    }

    /// Greedy episodes on held-out seeds (videos of the first and of the model's open-loop
    /// predictions beside it); the best evaluation so far keeps its agent in `out/best`.
    pub fn evaluate(&mut self) -> Result<DreamerEval> {
        let (rate, ret, shown) = self.greedy_episodes()?;
        let env_steps = self.counts.env_steps;
        let out = self.cfg.out.clone();
        let frames: Vec<Vec<u8>> = shown.into_iter().map(|f| f.rgb).collect();
        let view = self.cfg.view();
        write_video(
            &out.join(format!("eval_{env_steps}.mp4")),
            &frames,
            view.width,
            view.height,
        )?;
        self.open_loop_video(&out.join(format!("openloop_{env_steps}.mp4")))?;
        let eval = DreamerEval {
            kind: "eval".into(),
            env_steps,
            updates: self.learner.updates,
            success_rate: rate,
            mean_return_env: ret,
            episodes: self.cfg.eval_episodes,
            first_seed: EVAL_SEED,
            seconds: self.lp.elapsed(),
        };
        self.lp.log(&eval)?;
        self.last = Some(eval.clone());
        let score = (rate, ret);
        if self.best.is_none_or(|b| score > b) {
            self.best = Some(score);
            self.learner.save(&out.join("best"), &self.meta())?;
        }
        Ok(eval)
    }

    /// Open loop: 16 frames seen, 16 imagined with the replayed actions (half and half of
    /// shorter episodes; the replay holds one frame per decision).
    fn open_loop_video(&mut self, path: &Path) -> Result<()> {
        let len = 32.min(self.cfg.episode_steps.div_ceil(self.facts.action_repeat));
        let Some(seqs) = self.replay.sample(&mut self.rng, 4, len) else {
            return Ok(());
        };
        let dims = self.facts.state_dims.as_deref();
        let batch = to_batch::<B::InnerBackend>(&seqs, self.facts.batch_state, dims, &self.device);
        let model = self.agent.world.open_loop(&batch, len / 2);
        let rows = open_loop_rows(batch.image, model);
        write_video(path, &rows, 4 * 64, 3 * 64)
    }

    /// Greedy episodes on the held-out seeds: success rate, mean dense return, and the first
    /// episode's frames.
    fn greedy_episodes(&mut self) -> Result<(f64, f64, Vec<Frame>)> {
        let (cfg, device) = (&self.cfg, &self.device);
        let episodes = cfg.eval_episodes;
        let mut envs: Vec<Env> = (0..episodes)
            .map(|k| new_env(cfg.task, EVAL_SEED + k as u32, cfg.episode_steps))
            .collect();
        let mut acting = self.agent.start_acting(episodes, ACT_DIM, device);
        let mut success = vec![false; episodes];
        let mut returns = vec![0.0; episodes];
        let mut shown = Vec::new();
        let mut actions = vec![[0.0; ACT_DIM]; episodes];
        for t in 0..cfg.episode_steps {
            let worlds: Vec<_> = envs.iter().map(|e| e.world()).collect();
            let frames = render_envs(&mut self.renderer, &worlds, cfg.view())?;
            if t % self.facts.action_repeat == 0 {
                let obs: Vec<[f64; OBS_DIM]> = envs.iter().map(|e| *e.last_obs()).collect();
                let first = vec![t == 0; episodes];
                let state = self.facts.state;
                actions = act_all(
                    &self.agent,
                    &mut acting,
                    &frames,
                    &obs,
                    &first,
                    state,
                    true,
                    device,
                );
            }
            shown.push(frames[0].clone());
            for (i, e) in envs.iter_mut().enumerate() {
                let r = e.step(actions[i])?;
                // Returns in evaluation are of r_env (dense): comparable across rewards.
                returns[i] += r.reward;
                success[i] |= r.info.success > 0.5;
            }
        }
        let n = episodes.max(1) as f64;
        let rate = success.iter().filter(|s| **s).count() as f64 / n;
        Ok((rate, returns.iter().sum::<f64>() / n, shown))
    }

    /// What the checkpoint's `meta.json` says (the learner adds its statistics).
    fn meta(&self) -> DreamerMeta {
        let c = &self.cfg;
        DreamerMeta {
            eval: self.last.clone(),
            kind: DREAMER_KIND.into(),
            task: Some(c.task.name().into()),
            reward: Some(c.reward.name().into()),
            goal: c.goal.as_ref().map(|g| g.as_path()),
            goal_generated: match self.per_episode.as_ref().map(|p| &p.source) {
                Some(GoalSource::Generated(goals)) => {
                    serde_json::to_value(goals.info(c.episode_steps)).ok()
                }
                _ => None,
            },
            sparse_every: c.sparse_every,
            state: self.facts.state,
            state_target: self.facts.state_target,
            state_dims: self.facts.state_dims.clone(),
            camera: Some(c.camera.name().into()),
            size: Some(self.facts.size.clone()),
            init: self.facts.init.clone(),
            cnn: Some(
                if self.learner.cfg.world.strided {
                    "strided"
                } else {
                    "pool"
                }
                .into(),
            ),
            env_steps: self.counts.env_steps,
            agent_steps: Some(self.counts.agent_steps),
            action_repeat: Some(self.facts.action_repeat),
            episodes: self.counts.episodes,
            step: self.counts.env_steps,
            train_seconds: self.lp.elapsed(),
            moments: None,
            updates: 0,
        }
    }

    /// Saves the run's checkpoint: the agent, and the online FB representation beside it.
    pub fn checkpoint(&self) -> Result<()> {
        self.learner.save(&self.cfg.out, &self.meta())?;
        if let Some(fb) = &self.online {
            fb.save(self.counts.env_steps)?;
        }
        Ok(())
    }

    /// What the run did so far.
    pub fn report(&self) -> DreamerReport {
        DreamerReport {
            best_eval: self.best.map(|(rate, ret)| BestEval {
                dir: self.cfg.out.join("best"),
                mean_return_env: ret,
                success_rate: rate,
            }),
            env_steps: self.counts.env_steps,
            fb: self.online.as_ref().map(OnlineFb::describe),
            last_eval: self.last.clone(),
            out: self.cfg.out.clone(),
            seconds: self.lp.elapsed(),
            seconds_per_update: self.update_seconds / self.updates_timed(),
            updates: self.learner.updates,
        }
    }
}

/// The next training placement seed.
fn next_seed(seed: u32, episodes: &mut u32) -> u32 {
    let s = seed.wrapping_add(*episodes);
    *episodes += 1;
    s
}

/// The online FB representation of a run.
fn online_fb<B: AutodiffBackend>(
    cfg: &TrainDreamerConfig,
    f: super::rewarder::FbSetup,
    learner: &Learner<B>,
    device: &B::Device,
) -> Result<OnlineFb<B>> {
    let encoder = match &f.start {
        Some(dir) => {
            genreward_reward::fb::load_fb::<B::InnerBackend>(
                dir,
                &f.vae,
                cfg.genreward.dino.as_deref(),
                device,
            )?
            .1
        }
        None => GoalEncoder::vae(&f.vae, device.clone())?,
    };
    let dim = match f.state {
        FbState::Dreamer => learner.cfg.world.rssm.feat_dim(),
        FbState::Obs39 => OBS_DIM,
    };
    OnlineFb::<B>::new(
        f.state,
        dim,
        encoder,
        &f.goal_frame,
        cfg.envs,
        f.start.as_deref(),
        &cfg.out.join("fb"),
        cfg.resume,
        cfg.fb_freeze_after,
        device,
    )
}
