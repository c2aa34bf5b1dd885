//! Goal videos generated from a first frame and a task: the goal-video generator
//! ([`genreward_models::goalgen`]) samples the 16-frame latent the reward reads, starting from
//! the first frame's latent, and the VAE decodes it into the 16 frames.
//!
//! A generator is only ever used with the VAE it was trained on: its checkpoint records the
//! VAE's weight fingerprint and [`GoalGenerator::load`] refuses any other.

use crate::features::vae_fingerprint;
use crate::goal::GoalVideo;
use crate::load::shipped_dir;
use crate::prep::to_model_input;
use crate::video::VideoEncoder;
use crate::RewardError;
use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use genreward_models::backend::{gpu_device, Cpu, Gpu};
use genreward_models::checkpoint::GoalGenCheckpoint;
use genreward_models::frames::tensor_to_frames;
use genreward_models::goalgen::{seeded_normal, GoalGen, GoalGenConfig};
use genreward_models::DeviceKind;
use genreward_record::Video;
use genreward_sim::TaskKind;
use std::path::{Path, PathBuf};

/// Where the shipped generator lives inside the repository.
pub const SHIPPED_GOALGEN: &str = "assets/models/goalgen";

/// Euler steps of the sampler unless the caller says otherwise: 1, the clean-latent prediction
/// from the first frame. Measured on held-out seeds with the shipped generator, one step is
/// closer to the seed's expert video than ten (latent error 0.140 vs 0.201), a better reward
/// goal on every `eval-goals` figure, and twice as fast (docs/goal-generator.md).
pub const DEFAULT_GEN_STEPS: usize = 1;
/// Classifier-free guidance weight unless the caller says otherwise: 0, the conditional model
/// alone. The scene already tells the task; measured on held-out seeds, guidance 1 raised the
/// latent error (docs/goal-generator.md).
pub const DEFAULT_GUIDANCE: f64 = 0.0;
/// Samples per goal unless the caller says otherwise, reduced to one goal by
/// [`DEFAULT_GEN_PICK`]: the mean latent of 4 one-step samples. Measured on held-out seeds with
/// the shipped generator, it is a better reward goal than one sample on every `eval-goals`
/// figure (own>other 0.715 / 0.637 against 0.680 / 0.598, rho 0.676 against 0.626) at 0.49 s a
/// goal (docs/goal-generator.md).
pub const DEFAULT_GEN_SAMPLES: usize = 4;
pub const DEFAULT_GEN_PICK: SamplePick = SamplePick::Mean;

/// The generator used when none is named: `$GENREWARD_GOALGEN` if set, else the shipped one.
pub fn default_goalgen_dir() -> PathBuf {
    shipped_dir("GENREWARD_GOALGEN", SHIPPED_GOALGEN)
}

/// The generator's index of `task` (its task embedding's row): the order of [`TaskKind::ALL`].
pub fn task_index(task: TaskKind) -> usize {
    TaskKind::ALL
        .iter()
        .position(|&t| t == task)
        .expect("TaskKind::ALL lists every task")
}

/// How one goal is chosen among a first frame's samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SamplePick {
    /// The sample whose latent is closest to the others' mean (a typical sample, not a blur).
    Medoid,
    /// The first sample (the generation seed itself).
    First,
    /// The mean of the samples' latents, decoded.
    Mean,
}

impl std::str::FromStr for SamplePick {
    type Err = RewardError;
    fn from_str(s: &str) -> Result<Self, RewardError> {
        match s {
            "medoid" => Ok(SamplePick::Medoid),
            "first" => Ok(SamplePick::First),
            "mean" => Ok(SamplePick::Mean),
            _ => Err(RewardError::Invalid(format!(
                "unknown sample pick '{s}' (known: medoid, first, mean)"
            ))),
        }
    }
}

impl std::fmt::Display for SamplePick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SamplePick::Medoid => "medoid",
            SamplePick::First => "first",
            SamplePick::Mean => "mean",
        })
    }
}

/// How to sample: Euler steps and guidance weight (`None`: the defaults), samples
/// per first frame and how one is chosen, and the seed that fixes the noise.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GenSettings {
    pub steps: Option<usize>,
    pub guidance: Option<f64>,
    pub samples: usize,
    pub pick: SamplePick,
    pub seed: u64,
}

impl Default for GenSettings {
    fn default() -> Self {
        GenSettings {
            steps: None,
            guidance: None,
            samples: DEFAULT_GEN_SAMPLES,
            pick: DEFAULT_GEN_PICK,
            seed: 0,
        }
    }
}

