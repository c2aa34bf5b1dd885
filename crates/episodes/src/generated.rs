//! Generated goal videos, GenReward's own: the goal-video generator makes the video of the task
//! done from the episode's first frame (a seed's reset scene, or any image a user brings) and
//! the task; no expert runs. See `genreward_reward::generate`.

use crate::error::bail;
use crate::{EpisodesError, Result};
use genreward_models::backend::{run_on, BackendJob};
use genreward_models::DeviceKind;
use genreward_record::{load_video, save_frames, ClipFormat};
use genreward_render::{render_envs, Renderer, ViewSpec};
use genreward_reward::{stretch_to_length, GenSettings, GeneratedGoal, GoalGenerator};
use genreward_sim::{Env, PhysicsConfig, TaskKind};
use std::path::{Path, PathBuf};

/// Where the first frame comes from.
#[derive(Clone, Debug)]
pub enum FirstFrame {
    /// The scene of this placement seed before the first step, rendered at the camera.
    Seed(u32),
    /// An image file (.png, or .npy uint8 `[1, H, W, 3]`; a video's first frame), at the
    /// generator's size.
    Image(PathBuf),
}

/// What [`write_generated_goal`] makes.
#[derive(Clone, Debug)]
pub struct GeneratedGoalSpec {
    pub task: TaskKind,
    pub first: FirstFrame,
    /// The camera a seed's first frame is rendered from (its size must be the generator's).
    pub view: ViewSpec,
    /// Frames of the video written (the episode's length): the 16 generated frames stretched so
    /// that the reward samples exactly them. 16 writes them as they are.
    pub length: usize,
    /// The generator's and its VAE's folders.
    pub generator: PathBuf,
    pub vae: PathBuf,
    pub settings: GenSettings,
    pub device: DeviceKind,
}

/// What [`write_generated_goal`] wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GeneratedGoalReport {
    pub task: String,
    pub source: &'static str,
    /// The placement seed whose reset scene was the first frame, if one was.
    pub seed: Option<u32>,
    /// The image the first frame was read from, if one was.
    pub first_frame: Option<String>,
    pub out: String,
    pub format: String,
    pub frames: usize,
    pub generator: String,
    pub gen_seed: u64,
    pub steps: usize,
    pub guidance: f64,
    pub samples: usize,
    pub pick: String,
    /// The sample picked (`null` for the mean).
    pub picked: Option<usize>,
    /// Seconds to generate (all samples, decoding included; loading not).
    pub generate_seconds: f64,
}

/// The first frame at the generator's `size`: a seed's reset scene or the image given.
pub fn first_frame(
    first: &FirstFrame,
    task: TaskKind,
    view: ViewSpec,
    size: u32,
) -> Result<Vec<u8>> {
    match first {
        FirstFrame::Seed(seed) => {
            if view.width != size || view.height != size {
                bail!(
                    "the goal generator reads {size}x{size} frames, not {}x{}",
                    view.width,
                    view.height
                );
            }
            let env = Env::new(task, *seed, PhysicsConfig::default());
            let mut renderer = Renderer::new()?;
            Ok(render_envs(&mut renderer, &[env.world()], view)?
                .remove(0)
                .rgb)
        }
        FirstFrame::Image(path) => {
            let video = load_video(path)?;
            if video.width != size || video.height != size {
                bail!(
                    "first frame '{}' is {}x{}; the goal generator reads {size}x{size} images",
                    path.display(),
                    video.width,
                    video.height
                );
            }
            match video.frames.into_iter().next() {
                Some(f) => Ok(f),
                None => bail!("first frame '{}' holds no image", path.display()),
            }
        }
    }
}

struct GenJob<'a> {
    spec: &'a GeneratedGoalSpec,
    tasks: Vec<TaskKind>,
    firsts: Vec<Vec<u8>>,
}

/// The generated goals, the settings with the checkpoint's defaults filled in, the seconds the
/// generation took and the goal-video length the generator learnt.
type GenOut = Result<(Vec<GeneratedGoal>, GenSettings, f64, usize)>;

impl BackendJob for GenJob<'_> {
    type Output = GenOut;
    fn run<B: burn::tensor::backend::AutodiffBackend>(self, device: B::Device) -> GenOut {
        // Inference only: the inner backend keeps no graph.
        let gen =
            GoalGenerator::<B::InnerBackend>::load(&self.spec.generator, &self.spec.vae, device)?;
        let s = gen.resolved(&self.spec.settings);
        let refs: Vec<&[u8]> = self.firsts.iter().map(Vec::as_slice).collect();
        let t0 = std::time::Instant::now();
        let goals = gen.generate(&refs, &self.tasks, &s)?;
        Ok((goals, s, t0.elapsed().as_secs_f64(), gen.trained_length()))
    }
}

/// The size of the frames the generator in `dir` reads: its VAE's.
pub fn generator_size(vae: &Path) -> Result<u32> {
    Ok(genreward_reward::load::vae_frame_size(vae)?)
}

/// Generates the goal video from the first frame and the task and saves it to `out` (.mp4,
/// .gif, .npy, or a folder of PNG frames); nothing is written when anything fails.
pub fn write_generated_goal(spec: &GeneratedGoalSpec, out: &Path) -> Result<GeneratedGoalReport> {
    let format = ClipFormat::from_path(out)?;
    spec.settings.check()?;
    if spec.length < 2 {
        bail!("a goal video needs at least 2 frames");
    }
    let size = generator_size(&spec.vae)?;
    let first = first_frame(&spec.first, spec.task, spec.view, size)?;
    let (mut goals, s, seconds, trained) = run_on(
        spec.device,
        GenJob {
            spec,
            tasks: vec![spec.task],
            firsts: vec![first],
        },
    )?;
    let goal = goals.remove(0);
    let frames = if spec.length == goal.frames.len() {
        goal.frames.clone()
    } else {
        stretch_to_length(&goal.frames, trained, spec.length)
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| EpisodesError::io("create", parent, e))?;
    }
    save_frames(out, size, size, genreward_sim::CONTROL_HZ, &frames)?;
    Ok(GeneratedGoalReport {
        task: spec.task.name().into(),
        source: "generated",
        seed: match spec.first {
            FirstFrame::Seed(s) => Some(s),
            FirstFrame::Image(_) => None,
        },
        first_frame: match &spec.first {
            FirstFrame::Image(p) => Some(p.display().to_string()),
            FirstFrame::Seed(_) => None,
        },
        out: out.display().to_string(),
        format: format!("{format:?}").to_lowercase(),
        frames: frames.len(),
        generator: spec.generator.display().to_string(),
        gen_seed: s.seed,
        steps: s.steps.unwrap_or_default(),
        guidance: s.guidance.unwrap_or_default(),
        samples: s.samples,
        pick: s.pick.to_string(),
        picked: goal.picked,
        generate_seconds: seconds,
    })
}
