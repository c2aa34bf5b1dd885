//! The video-level reward on the command line: `genreward score` for a recorded run, and the
//! loading shared with `rollout --goal`.

use anyhow::{bail, Context, Result};
use genreward_models::DeviceKind;
use genreward_reward::features::StateKind;
use genreward_reward::mix::{mix, MixWeights};
use genreward_reward::{default_vae_dir, load_genreward, FbChoice, GenRewardSpec, GenRewardTerms};
use genreward_run::{GoalFrameInfo, GoalInfo, RunDir};
use genreward_sim::rollout::StepRecord;
use genreward_sim::TaskKind;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Median of `v` (0 for none).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Parses `--device`.
pub fn parse_device(s: &str) -> Result<DeviceKind> {
    Ok(s.parse::<DeviceKind>()?)
}

/// The VAE folder: `--vae` or the shipped default.
pub fn vae_dir(flag: &Option<PathBuf>) -> PathBuf {
    flag.clone().unwrap_or_else(default_vae_dir)
}

/// Default weight of r_video: one payment (a cosine, every 128 steps) is worth up to 10, as much
/// as one step of Meta-World's dense reward at its maximum.
pub const DEFAULT_ALPHA: f64 = 10.0;
/// Default weight of r_fb: the shipped FB pays experts about 600-1500 per step and random
/// actions 80-450 (README, `eval-fb`), so beta * r_fb lands at 0.5-7.5 per step, the range of
/// Meta-World's dense reward (0-10).
pub const DEFAULT_BETA: f64 = 0.005;

/// GenReward's settings, shared by `rollout --goal` and `score`:
/// reward = r_env + alpha * r_video + beta * r_fb.
#[derive(clap::Args, Debug, Clone)]
pub struct GenRewardArgs {
    /// Video VAE checkpoint folder (default: the shipped assets/models/vae).
    #[arg(long)]
    pub vae: Option<PathBuf>,
    /// Compute r_video every K steps, paid where step + 1 is a multiple of K.
    #[arg(long, default_value_t = genreward_reward::DEFAULT_EVERY, allow_negative_numbers = true)]
    pub every: usize,
    /// Weight of r_video.
    #[arg(long, default_value_t = DEFAULT_ALPHA, allow_negative_numbers = true)]
    pub alpha: f64,
    /// FB checkpoint folder for r_fb (default: the shipped assets/models/fb; left out with a
    /// warning when --vae is not the VAE it was trained with).
    #[arg(long)]
    pub fb: Option<PathBuf>,
    /// Leave r_fb out.
    #[arg(long, conflicts_with = "fb")]
    pub no_fb: bool,
    /// Weight of r_fb.
    #[arg(long, default_value_t = DEFAULT_BETA, allow_negative_numbers = true)]
    pub beta: f64,
    /// The goal frame r_fb aims at: an index 0-15 into the goal video's sampled frames
    /// (default: chosen; see `genreward goal-frame`).
    #[arg(long, allow_negative_numbers = true)]
    pub goal_frame: Option<usize>,
    /// CLIP weights (OpenCLIP layout: *.safetensors, open_clip_config.json, the BPE vocabulary)
    /// to pick the goal frame by the task's sentence (default: the last sampled frame).
    #[arg(long)]
    pub clip: Option<PathBuf>,
    /// DINO weights (transformers layout) of an FB checkpoint trained with `train fb --dino`
    /// (default: the folder it was trained with, checked by fingerprint).
    #[arg(long)]
    pub dino: Option<PathBuf>,
    /// Backend of the models: cpu (burn-flex) or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Whether a DreamerV3 agent acts live in this run (`rollout --policy agent:DIR`), so an FB
    /// reading its model state (`train dreamer --fb-state dreamer`'s `DIR/fb`) can be scored.
    #[arg(skip)]
    pub live_agent: bool,
}

/// GenReward's terms toward one goal, ready to score, and what the manifest says about them.
pub struct Loaded {
    pub terms: GenRewardTerms,
    pub info: GoalInfo,
}

/// Loads the models a run was scored with, from its manifest's goal (the same goal video, VAE,
/// FB checkpoint, interval, weights and goal frame, with the recorded goal-frame scores), so a
/// replay can re-aim r_fb; DINO goal features come from the folder the checkpoint names. The
/// models run on `device` (the viewer's choice, not necessarily the run's).
pub fn load_recorded(info: &GoalInfo, task: TaskKind, device: DeviceKind) -> Result<Loaded> {
    let dino = info
        .goal_features
        .as_ref()
        .and_then(|g| g.get("dino"))
        .and_then(|d| d.as_str())
        .map(PathBuf::from);
    let args = GenRewardArgs {
        vae: Some(PathBuf::from(&info.vae)),
        every: info.every,
        alpha: info.alpha,
        fb: info.fb.as_ref().map(PathBuf::from),
        no_fb: info.fb.is_none(),
        beta: info.beta,
        goal_frame: info.goal_frame.as_ref().map(|g| g.frame),
        clip: None,
        dino,
        device: device.to_string(),
        live_agent: false,
    };
    let mut loaded = load_terms(Path::new(&info.path), &args, task)?;
    if let Some(g) = &info.goal_frame {
        loaded.terms.goal_frame.scores = g.scores.clone();
        loaded.terms.goal_frame.method = g.method.clone();
        loaded.info.goal_frame = Some(g.clone());
    }
    Ok(loaded)
}