impl GenSettings {
    /// Why these settings cannot sample, if they cannot.
    pub fn check(&self) -> Result<(), RewardError> {
        if self.samples == 0 {
            return Err(RewardError::Invalid(
                "at least one sample per goal is needed".into(),
            ));
        }
        if let Some(w) = self.guidance.filter(|w| !w.is_finite()) {
            return Err(RewardError::Invalid(format!(
                "the guidance weight must be a number (got {w})"
            )));
        }
        Ok(())
    }
}

/// One first frame's generated goal: every sample's 16 frames, and which one was picked.
#[derive(Clone, Debug)]
pub struct GeneratedGoal {
    /// The picked goal's 16 frames (`size x size` RGB), frame 0 the first frame's decoding.
    pub frames: Vec<Vec<u8>>,
    /// The picked goal's latent, `[C, 16, h, w]` flattened.
    pub latent: Vec<f32>,
    /// Every sample's 16 frames (the picked one among them unless the pick is the mean).
    pub samples: Vec<Vec<Vec<u8>>>,
    /// Index of the picked sample (`None` for the mean).
    pub picked: Option<usize>,
}

/// The generator with the VAE it was trained on.
pub struct GoalGenerator<B: Backend> {
    model: GoalGen<B>,
    config: GoalGenConfig,
    encoder: VideoEncoder<B>,
    /// The sampler's defaults ([`DEFAULT_GEN_STEPS`], [`DEFAULT_GUIDANCE`]).
    pub default_steps: usize,
    pub default_guidance: f64,
    pub meta: serde_json::Value,
}

impl<B: Backend> GoalGenerator<B> {
    /// A generator from a model in memory (training uses this for its sample videos).
    pub fn new(model: GoalGen<B>, config: GoalGenConfig, encoder: VideoEncoder<B>) -> Self {
        GoalGenerator {
            model,
            config,
            encoder,
            default_steps: DEFAULT_GEN_STEPS,
            default_guidance: DEFAULT_GUIDANCE,
            meta: serde_json::Value::Null,
        }
    }

    /// Loads the generator in `dir` and the VAE in `vae`; refused when the generator was
    /// trained on another VAE's latents.
    pub fn load(dir: &Path, vae: &Path, device: B::Device) -> Result<Self, RewardError> {
        let ck = GoalGenCheckpoint::<B>::load(dir, &device)?;
        let want = ck.meta["vae_fingerprint"].as_str().unwrap_or("");
        let have = vae_fingerprint(vae)?;
        if want != have {
            return Err(RewardError::Invalid(format!(
                "goal generator '{}' was trained on the latents of another VAE (fingerprint '{want}'; '{}' is {have})",
                dir.display(),
                vae.display()
            )));
        }
        let encoder = crate::load::load_encoder::<B>(vae, device)?;
        let c = encoder.config();
        let side = c.frame_size / genreward_models::vae::SPATIAL_FACTOR;
        if c.latent_channels != ck.config.channels || side != ck.config.side {
            return Err(RewardError::Invalid(format!(
                "goal generator '{}' reads latents of {}x{s}x{s}, the VAE makes {}x{side}x{side}",
                dir.display(),
                ck.config.channels,
                c.latent_channels,
                s = ck.config.side
            )));
        }
        let mut g = GoalGenerator::new(ck.model, ck.config, encoder);
        g.meta = ck.meta;
        Ok(g)
    }

    /// `settings` with the sampler's defaults filled in.
    pub fn resolved(&self, settings: &GenSettings) -> GenSettings {
        GenSettings {
            steps: Some(settings.steps.unwrap_or(self.default_steps)),
            guidance: Some(settings.guidance.unwrap_or(self.default_guidance)),
            ..*settings
        }
    }

    /// Frames of the goal videos it learnt from (the 16 were sampled from them).
    pub fn trained_length(&self) -> usize {
        self.meta["length"].as_u64().map_or(256, |n| n as usize)
    }

    /// Side of the frames it reads and writes.
    pub fn size(&self) -> u32 {
        self.encoder.size()
    }

    pub fn encoder(&self) -> &VideoEncoder<B> {
        &self.encoder
    }

    pub fn config(&self) -> &GoalGenConfig {
        &self.config
    }

    /// Values of one latent video.
    pub fn latent_len(&self) -> usize {
        let c = &self.config;
        c.channels * c.frames * c.side * c.side
    }

    /// The latents of first frames (each `size x size` RGB): `[N, C, h, w]`.
    pub fn first_latents(&self, firsts: &[&[u8]]) -> Result<Tensor<B, 4>, RewardError> {
        let c = &self.config;
        let feats = self.encoder.frame_features(firsts)?;
        Ok(Tensor::from_data(
            TensorData::new(feats, [firsts.len(), c.channels, c.side, c.side]),
            &self.device(),
        ))
    }

    fn device(&self) -> B::Device {
        self.model.devices()[0].clone()
    }

