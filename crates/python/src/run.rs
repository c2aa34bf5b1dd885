//! Run folders from Python: a [`LiveRun`] fed by a Python loop, and `steps.jsonl` read back as
//! numpy columns.

use crate::{parse_seed, parse_view, value_error, PyEnv};
use genreward_run::{read_steps as read_step_file, LiveRun, LiveRunSpec, VideoSpec};
use numpy::ndarray::Array2;
use numpy::IntoPyArray;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use std::sync::Mutex;

fn run_error(e: genreward_run::RunError) -> PyErr {
    match e {
        genreward_run::RunError::Invalid(_) => PyValueError::new_err(e.to_string()),
        _ => PyOSError::new_err(e.to_string()),
    }
}

/// Records a run folder exactly as `genreward rollout --out` writes it, from a loop that steps
/// an [`Env`](PyEnv) itself: `begin_episode`, then `before_step` / `after_step` around every
/// step, `finish` at the end (the manifest is whole after every episode meanwhile).
#[pyclass(module = "genreward._native", name = "RunWriter")]
pub struct PyRunWriter {
    /// A mutex only to make the class `Sync`, as PyO3 asks (the reward terms a run may hold
    /// are not); Python's own reference rules already keep calls apart.
    run: Mutex<Option<LiveRun>>,
}

impl PyRunWriter {
    fn with<T>(
        &mut self,
        py: Python<'_>,
        f: impl FnOnce(&mut LiveRun) -> Result<T, genreward_run::RunError> + Send,
    ) -> PyResult<T>
    where
        T: Send,
    {
        let run = self.run.get_mut().unwrap_or_else(|p| p.into_inner());
        let run = run
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("the run is finished"))?;
        py.detach(|| f(run)).map_err(run_error)
    }
}

#[pymethods]
impl PyRunWriter {
    #[new]
    #[pyo3(signature = (out, task, camera="corner2", width=64, height=64, max_episode_steps=500,
        sparse_every=None, video=None, video_camera=None, video_width=256, video_height=256,
        overlay=true, agent=None, command=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        out: PathBuf,
        task: &str,
        camera: Option<&str>,
        width: u32,
        height: u32,
        max_episode_steps: usize,
        sparse_every: Option<usize>,
        video: Option<PathBuf>,
        video_camera: Option<&str>,
        video_width: u32,
        video_height: u32,
        overlay: bool,
        agent: Option<String>,
        command: Vec<String>,
    ) -> PyResult<Self> {
        let task = crate::parse_task(task)?;
        let observations = match camera {
            Some(c) => Some(parse_view(c, width, height)?),
            None => None,
        };
        let video = match video {
            Some(path) => Some(VideoSpec {
                path,
                view: parse_view(
                    video_camera.or(camera).unwrap_or("corner2"),
                    video_width,
                    video_height,
                )?,
                overlay,
            }),
            None => None,
        };
        let agent = agent.map(|a| serde_json::from_str(&a).unwrap_or(serde_json::Value::String(a)));
        let spec = LiveRunSpec {
            out,
            task,
            observations,
            video,
            max_steps: max_episode_steps,
            sparse_every,
            agent,
            command,
        };
        let run = py.detach(|| LiveRun::create(spec)).map_err(run_error)?;
        Ok(PyRunWriter {
            run: Mutex::new(Some(run)),
        })
    }

    /// Starts the next episode, placed with `seed`.
    fn begin_episode(&mut self, py: Python<'_>, seed: i64) -> PyResult<()> {
        let seed = parse_seed(seed)?;
        self.with(py, |run| run.begin_episode(seed))
    }

    /// Before `env` takes the step: renders the frame the step records.
    fn before_step(&mut self, py: Python<'_>, env: PyRef<'_, PyEnv>) -> PyResult<()> {
        let env = &env.env;
        self.with(py, |run| run.before_step(env))
    }

    /// After `env` took the step: writes it (`truncated`: the episode ends here). Returns the
    /// reward the record pays.
    fn after_step(
        &mut self,
        py: Python<'_>,
        env: PyRef<'_, PyEnv>,
        truncated: bool,
    ) -> PyResult<f64> {
        let (action, result) = env
            .last
            .clone()
            .ok_or_else(|| PyValueError::new_err("the environment has taken no step to record"))?;
        let env = &env.env;
        self.with(py, |run| run.after_step(action, &result, truncated, env))
            .map(|rec| rec.reward)
    }

    /// Ends the episode in progress (its files complete, the manifest updated).
    fn end_episode(&mut self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |run| run.end_episode())
    }

    /// Episodes recorded so far.
    #[getter]
    fn episodes(&self) -> usize {
        let run = self.run.lock().unwrap_or_else(|p| p.into_inner());
        run.as_ref().map_or(0, LiveRun::episodes)
    }

    /// Completes every file; returns the manifest as JSON. A second call does nothing.
    fn finish(&mut self, py: Python<'_>) -> PyResult<Option<String>> {
        let taken = self.run.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        let Some(run) = taken else {
            return Ok(None);
        };
        let manifest = py.detach(|| run.finish()).map_err(run_error)?;
        Ok(Some(serde_json::to_string(&manifest).map_err(value_error)?))
    }
}

