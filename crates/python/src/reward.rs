//! GenReward's reward from Python: the library's [`LiveTerms`] toward a goal video (a file,
//! each episode's expert video, or each episode's goal generated from its first frame), fed
//! one step at a time by the Gymnasium environment.

use crate::{parse_view, render_worlds, value_error, PyEnv, RENDERER};
use genreward_episodes::expert_goal;
use genreward_models::DeviceKind;
use genreward_render::{Frame, Renderer, ViewSpec};
use genreward_reward::{
    default_goalgen_dir, FbChoice, GenSettings, GoalVideo, RewardError, RewardSettings,
};
use genreward_run::{EpisodeGoals, LiveTerms, Loaded, RunError};
use genreward_sim::env_reward::RewardInfo;
use genreward_sim::{StepRecord, TaskKind, OBS_DIM};
use numpy::{PyReadonlyArray1, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use std::sync::Mutex;

fn reward_error(e: RewardError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn run_error(e: RunError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Where the goal comes from.
enum GoalSource {
    /// One goal video file for every episode.
    File,
    /// Each episode's own expert video (the oracle).
    Expert,
    /// Each episode's own goal, generated from its first frame.
    Generated,
}

struct Inner {
    task: TaskKind,
    view: ViewSpec,
    length: usize,
    source: GoalSource,
    live: LiveTerms,
    /// What the goal is, for `info` and the manifest: its file or kind.
    label: String,
}

/// An expert goal video for `seed`, rendered with the shared renderer.
fn expert_video(
    task: TaskKind,
    seed: u32,
    view: ViewSpec,
    length: usize,
) -> Result<GoalVideo, String> {
    let mut guard = RENDERER.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        *guard = Some(Renderer::new().map_err(|e| format!("cannot start the renderer: {e}"))?);
    }
    let renderer = guard.as_mut().expect("made above");
    expert_goal(task, seed, view, length, renderer).map_err(|e| e.to_string())
}

fn frame_of(frame: &PyReadonlyArray3<'_, u8>, view: ViewSpec) -> PyResult<Frame> {
    let shape = frame.shape();
    if shape != [view.height as usize, view.width as usize, 3] {
        return Err(PyValueError::new_err(format!(
            "the reward reads {}x{} frames from {}, got an array of shape {shape:?}",
            view.width,
            view.height,
            view.camera.name()
        )));
    }
    Ok(Frame {
        width: view.width,
        height: view.height,
        rgb: frame.as_array().iter().copied().collect(),
    })
}

/// GenReward's terms for one task: `r = r_env + alpha * r_video + beta * r_fb`, computed by the
/// library exactly as `genreward rollout --goal` computes them.
#[pyclass(module = "genreward._native", name = "Rewarder")]
pub struct PyRewarder {
    inner: Mutex<Inner>,
}

#[pymethods]
impl PyRewarder {
    #[new]
    #[pyo3(signature = (task, goal, camera="corner2", width=64, height=64, max_episode_steps=500,
        alpha=None, beta=None, every=None, fb=true, device="cpu", vae=None, generator=None,
        samples=None, gen_seed=0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        task: &str,
        goal: &str,
        camera: &str,
        width: u32,
        height: u32,
        max_episode_steps: usize,
        alpha: Option<f64>,
        beta: Option<f64>,
        every: Option<usize>,
        fb: bool,
        device: &str,
        vae: Option<PathBuf>,
        generator: Option<PathBuf>,
        samples: Option<usize>,
        gen_seed: u64,
    ) -> PyResult<Self> {
        let task = crate::parse_task(task)?;
        let view = parse_view(camera, width, height)?;
        let device: DeviceKind = device.parse().map_err(value_error)?;
        let mut settings = RewardSettings {
            vae,
            device,
            ..RewardSettings::default()
        };
        if let Some(a) = alpha {
            settings.alpha = a;
        }
        if let Some(b) = beta {
            settings.beta = b;
        }
        if let Some(k) = every {
            settings.every = k;
        }
        if !fb {
            settings.fb = FbChoice::Off;
        }
        let length = max_episode_steps;
        let inner = py.detach(|| -> PyResult<Inner> {
            let (source, loaded, goals) = match goal {
                "expert" => {
                    let video =
                        expert_video(task, 0, view, length).map_err(PyValueError::new_err)?;
                    let l = Loaded::from_video(video, "expert", &settings, task)
                        .map_err(reward_error)?;
                    (GoalSource::Expert, l, None)
                }
                "generated" => {
                    let mut gen = GenSettings {
                        seed: gen_seed,
                        ..GenSettings::default()
                    };
                    if let Some(k) = samples {
                        gen.samples = k;
                    }
                    let dir = generator.clone().unwrap_or_else(default_goalgen_dir);
                    let mut goals = EpisodeGoals::load(&dir, &settings.vae_dir(), &gen, device)
                        .map_err(reward_error)?;
                    // The terms load toward seed 0's goal; every episode is re-aimed at its own.
                    let env = genreward_sim::Env::new(task, 0, Default::default());
                    let first = render_worlds(&[&env], view)
                        .map_err(PyValueError::new_err)?
                        .remove(0);
                    let (video, _) = goals
                        .goal_for(&first.rgb, (first.width, first.height), task, length)
                        .map_err(reward_error)?;
                    let l = Loaded::from_video(video, "generated", &settings, task)
                        .map_err(reward_error)?;
                    (GoalSource::Generated, l, Some(goals))
                }
                path => {
                    let l = Loaded::from_file(&PathBuf::from(path), &settings, task)
                        .map_err(reward_error)?;
                    (GoalSource::File, l, None)
                }
            };
            let mut live = LiveTerms::new(loaded.terms, loaded.info.alpha, loaded.info.beta);
            if let Some(g) = goals {
                live.with_episode_goals(g, task, length);
            }
            Ok(Inner {
                task,
                view,
                length,
                source,
                live,
                label: loaded.info.path,
            })
        })?;
        Ok(PyRewarder {
            inner: Mutex::new(inner),
        })
    }

    /// Starts an episode of `env` (just reset), whose first observation frame is `frame`
    /// (uint8 `[H, W, 3]` from the reward's camera): aims the terms at the episode's goal.
    fn begin_episode(
        &mut self,
        py: Python<'_>,
        env: PyRef<'_, PyEnv>,
        frame: PyReadonlyArray3<'_, u8>,
    ) -> PyResult<()> {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        let first = frame_of(&frame, inner.view)?;
        let seed = env.seed;
        py.detach(|| -> PyResult<()> {
            inner.live.begin_episode();
            match inner.source {
                GoalSource::File => {}
                GoalSource::Expert => {
                    let video = expert_video(inner.task, seed, inner.view, inner.length)
                        .map_err(PyValueError::new_err)?;
                    inner.live.retarget(video).map_err(run_error)?;
                }
                GoalSource::Generated => {
                    inner.live.aim(&first).map_err(run_error)?;
                }
            }
            Ok(())
        })
    }

    /// Scores one step: `obs` and `frame` the state before it (39 values; the reward camera's
    /// frame), `action` the action taken, `reward` the env reward as paid, `step` its index in
    /// the episode. Returns `(total, terms)`, `terms` a dict with `r_env`, `r_video` (0 on
    /// steps it is not paid) and `r_fb` (when an FB model is loaded).
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        obs: PyReadonlyArray1<'py, f64>,
        action: PyReadonlyArray1<'py, f64>,
        frame: PyReadonlyArray3<'py, u8>,
        reward: f64,
        step: usize,
    ) -> PyResult<(f64, Bound<'py, PyDict>)> {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        let f = frame_of(&frame, inner.view)?;
        let obs: [f64; OBS_DIM] = obs
            .as_array()
            .to_vec()
            .try_into()
            .map_err(|_| PyValueError::new_err("an observation has 39 values"))?;
        let action = crate::action_of(&action.as_array().to_vec())?;
        let info = RewardInfo {
            reward,
            ..RewardInfo::default()
        };
        let mut rec = StepRecord::new(0, step, 0, obs, action, reward, &info, false);
        py.detach(|| inner.live.score(&f, &mut rec, None))
            .map_err(run_error)?;
        let terms = PyDict::new(py);
        for (k, v) in &rec.terms {
            terms.set_item(k, v)?;
        }
        Ok((rec.reward, terms))
    }

    /// The goal in use: `(label, frames, goal frame index among the 16 sampled)`.
    #[getter]
    fn goal(&self) -> (String, usize, usize) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let t = inner.live.terms();
        (
            inner.label.clone(),
            t.goal.video.frames.len(),
            t.goal_frame.frame,
        )
    }

    /// The weights `(alpha, beta)` in use (`beta` is 0 without an FB model).
    #[getter]
    fn weights(&self) -> (f64, f64) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.live.weights()
    }
}