    /// Samples one latent video per row: first-frame latents `first` (`[N, C, h, w]`), tasks,
    /// and the noise of `seed`. Rows come in groups of `k` samples of one first frame: row
    /// `i * k + j` takes draw `j` of the seed's noise, so a row's video depends on its first
    /// frame, task, seed and sample index only, never on the other rows of the batch (a goal
    /// generated among a run's episodes is the one `goal` makes alone).
    pub fn sample_latents(
        &self,
        first: Tensor<B, 4>,
        tasks: &[TaskKind],
        seed: u64,
        k: usize,
        steps: usize,
        guidance: f64,
    ) -> Tensor<B, 5> {
        let n = tasks.len();
        let k = k.max(1);
        let idx: Vec<i64> = tasks.iter().map(|&t| task_index(t) as i64).collect();
        let task = Tensor::<B, 1, Int>::from_data(TensorData::new(idx, [n]), &self.device());
        let [_, c, h, w] = first.dims();
        let frames = self.config.frames;
        let draws = seeded_normal::<B, 5>([k, c, frames, h, w], seed, &self.device());
        let groups = n.div_ceil(k);
        let noise = draws
            .unsqueeze_dim::<6>(0)
            .repeat_dim(0, groups)
            .reshape([groups * k, c, frames, h, w])
            .narrow(0, 0, n);
        self.model.sample(noise, first, task, steps, guidance)
    }

    /// Decodes latent videos `[N, C, 16, h, w]` into N lists of 16 frames.
    pub fn decode(&self, latents: Tensor<B, 5>) -> Vec<Vec<Vec<u8>>> {
        let n = latents.dims()[0];
        let video = self.encoder.model().decode(latents);
        (0..n)
            .map(|i| tensor_to_frames(video.clone().narrow(0, i, 1)))
            .collect()
    }

    /// Each first frame's goal: `settings.samples` samples per frame (all rows in one batch, the
    /// noise fixed by `settings.seed`), one picked by `settings.pick`, decoded.
    pub fn generate(
        &self,
        firsts: &[&[u8]],
        tasks: &[TaskKind],
        settings: &GenSettings,
    ) -> Result<Vec<GeneratedGoal>, RewardError> {
        settings.check()?;
        if firsts.len() != tasks.len() {
            return Err(RewardError::Invalid(format!(
                "{} first frames for {} tasks",
                firsts.len(),
                tasks.len()
            )));
        }
        let k = settings.samples;
        let first = self.first_latents(firsts)?;
        let [n, c, h, w] = first.dims();
        // Row i * k + j is sample j of first frame i.
        let rep = first
            .unsqueeze_dim::<5>(1)
            .repeat_dim(1, k)
            .reshape([n * k, c, h, w]);
        let rep_tasks: Vec<TaskKind> = tasks
            .iter()
            .flat_map(|&t| std::iter::repeat_n(t, k))
            .collect();
        let r = self.resolved(settings);
        let lat = self.sample_latents(
            rep,
            &rep_tasks,
            r.seed,
            k,
            r.steps.unwrap_or(DEFAULT_GEN_STEPS),
            r.guidance.unwrap_or(DEFAULT_GUIDANCE),
        );
        let all = self.decode(lat.clone());
        let flat = lat
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .expect("f32 latents");
        let len = self.latent_len();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let rows: Vec<&[f32]> = (0..k)
                .map(|j| &flat[(i * k + j) * len..(i * k + j + 1) * len])
                .collect();
            let samples: Vec<Vec<Vec<u8>>> = all[i * k..(i + 1) * k].to_vec();
            let mean = mean_of(&rows);
            let (frames, latent, picked) = match settings.pick {
                SamplePick::First => (samples[0].clone(), rows[0].to_vec(), Some(0)),
                SamplePick::Medoid => {
                    let j = closest(&rows, &mean);
                    (samples[j].clone(), rows[j].to_vec(), Some(j))
                }
                SamplePick::Mean if k == 1 => (samples[0].clone(), rows[0].to_vec(), Some(0)),
                SamplePick::Mean => {
                    let t = Tensor::<B, 5>::from_data(
                        TensorData::new(mean.clone(), [1, c, self.config.frames, h, w]),
                        &self.device(),
                    );
                    (self.decode(t).remove(0), mean, None)
                }
            };
            out.push(GeneratedGoal {
                frames,
                latent,
                samples,
                picked,
            });
        }
        Ok(out)
    }
}

/// A generator loaded on the backend a [`DeviceKind`] names (inference only), for callers that
/// choose the device at run time: `score --goal generated` gives each episode the goal
/// generated from its own first frame.
pub enum LoadedGenerator {
    Cpu(GoalGenerator<Cpu>),
    Gpu(GoalGenerator<Gpu>),
}