/// Loads r_video and r_fb toward `goal` with the settings in `a` (prints a warning line when the
/// default r_fb does not fit the given VAE).
pub fn load_terms(goal: &Path, a: &GenRewardArgs, task: TaskKind) -> Result<Loaded> {
    terms_from(a, task, goal.display().to_string(), |spec| {
        load_genreward(goal, spec)
    })
}

/// [`load_terms`] toward a goal video made on the spot (`label` names it in the manifest).
pub fn load_terms_video(
    goal: genreward_reward::GoalVideo,
    label: &str,
    a: &GenRewardArgs,
    task: TaskKind,
) -> Result<Loaded> {
    terms_from(a, task, label.to_string(), |spec| {
        genreward_reward::load_genreward_video(goal, spec)
    })
}

fn terms_from(
    a: &GenRewardArgs,
    task: TaskKind,
    path: String,
    load: impl FnOnce(&GenRewardSpec) -> Result<GenRewardTerms, genreward_reward::RewardError>,
) -> Result<Loaded> {
    for (name, v) in [("--alpha", a.alpha), ("--beta", a.beta)] {
        if !v.is_finite() {
            bail!("{name} must be a finite number (got {v})");
        }
    }
    let device = parse_device(&a.device)?;
    let spec = GenRewardSpec {
        vae: vae_dir(&a.vae),
        vae_is_default: a.vae.is_none(),
        fb: match (&a.fb, a.no_fb) {
            (_, true) => FbChoice::Off,
            (Some(p), false) => FbChoice::Path(p.clone()),
            (None, false) => FbChoice::Default,
        },
        every: a.every,
        goal_frame: a.goal_frame,
        clip: a.clip.clone().map(|d| (d, task.goal_text().to_string())),
        dino: a.dino.clone(),
        device,
    };
    let terms = load(&spec)?;
    if let (Some(fb), false) = (&terms.fb, a.live_agent) {
        if fb.state_kind() == StateKind::Model {
            bail!(
                "the FB in {} reads a DreamerV3 agent's model state: only a live run of that agent scores it (rollout --policy agent:DIR --goal FILE --fb DIR/fb)",
                terms.fb_dir.as_ref().map_or("?".into(), |p| p.display().to_string())
            );
        }
    }
    if let Some(note) = &terms.fb_note {
        eprintln!("warning: {note}");
    }
    let info = GoalInfo {
        path,
        frames: terms.goal.video.len(),
        sampled: terms.goal.indices.clone(),
        vae: spec.vae.display().to_string(),
        every: a.every,
        alpha: a.alpha,
        device: device.to_string(),
        beta: if terms.fb.is_some() { a.beta } else { 0.0 },
        fb: terms.fb_dir.as_ref().map(|p| p.display().to_string()),
        goal_frame: Some(GoalFrameInfo {
            frame: terms.goal_frame.frame,
            scores: terms.goal_frame.scores.clone(),
            method: terms.goal_frame.method.clone(),
        }),
        goal_features: terms.fb.as_ref().map(|f| f.goal_features()),
    };
    Ok(Loaded { terms, info })
}

/// One step's state and action as the FB model reads them.
pub fn fb_inputs(rec: &StepRecord) -> (Vec<f32>, [f32; 4]) {
    (
        rec.obs.iter().map(|&v| v as f32).collect(),
        rec.action.map(|v| v as f32),
    )
}

#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// A run folder recorded with camera observations (rollout --camera).
    #[arg(long)]
    run: PathBuf,
    /// The goal video (.mp4, .gif, .npy, a folder of .png).
    #[arg(long)]
    goal: PathBuf,
    /// Where to write one JSON line per step: episode, step, r_env (as paid), r_video, r_fb,
    /// reward.
    #[arg(long)]
    out: PathBuf,
    /// Pay r_env (the recorded dense reward) only every K steps (the paper uses 64); 0 = every
    /// step. Default: as the run was recorded.
    #[arg(long, allow_negative_numbers = true)]
    sparse_every: Option<usize>,
    #[command(flatten)]
    reward: GenRewardArgs,
}

#[derive(serde::Serialize)]
struct ScoreLine {
    episode: usize,
    step: usize,
    r_env: f64,
    r_video: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    r_fb: Option<f64>,
    reward: f64,
}

#[derive(serde::Serialize)]
struct EpisodeScore {
    episode: usize,
    seed: u32,
    steps: usize,
    success: bool,
    /// r_video at each step where it was paid, in order.
    r_video: Vec<f64>,
    /// The last one paid (null when the episode is shorter than --every).
    final_r_video: Option<f64>,
    /// Mean r_fb over the episode's steps (null without r_fb).
    mean_r_fb: Option<f64>,
    /// Sum of each term over the episode, as weighted in the reward.
    return_env: f64,
    return_video: f64,
    return_fb: f64,
    episode_return: f64,
}

