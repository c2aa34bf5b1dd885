//! How close generated goal videos come to the expert's, on seeds the generator never saw:
//! [`EvalGoalsConfig`] -> [`eval_goals`] -> [`GoalsReport`].
//!
//! The reference is each seed's own expert goal video as the reward reads it (its 16 sampled
//! frames, as a VAE latent: the evaluation seeds' made here, or a goal-data folder's split). Every
//! method makes a 16-frame latent for the seed and is scored on frames 1-15 (frame 0 is the
//! given first frame): the latent's mean squared error, and the PSNR of its decoding against
//! the decoding of the expert's latent. Methods: the generator (1 Euler step, and its default
//! steps), the expert on the same seed (the oracle: the reference itself, so it has no latent
//! figures), the expert on another seed of the task, the task's mean latent over the training
//! seeds, frame 0 repeated, and the training seed whose first frame is nearest (retrieval).
//!
//! With [`EvalGoalsConfig::rewards`], every method's goals are also used as reward goals on the
//! seeds' expert and random episodes ([`RewardFigures`]: goal specificity, expert vs random,
//! r_fb's rise to success; see `goal_rewards`). A latent method's goal video is its decoding,
//! stretched to the episode length as `goal` writes a generated goal; the oracle's is the
//! expert's own rendered goal video.

use crate::error::bail;
use crate::goal_rewards::{Goal, RewardBench, RewardFigures};
use crate::object::{detect_object, pixel_distance};
use crate::Result;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use genreward_episodes::{GoalDataInfo, GoalSplit, GOAL_EVAL_SEED};
use genreward_models::backend::{run_on, BackendJob};
use genreward_models::DeviceKind;
use genreward_reward::GoalGenerator;
use genreward_sim::TaskKind;
use indicatif::ProgressBar;
use serde::Serialize;
use std::path::PathBuf;

/// What [`eval_goals`] measures.
#[derive(Clone, Debug)]
pub struct EvalGoalsConfig {
    /// A goal-data folder: its `train` split gives the mean and retrieval baselines.
    pub data: PathBuf,
    /// The seeds scored: `eval` (seeds from `GOAL_EVAL_SEED`, never written as data: the expert
    /// runs here) or a split of the data folder (`val`).
    pub split: String,
    /// Seeds per task (at most those the split holds).
    pub per_task: usize,
    pub generator: PathBuf,
    pub vae: PathBuf,
    /// The sampler (`None`: the generator's defaults).
    pub steps: Option<usize>,
    pub guidance: Option<f64>,
    pub gen_seed: u64,
    /// With more than one, a third generated row: that many 1-step samples per first frame,
    /// one goal chosen by `pick` (as `goal --samples K --pick P` makes it).
    pub samples: usize,
    pub pick: genreward_reward::SamplePick,
    pub device: DeviceKind,
    /// Also score every method's goals as reward goals ([`RewardFigures`]) with the FB
    /// checkpoint `fb` (its goal features from `vae`); `None`: the latent figures only.
    pub rewards: Option<PathBuf>,
    /// CLIP weights to pick goal frames by the task's sentence (default: without CLIP).
    pub clip: Option<PathBuf>,
}