impl LoadedGenerator {
    /// Loads the generator in `dir` with the VAE it was trained on (see
    /// [`GoalGenerator::load`]).
    pub fn load(dir: &Path, vae: &Path, device: DeviceKind) -> Result<Self, RewardError> {
        Ok(match device {
            DeviceKind::Cpu => {
                LoadedGenerator::Cpu(GoalGenerator::load(dir, vae, Default::default())?)
            }
            DeviceKind::Wgpu => LoadedGenerator::Gpu(GoalGenerator::load(dir, vae, gpu_device())?),
        })
    }

    /// See [`GoalGenerator::resolved`].
    pub fn resolved(&self, settings: &GenSettings) -> GenSettings {
        match self {
            LoadedGenerator::Cpu(g) => g.resolved(settings),
            LoadedGenerator::Gpu(g) => g.resolved(settings),
        }
    }

    /// See [`GoalGenerator::trained_length`].
    pub fn trained_length(&self) -> usize {
        match self {
            LoadedGenerator::Cpu(g) => g.trained_length(),
            LoadedGenerator::Gpu(g) => g.trained_length(),
        }
    }

    /// See [`GoalGenerator::size`].
    pub fn size(&self) -> u32 {
        match self {
            LoadedGenerator::Cpu(g) => g.size(),
            LoadedGenerator::Gpu(g) => g.size(),
        }
    }

    /// See [`GoalGenerator::generate`].
    pub fn generate(
        &self,
        firsts: &[&[u8]],
        tasks: &[TaskKind],
        settings: &GenSettings,
    ) -> Result<Vec<GeneratedGoal>, RewardError> {
        match self {
            LoadedGenerator::Cpu(g) => g.generate(firsts, tasks, settings),
            LoadedGenerator::Gpu(g) => g.generate(firsts, tasks, settings),
        }
    }

    /// The goal videos of `length` frames for first frames of any size (`w x h` RGB, brought
    /// to the generator's input as the reward brings frames), in one batch: each the generated
    /// 16 frames stretched as `goal` writes them ([`stretch_to_length`]), with what was
    /// generated.
    pub fn goal_videos(
        &self,
        firsts: &[&[u8]],
        (w, h): (u32, u32),
        task: TaskKind,
        settings: &GenSettings,
        length: usize,
    ) -> Result<Vec<(GoalVideo, GeneratedGoal)>, RewardError> {
        let size = self.size();
        let inputs: Vec<Vec<u8>> = firsts
            .iter()
            .map(|f| to_model_input(f, w, h, size))
            .collect::<Result<_, _>>()?;
        let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
        let goals = self.generate(&refs, &vec![task; refs.len()], settings)?;
        let trained = self.trained_length();
        goals
            .into_iter()
            .map(|g| {
                let video = Video {
                    width: size,
                    height: size,
                    frames: stretch_to_length(&g.frames, trained, length.max(2)),
                };
                Ok((GoalVideo::from_video(video, size, "generated goal")?, g))
            })
            .collect()
    }
}

/// The element-wise mean of equal-length rows.
fn mean_of(rows: &[&[f32]]) -> Vec<f32> {
    let mut m = vec![0.0f32; rows[0].len()];
    for r in rows {
        for (a, b) in m.iter_mut().zip(r.iter()) {
            *a += b;
        }
    }
    let k = rows.len() as f32;
    m.iter_mut().for_each(|a| *a /= k);
    m
}

/// The row nearest `to` (squared distance); the first of equals.
fn closest(rows: &[&[f32]], to: &[f32]) -> usize {
    let d = |r: &[f32]| -> f64 {
        r.iter()
            .zip(to)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum()
    };
    let mut best = 0;
    for j in 1..rows.len() {
        if d(rows[j]) < d(rows[best]) {
            best = j;
        }
    }
    best
}

/// The goal video of `length` frames that 16 generated frames stand for. The generator learnt
/// the 16 frames the reward samples ([`crate::uniform_indices`]) from goal videos of
/// `generated_length` frames; frame `t` of the result is the generated frame of the last sampled
/// index at or before `t`, and past `generated_length` the last frame is held (as the expert's
/// goal holds its final state). So at `length == generated_length` the reward samples exactly
/// the generated frames, and at other lengths it sees the same motion at the same pace.
pub fn stretch_to_length(
    frames: &[Vec<u8>],
    generated_length: usize,
    length: usize,
) -> Vec<Vec<u8>> {
    let picks = crate::uniform_indices(generated_length.max(1), frames.len());
    (0..length)
        .map(|t| {
            let t = t.min(generated_length.saturating_sub(1));
            let j = picks.iter().rposition(|&p| p <= t).unwrap_or(0);
            frames[j].clone()
        })
        .collect()
}