#[derive(serde::Serialize)]
struct ScoreSummary {
    run: String,
    goal: GoalInfo,
    weights: MixWeights,
    episodes: Vec<EpisodeScore>,
    /// Median time to encode one 16-frame window and take the cosine (no file I/O).
    ms_per_window: f64,
    windows: usize,
    /// Median time per step of r_fb, scoring each episode in one batch (null without r_fb).
    ms_per_step_fb: Option<f64>,
}

pub fn score(a: ScoreArgs) -> Result<()> {
    let run = RunDir::open(&a.run)?;
    if run.manifest.observations.is_none() {
        bail!(
            "run '{}' has no camera observations: record it with rollout --camera",
            a.run.display()
        );
    }
    let k = a.sparse_every.unwrap_or(run.manifest.config.sparse_every);
    let steps = run.steps()?;
    let task: TaskKind = run.manifest.task.parse()?;
    let Loaded { mut terms, info } = load_terms(&a.goal, &a.reward, task)?;
    let weights = MixWeights {
        alpha: info.alpha,
        beta: info.beta,
        sparse_every: (k > 1).then_some(k),
    };
    // Everything is computed before the output file is opened: a failure leaves nothing half
    // written.
    let mut lines = Vec::with_capacity(steps.len());
    let mut summaries = Vec::new();
    let mut ms = Vec::new();
    let mut fb_ms = Vec::new();
    for ep in &run.manifest.episodes {
        let recs: Vec<_> = steps.iter().filter(|r| r.episode == ep.episode).collect();
        let frames = run.episode_frames(ep.episode)?;
        if frames.len() < recs.len() {
            bail!(
                "episode {} has {} steps but {} observation frames",
                ep.episode,
                recs.len(),
                frames.len()
            );
        }
        terms.video.reset();
        let mut paid = Vec::new();
        let mut r_video = Vec::with_capacity(recs.len());
        for f in frames.frames.iter().take(recs.len()) {
            let value = terms.video.push(f, frames.width, frames.height);
            if let Some(v) = value {
                paid.push(v);
                ms.push(terms.video.last_ms());
            }
            r_video.push(value.unwrap_or(0.0));
        }
        let r_fb = match &mut terms.fb {
            Some(fb) => {
                let t0 = std::time::Instant::now();
                let mut states = Vec::with_capacity(recs.len() * 39);
                let mut actions = Vec::with_capacity(recs.len() * 4);
                for rec in &recs {
                    let (s, act) = fb_inputs(rec);
                    states.extend(s);
                    actions.extend(act);
                }
                if fb.state_kind() == StateKind::Frame {
                    let refs: Vec<&[u8]> = frames
                        .frames
                        .iter()
                        .take(recs.len())
                        .map(Vec::as_slice)
                        .collect();
                    states = fb.frame_states(&refs, frames.width, frames.height);
                }
                let r = fb
                    .score(&states, &actions)
                    .with_context(|| format!("episode {}", ep.episode))?;
                if !r.is_empty() {
                    // Per step, with the frames' encoding when F reads frames.
                    fb_ms.push(t0.elapsed().as_secs_f64() * 1e3 / r.len() as f64);
                }
                Some(r)
            }
            None => None,
        };
        let dense: Vec<f64> = recs.iter().map(|r| r.dense_reward).collect();
        let zeros = vec![0.0; recs.len()];
        let fb_vals = r_fb.as_deref().unwrap_or(&zeros);
        let total = mix(&dense, &r_video, fb_vals, &weights);
        let env = genreward_reward::paid_env(&dense, weights.sparse_every);
        for (i, rec) in recs.iter().enumerate() {
            lines.push(ScoreLine {
                episode: rec.episode,
                step: rec.step,
                r_env: env[i],
                r_video: r_video[i],
                r_fb: r_fb.as_ref().map(|r| r[i]),
                reward: total[i],
            });
        }
        let n = recs.len().max(1) as f64;
        summaries.push(EpisodeScore {
            episode: ep.episode,
            seed: ep.seed,
            steps: recs.len(),
            success: ep.success,
            final_r_video: paid.last().copied(),
            r_video: paid,
            mean_r_fb: r_fb.as_ref().map(|r| r.iter().sum::<f64>() / n),
            return_env: env.iter().sum(),
            return_video: weights.alpha * r_video.iter().sum::<f64>(),
            return_fb: weights.beta * fb_vals.iter().sum::<f64>(),
            episode_return: total.iter().sum(),
        });
    }
    let file = std::fs::File::create(&a.out)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    let mut out = BufWriter::new(file);
    for line in &lines {
        serde_json::to_writer(&mut out, line)?;
        out.write_all(b"\n")
            .with_context(|| format!("cannot write {}", a.out.display()))?;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    let summary = ScoreSummary {
        run: a.run.display().to_string(),
        goal: info,
        weights,
        episodes: summaries,
        ms_per_window: median(&ms),
        windows: ms.len(),
        ms_per_step_fb: (!fb_ms.is_empty()).then(|| median(&fb_ms)),
    };
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}