/// One method's figures on one task.
#[derive(Clone, Debug, Serialize)]
pub struct MethodScore {
    pub method: String,
    /// Against the same seed's expert latent, frames 1-15 (`None` for that expert itself).
    pub latent_mse: Option<f64>,
    /// Of the decoding against the expert latent's decoding, frames 1-15.
    pub psnr_db: Option<f64>,
    /// Mean distance in pixels between the object's place in the goal's last frame and in the
    /// same seed's expert's (both decoded), over the seeds where both show it (`None` where
    /// none does, and for the expert itself). The detector is exact on rendered frames, but the
    /// shipped VAE's decoding keeps too little of the small object for it (see
    /// `tests/object.rs`), so this is a rough figure.
    pub object_px: Option<f64>,
    /// The share of seeds where both last frames show the object.
    pub object_found: Option<f64>,
    /// Seconds per goal (generation and decoding; 0 for the look-ups).
    pub seconds_per_goal: f64,
    /// The goals as reward goals (`None` when not measured).
    pub rewards: Option<RewardFigures>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TaskGoals {
    pub task: String,
    pub seeds: usize,
    pub methods: Vec<MethodScore>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GoalsReport {
    pub split: String,
    /// Episode length of the reward figures, the goal videos' length (0 without them).
    pub episode_length: usize,
    pub steps: usize,
    pub guidance: f64,
    pub tasks: Vec<TaskGoals>,
    /// Each method's figures averaged over the tasks.
    pub mean: Vec<MethodScore>,
}

impl GoalsReport {
    /// The human table: one block per task, one line per method, then the means.
    pub fn table(&self) -> String {
        let mut out = Vec::new();
        let opt = |v: Option<f64>, width: usize, prec: usize| match v {
            Some(v) => format!("{v:>width$.prec$}"),
            None => format!("{:>width$}", "-"),
        };
        let block = |name: &str, ms: &[MethodScore], out: &mut Vec<String>| {
            out.push(name.to_string());
            for m in ms {
                let mut line = format!(
                    "  {:<28} MSE {}  PSNR {} dB  object {} px ({} found)  {:.3} s/goal",
                    m.method,
                    opt(m.latent_mse, 6, 4),
                    opt(m.psnr_db, 5, 2),
                    opt(m.object_px, 4, 1),
                    opt(m.object_found, 4, 2),
                    m.seconds_per_goal
                );
                if let Some(r) = &m.rewards {
                    line += &format!(
                        "  own>other video {:.3} fb {:.3}  expert>random video {:.3} fb {:.3}  rho {}",
                        r.video_own_vs_other,
                        r.fb_own_vs_other,
                        r.video_expert_vs_random,
                        r.fb_expert_vs_random,
                        opt(r.fb_spearman, 5, 3)
                    );
                }
                out.push(line);
            }
        };
        for t in &self.tasks {
            block(
                &format!("{} ({} seeds)", t.task, t.seeds),
                &t.methods,
                &mut out,
            );
        }
        block("mean over tasks", &self.mean, &mut out);
        out.join("\n")
    }
}

/// Runs the evaluation; `bar` counts tasks.
pub fn eval_goals(cfg: &EvalGoalsConfig, bar: &ProgressBar) -> Result<GoalsReport> {
    if cfg.per_task == 0 {
        bail!("at least one seed per task is needed");
    }
    let info = GoalDataInfo::read(&cfg.data)?;
    let train = GoalSplit::read(&cfg.data, "train")?;
    let test = if cfg.split == "eval" {
        None
    } else {
        Some(GoalSplit::read(&cfg.data, &cfg.split)?)
    };
    run_on(
        cfg.device,
        Job {
            cfg,
            info,
            train,
            test,
            bar,
        },
    )
}

struct Job<'a> {
    cfg: &'a EvalGoalsConfig,
    info: GoalDataInfo,
    train: GoalSplit,
    /// `None`: the evaluation seeds, made here.
    test: Option<GoalSplit>,
    bar: &'a ProgressBar,
}

fn rows_of(split: &GoalSplit, task: TaskKind) -> Vec<usize> {
    (0..split.len())
        .filter(|&i| split.tasks[i] == task)
        .collect()
}

/// Mean squared error over frames 1 and after of `[C, T, h, w]` latents.
fn latent_mse(a: &[f32], b: &[f32], shape: [usize; 4]) -> f64 {
    let [c, t, h, w] = shape;
    let mut se = 0.0;
    for ci in 0..c {
        for ti in 1..t {
            let o = (ci * t + ti) * h * w;
            for k in o..o + h * w {
                se += ((a[k] - b[k]) as f64).powi(2);
            }
        }
    }
    se / (c * (t - 1) * h * w) as f64
}

/// PSNR of frames 1 and after.
fn psnr(a: &[Vec<u8>], b: &[Vec<u8>]) -> f64 {
    let (mut se, mut n) = (0.0, 0usize);
    for (x, y) in a.iter().zip(b).skip(1) {
        for (&p, &q) in x.iter().zip(y) {
            let d = (p as f64 - q as f64) / 255.0;
            se += d * d;
        }
        n += x.len();
    }
    10.0 * (1.0 / (se / n.max(1) as f64).max(1e-12)).log10()
}

impl BackendJob for Job<'_> {
    type Output = Result<GoalsReport>;
    fn run<A: AutodiffBackend>(self, device: A::Device) -> Self::Output {
        // Inference only: the inner backend keeps no graph.
        self.eval::<A::InnerBackend>(device)
    }
}