/// A run's `steps.jsonl` as columns: a dict of numpy arrays, one row per step (`obs` `[N, 39]`,
/// `action` `[N, 4]`, the rewards and Meta-World's terms), `terms` a dict of the named terms
/// (NaN on steps without one).
#[pyfunction]
pub fn read_steps<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let recs = py.detach(|| read_step_file(&path)).map_err(run_error)?;
    columns(py, &recs)
}

fn columns<'py>(
    py: Python<'py>,
    recs: &[genreward_sim::StepRecord],
) -> PyResult<Bound<'py, PyDict>> {
    let n = recs.len();
    let d = PyDict::new(py);
    let ints = |f: &dyn Fn(&genreward_sim::StepRecord) -> i64| -> Vec<i64> {
        recs.iter().map(f).collect()
    };
    let floats = |f: &dyn Fn(&genreward_sim::StepRecord) -> f64| -> Vec<f64> {
        recs.iter().map(f).collect()
    };
    d.set_item("episode", ints(&|r| r.episode as i64).into_pyarray(py))?;
    d.set_item("step", ints(&|r| r.step as i64).into_pyarray(py))?;
    d.set_item("seed", ints(&|r| r.seed as i64).into_pyarray(py))?;
    let obs: Vec<f64> = recs.iter().flat_map(|r| r.obs).collect();
    d.set_item(
        "obs",
        Array2::from_shape_vec((n, 39), obs)
            .expect("39 per step")
            .into_pyarray(py),
    )?;
    let act: Vec<f64> = recs.iter().flat_map(|r| r.action).collect();
    d.set_item(
        "action",
        Array2::from_shape_vec((n, 4), act)
            .expect("4 per step")
            .into_pyarray(py),
    )?;
    d.set_item("reward", floats(&|r| r.reward).into_pyarray(py))?;
    d.set_item("dense_reward", floats(&|r| r.dense_reward).into_pyarray(py))?;
    d.set_item("near_object", floats(&|r| r.near_object).into_pyarray(py))?;
    d.set_item(
        "grasp_success",
        floats(&|r| r.grasp_success).into_pyarray(py),
    )?;
    d.set_item("grasp_reward", floats(&|r| r.grasp_reward).into_pyarray(py))?;
    d.set_item(
        "in_place_reward",
        floats(&|r| r.in_place_reward).into_pyarray(py),
    )?;
    d.set_item(
        "obj_to_target",
        floats(&|r| r.obj_to_target).into_pyarray(py),
    )?;
    let bools = |f: &dyn Fn(&genreward_sim::StepRecord) -> bool| -> Vec<bool> {
        recs.iter().map(f).collect()
    };
    d.set_item("success", bools(&|r| r.success).into_pyarray(py))?;
    d.set_item("truncated", bools(&|r| r.truncated).into_pyarray(py))?;
    let mut names: Vec<&String> = recs.iter().flat_map(|r| r.terms.keys()).collect();
    names.sort();
    names.dedup();
    let terms = PyDict::new(py);
    for name in names {
        let col = floats(&|r| r.terms.get(name).copied().unwrap_or(f64::NAN));
        terms.set_item(name, col.into_pyarray(py))?;
    }
    d.set_item("terms", terms)?;
    Ok(d)
}