impl Job<'_> {
    fn eval<B: Backend>(self, device: B::Device) -> Result<GoalsReport> {
        let c = self.cfg;
        let gen = GoalGenerator::<B>::load(&c.generator, &c.vae, device.clone())?;
        // The data's tasks (the baselines need their training videos).
        let data_tasks: Vec<TaskKind> = TaskKind::ALL
            .into_iter()
            .filter(|t| self.info.tasks.iter().any(|n| n == t.name()))
            .collect();
        let settings = gen.resolved(&genreward_reward::GenSettings {
            steps: c.steps,
            guidance: c.guidance,
            seed: c.gen_seed,
            ..Default::default()
        });
        let test = match self.test {
            Some(t) => t,
            None => {
                self.bar.set_length((data_tasks.len() * c.per_task) as u64);
                self.bar.set_message("expert goals");
                let t = GoalSplit::from_experts(
                    &data_tasks,
                    GOAL_EVAL_SEED,
                    c.per_task,
                    self.info.camera,
                    self.info.length,
                    gen.encoder(),
                    self.bar,
                )?;
                self.bar.set_position(0);
                self.bar.set_message("");
                t
            }
        };
        let steps = settings.steps.unwrap_or(1);
        let guidance = settings.guidance.unwrap_or(0.0);
        let shape = test.latent_shape;
        let len = test.latent_len();
        let tensor = |rows: &[Vec<f32>]| -> Tensor<B, 5> {
            let v: Vec<f32> = rows.iter().flatten().copied().collect();
            Tensor::from_data(
                TensorData::new(v, [rows.len(), shape[0], shape[1], shape[2], shape[3]]),
                &device,
            )
        };
        let to_vec = |t: Tensor<B, 5>| -> Vec<f32> {
            t.into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .expect("f32 latents")
        };
        let tasks: Vec<TaskKind> = data_tasks
            .into_iter()
            .filter(|&t| !rows_of(&test, t).is_empty())
            .collect();
        // The reward figures' episodes are as long as the goal videos the data was made from.
        let length = self.info.length;
        let mut bench = match &c.rewards {
            Some(fb) => Some(RewardBench::new(
                fb,
                &c.vae,
                c.clip.as_deref(),
                self.info.camera,
                length,
                c.device,
            )?),
            None => None,
        };
        self.bar.set_length(tasks.len() as u64);
        let mut out = Vec::new();
        for task in tasks {
            self.bar.set_message(task.name());
            let rows: Vec<usize> = rows_of(&test, task).into_iter().take(c.per_task).collect();
            let train_rows = rows_of(&self.train, task);
            if train_rows.is_empty() {
                bail!("the training split holds no {} videos", task.name());
            }
            let truth: Vec<Vec<f32>> = rows.iter().map(|&i| test.latent(i).to_vec()).collect();
            let firsts: Vec<&[u8]> = rows.iter().map(|&i| test.first_frame(i)).collect();
            let seeds: Vec<u32> = rows.iter().map(|&i| test.seeds[i]).collect();
            // The generator, 1 step and the default steps, timed with decoding.
            let mut methods: Vec<(String, Vec<Vec<f32>>, f64)> = Vec::new();
            for (name, k) in [
                ("generated, 1 step".to_string(), 1),
                (format!("generated, {steps} steps"), steps),
            ] {
                let t0 = std::time::Instant::now();
                let first = gen.first_latents(&firsts)?;
                let lat =
                    gen.sample_latents(first, &vec![task; rows.len()], c.gen_seed, 1, k, guidance);
                let flat = to_vec(lat.clone());
                let _ = gen.decode(lat);
                let secs = t0.elapsed().as_secs_f64() / rows.len() as f64;
                methods.push((name, flat.chunks(len).map(<[f32]>::to_vec).collect(), secs));
            }
            if c.samples > 1 {
                let t0 = std::time::Instant::now();
                let goals = gen.generate(
                    &firsts,
                    &vec![task; rows.len()],
                    &genreward_reward::GenSettings {
                        steps: Some(1),
                        guidance: Some(guidance),
                        samples: c.samples,
                        pick: c.pick,
                        seed: c.gen_seed,
                    },
                )?;
                let secs = t0.elapsed().as_secs_f64() / rows.len() as f64;
                methods.push((
                    format!("generated, 1 step, {} of {}", c.pick, c.samples),
                    goals.into_iter().map(|g| g.latent).collect(),
                    secs,
                ));
            }
            let n = rows.len();
            methods.push((
                "expert, another seed".into(),
                (0..n).map(|j| truth[(j + 1) % n].clone()).collect(),
                0.0,
            ));
            let mut mean = vec![0.0f32; len];
            for &i in &train_rows {
                for (m, v) in mean.iter_mut().zip(self.train.latent(i)) {
                    *m += v / train_rows.len() as f32;
                }
            }
            methods.push(("task mean latent".into(), vec![mean; n], 0.0));
            let [ch, t, h, w] = shape;
            methods.push((
                "frame 0 repeated".into(),
                truth
                    .iter()
                    .map(|x| {
                        let mut v = x.clone();
                        for ci in 0..ch {
                            for ti in 1..t {
                                let (src, dst) = (ci * t * h * w, (ci * t + ti) * h * w);
                                v.copy_within(src..src + h * w, dst);
                            }
                        }
                        v
                    })
                    .collect(),
                0.0,
            ));
            methods.push((
                "nearest first frame".into(),
                rows.iter()
                    .map(|&i| {
                        let f = test.first_frame(i);
                        let best = train_rows
                            .iter()
                            .copied()
                            .min_by_key(|&j| {
                                self.train
                                    .first_frame(j)
                                    .iter()
                                    .zip(f)
                                    .map(|(&a, &b)| (a as i64 - b as i64).pow(2))
                                    .sum::<i64>()
                            })
                            .expect("training rows");
                        self.train.latent(best).to_vec()
                    })
                    .collect(),
                0.0,
            ));
            // The episodes every method's goals are scored on, and the oracle's goals.
            let mut rewards = match bench.as_mut() {
                Some(b) => {
                    b.set_task(task)?;
                    let eps = b.episodes(task, &seeds, gen.encoder())?;
                    let oracle: Vec<Goal> = seeds
                        .iter()
                        .map(|&s| b.expert_goal(task, s, gen.encoder()))
                        .collect::<Result<_>>()?;
                    let figs = b.figures(&eps, &oracle)?;
                    Some((b, eps, figs))
                }
                None => None,
            };
            let truth_frames = gen.decode(tensor(&truth));
            let mut scores = Vec::new();
            let generated_rows = if c.samples > 1 { 3 } else { 2 };
            for (k, (method, lats, secs)) in methods.into_iter().enumerate() {
                let frames = gen.decode(tensor(&lats));
                let latent_mse = lats
                    .iter()
                    .zip(&truth)
                    .map(|(a, b)| latent_mse(a, b, shape))
                    .sum::<f64>()
                    / n as f64;
                let psnr_db = frames
                    .iter()
                    .zip(&truth_frames)
                    .map(|(a, b)| psnr(a, b))
                    .sum::<f64>()
                    / n as f64;
                let side = gen.size();
                let pairs: Vec<f64> = frames
                    .iter()
                    .zip(&truth_frames)
                    .filter_map(|(a, b)| {
                        let at =
                            |v: &Vec<Vec<u8>>| v.last().and_then(|f| detect_object(f, side, side));
                        Some(pixel_distance(at(a)?, at(b)?))
                    })
                    .collect();
                let object_found = pairs.len() as f64 / n as f64;
                let object_px = (!pairs.is_empty()).then(|| crate::mean(&pairs));
                let figs = match rewards.as_mut() {
                    Some((b, eps, _)) => {
                        let goals: Vec<Goal> = frames
                            .iter()
                            .map(|f| b.frames_goal(f, length, gen.encoder()))
                            .collect::<Result<_>>()?;
                        Some(b.figures(eps, &goals)?)
                    }
                    None => None,
                };
                scores.push(MethodScore {
                    method,
                    latent_mse: Some(latent_mse),
                    psnr_db: Some(psnr_db),
                    object_px,
                    object_found: Some(object_found),
                    seconds_per_goal: secs,
                    rewards: figs,
                });
                // The oracle after the generator's rows.
                if k + 1 == generated_rows {
                    scores.push(MethodScore {
                        method: "expert, same seed (oracle)".into(),
                        latent_mse: None,
                        psnr_db: None,
                        object_px: None,
                        object_found: None,
                        seconds_per_goal: 0.0,
                        rewards: rewards.as_ref().map(|(_, _, f)| f.clone()),
                    });
                }
            }
            out.push(TaskGoals {
                task: task.name().into(),
                seeds: n,
                methods: scores,
            });
            self.bar.inc(1);
        }
        self.bar.finish_and_clear();
        let mean = out[0]
            .methods
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let col = |f: fn(&MethodScore) -> Option<f64>| {
                    let v: Vec<f64> = out.iter().filter_map(|t| f(&t.methods[k])).collect();
                    (!v.is_empty()).then(|| crate::mean(&v))
                };
                let figs: Vec<&RewardFigures> = out
                    .iter()
                    .filter_map(|t| t.methods[k].rewards.as_ref())
                    .collect();
                MethodScore {
                    method: m.method.clone(),
                    latent_mse: col(|m| m.latent_mse),
                    psnr_db: col(|m| m.psnr_db),
                    object_px: col(|m| m.object_px),
                    object_found: col(|m| m.object_found),
                    seconds_per_goal: col(|m| Some(m.seconds_per_goal)).unwrap_or(0.0),
                    rewards: RewardFigures::mean_of(&figs),
                }
            })
            .collect();
        Ok(GoalsReport {
            split: c.split.clone(),
            episode_length: if c.rewards.is_some() { length } else { 0 },
            steps,
            guidance,
            tasks: out,
            mean,
        })
    }
}
