//! `genreward._native`: the library crates seen from Python.
//!
//! Nothing is re-implemented here: the worlds are `genreward-sim`'s [`Env`](SimEnv), the frames
//! `genreward-render`'s, the experts the sim's. This layer only converts (numpy arrays in and
//! out, moved rather than copied where the layout allows), releases the GIL while Rust works and
//! turns every library error into a Python exception carrying its one-line message. The
//! Gymnasium classes are Python (`python/genreward/`), over these.

use genreward_render::{check_size, render_envs, CameraName, Frame, Renderer, ViewSpec};
use genreward_sim::expert::expert_action as sim_expert_action;
use genreward_sim::{
    observation_bounds, Env as SimEnv, PhysicsConfig, StepResult, TaskKind, ACT_DIM, OBS_DIM,
};
use numpy::ndarray::{Array1, Array2, Array3, Array4};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3, PyArray4, PyReadonlyArray1};
use numpy::{PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;
use std::sync::Mutex;

mod reward;
mod run;

/// Meta-World's episode limit (`max_path_length`).
const MAX_PATH_LENGTH: usize = 500;

/// The names of Meta-World's info terms, in the order Meta-World reports them.
const INFO_KEYS: [&str; 7] = [
    "success",
    "near_object",
    "grasp_success",
    "grasp_reward",
    "in_place_reward",
    "obj_to_target",
    "unscaled_reward",
];

fn info_values(r: &StepResult) -> [f64; 7] {
    let i = &r.info;
    [
        i.success,
        i.near_object,
        i.grasp_success,
        i.grasp_reward,
        i.in_place_reward,
        i.obj_to_target,
        i.unscaled_reward,
    ]
}

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn parse_task(name: &str) -> PyResult<TaskKind> {
    name.parse::<TaskKind>().map_err(value_error)
}

fn parse_seed(seed: i64) -> PyResult<u32> {
    u32::try_from(seed).map_err(|_| {
        PyValueError::new_err(format!(
            "seed {seed} is out of range: Meta-World seeds are 0..=4294967295"
        ))
    })
}

fn parse_view(camera: &str, width: u32, height: u32) -> PyResult<ViewSpec> {
    let camera: CameraName = camera.parse().map_err(value_error)?;
    check_size(width, height).map_err(value_error)?;
    Ok(ViewSpec {
        camera,
        width,
        height,
    })
}

/// The next seed of an episode reset without one: a fixed mix of the last seed (SplitMix64), so
/// a run seeded once goes through the same placements every time.
fn next_seed(seed: u32) -> u32 {
    let mut z = (seed as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as u32
}

fn new_env(task: TaskKind, seed: u32, max_steps: usize) -> SimEnv {
    let mut env = SimEnv::new(task, seed, PhysicsConfig::default());
    env.set_max_path_length(max_steps);
    env
}

/// One renderer per process, made on first use (starting wgpu takes a while) and shared by
/// every environment.
static RENDERER: Mutex<Option<Renderer>> = Mutex::new(None);

fn render_worlds(envs: &[&SimEnv], spec: ViewSpec) -> Result<Vec<Frame>, String> {
    let mut guard = RENDERER.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        *guard = Some(Renderer::new().map_err(|e| format!("cannot start the renderer: {e}"))?);
    }
    let renderer = guard.as_mut().expect("made above");
    let worlds: Vec<_> = envs.iter().map(|e| e.world()).collect();
    render_envs(renderer, &worlds, spec).map_err(|e| e.to_string())
}

fn action_of(row: &[f64]) -> PyResult<[f64; ACT_DIM]> {
    let a: [f64; ACT_DIM] = row.try_into().map_err(|_| {
        PyValueError::new_err(format!(
            "an action has {ACT_DIM} values (dx, dy, dz, gripper), got {}",
            row.len()
        ))
    })?;
    if a.iter().any(|v| !v.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "the action {a:?} has a value that is not finite"
        )));
    }
    Ok(a)
}

/// One Meta-World v3 task (goal observable, the placement fixed by the seed), stepped in Rust.
#[pyclass(module = "genreward._native", name = "Env")]
struct PyEnv {
    env: SimEnv,
    seed: u32,
    max_steps: usize,
    /// The last step's action and result (what a run recorder writes).
    last: Option<([f64; ACT_DIM], StepResult)>,
}

#[pymethods]
impl PyEnv {
    #[new]
    #[pyo3(signature = (task, seed=0, max_episode_steps=MAX_PATH_LENGTH))]
    fn new(py: Python<'_>, task: &str, seed: i64, max_episode_steps: usize) -> PyResult<Self> {
        let task = parse_task(task)?;
        let seed = parse_seed(seed)?;
        if max_episode_steps == 0 {
            return Err(PyValueError::new_err(
                "max_episode_steps must be at least 1",
            ));
        }
        let env = py.detach(|| new_env(task, seed, max_episode_steps));
        Ok(PyEnv {
            env,
            seed,
            max_steps: max_episode_steps,
            last: None,
        })
    }

    /// Places everything as Meta-World does for `seed` (or, without one, for the next seed of
    /// this environment's sequence) and returns the first observation.
    #[pyo3(signature = (seed=None))]
    fn reset<'py>(
        &mut self,
        py: Python<'py>,
        seed: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let seed = match seed {
            Some(s) => parse_seed(s)?,
            None => next_seed(self.seed),
        };
        let (task, max_steps) = (self.env.task(), self.max_steps);
        self.env = py.detach(|| new_env(task, seed, max_steps));
        self.seed = seed;
        self.last = None;
        Ok(self.env.last_obs().to_vec().into_pyarray(py))
    }

    /// One control step: `(obs, reward, truncated, info)`, `info` Meta-World's terms.
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        action: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<(Bound<'py, PyArray1<f64>>, f64, bool, Bound<'py, PyDict>)> {
        let a = action_of(&action.as_array().to_vec())?;
        let env = &mut self.env;
        let r = py.detach(|| env.step(a)).map_err(value_error)?;
        let info = PyDict::new(py);
        for (k, v) in INFO_KEYS.iter().zip(info_values(&r)) {
            info.set_item(k, v)?;
        }
        let out = (r.obs.to_vec().into_pyarray(py), r.reward, r.truncated, info);
        self.last = Some((a, r));
        Ok(out)
    }

    /// The scene from `camera` as uint8 `[height, width, 3]`, row 0 at the top.
    fn render<'py>(
        &self,
        py: Python<'py>,
        camera: &str,
        width: u32,
        height: u32,
    ) -> PyResult<Bound<'py, PyArray3<u8>>> {
        let spec = parse_view(camera, width, height)?;
        let env = &self.env;
        let mut frames = py
            .detach(|| render_worlds(&[env], spec))
            .map_err(PyRuntimeError::new_err)?;
        let f = frames.remove(0);
        Ok(
            Array3::from_shape_vec((f.height as usize, f.width as usize, 3), f.rgb)
                .expect("a frame holds height x width x 3 bytes")
                .into_pyarray(py),
        )
    }

    /// The seed of the current placement.
    #[getter]
    fn seed(&self) -> u32 {
        self.seed
    }

    #[getter]
    fn task(&self) -> &'static str {
        self.env.task().name()
    }

    /// Steps taken since the last reset.
    #[getter]
    fn steps(&self) -> usize {
        self.env.curr_path_length()
    }

    #[getter]
    fn max_episode_steps(&self) -> usize {
        self.max_steps
    }

    /// Where the seed put the object, `[x, y, z]` in metres.
    #[getter]
    fn obj_init_pos(&self) -> [f64; 3] {
        self.env.placement().obj_init_pos
    }

    /// Where the seed put the goal, `[x, y, z]` in metres.
    #[getter]
    fn target_pos(&self) -> [f64; 3] {
        self.env.placement().target_pos
    }
}

/// When a vector environment resets a finished episode (Gymnasium's autoreset modes).
#[derive(Clone, Copy, PartialEq)]
enum Autoreset {
    /// The step after the last one resets it (its action is ignored).
    NextStep,
    /// The last step resets it at once; its observation goes back as `final_obs`.
    SameStep,
}

/// `num_envs` environments of one task stepped in parallel (rayon), rendered in one batch.
#[pyclass(module = "genreward._native", name = "VecEnv")]
struct PyVecEnv {
    task: TaskKind,
    envs: Vec<SimEnv>,
    seeds: Vec<u32>,
    max_steps: usize,
    autoreset: Autoreset,
    /// Environments whose episode ended on the last step (next-step mode).
    pending: Vec<bool>,
}

/// What one vector step returns.
struct VecStep {
    obs: Vec<f64>,
    rewards: Vec<f64>,
    truncated: Vec<bool>,
    info: Vec<[f64; 7]>,
    /// Steps of the episode taken so far by this call (0 where the call started an episode).
    steps: Vec<u64>,
    /// Same-step mode: the last observation of each episode that ended (its row), else empty.
    final_obs: Vec<(usize, [f64; OBS_DIM])>,
}

#[pymethods]
impl PyVecEnv {
    #[new]
    #[pyo3(signature = (task, num_envs, seed=0, max_episode_steps=MAX_PATH_LENGTH, autoreset="next_step"))]
    fn new(
        py: Python<'_>,
        task: &str,
        num_envs: usize,
        seed: i64,
        max_episode_steps: usize,
        autoreset: &str,
    ) -> PyResult<Self> {
        let task = parse_task(task)?;
        let seed = parse_seed(seed)?;
        if num_envs == 0 || max_episode_steps == 0 {
            return Err(PyValueError::new_err(
                "num_envs and max_episode_steps must be at least 1",
            ));
        }
        let autoreset = match autoreset {
            "next_step" => Autoreset::NextStep,
            "same_step" => Autoreset::SameStep,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown autoreset mode '{other}' (next_step or same_step)"
                )))
            }
        };
        let seeds: Vec<u32> = (0..num_envs).map(|i| seed.wrapping_add(i as u32)).collect();
        let envs = py.detach(|| {
            seeds
                .par_iter()
                .map(|&s| new_env(task, s, max_episode_steps))
                .collect()
        });
        Ok(PyVecEnv {
            task,
            envs,
            seeds,
            max_steps: max_episode_steps,
            autoreset,
            pending: vec![false; num_envs],
        })
    }

    #[getter]
    fn num_envs(&self) -> usize {
        self.envs.len()
    }

    /// The seed of each environment's current placement.
    #[getter]
    fn seeds(&self) -> Vec<u32> {
        self.seeds.clone()
    }

    /// Resets every environment: environment `i` to `seeds[i]`, or without seeds each to the
    /// next seed of its own sequence. Returns the observations, `[num_envs, 39]`.
    #[pyo3(signature = (seeds=None))]
    fn reset<'py>(
        &mut self,
        py: Python<'py>,
        seeds: Option<Vec<i64>>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.seeds = match seeds {
            Some(s) if s.len() != self.envs.len() => {
                return Err(PyValueError::new_err(format!(
                    "{} seeds for {} environments: one each",
                    s.len(),
                    self.envs.len()
                )))
            }
            Some(s) => s.into_iter().map(parse_seed).collect::<PyResult<_>>()?,
            None => self.seeds.iter().map(|&s| next_seed(s)).collect(),
        };
        let (task, max_steps, seeds) = (self.task, self.max_steps, &self.seeds);
        self.envs = py.detach(|| {
            seeds
                .par_iter()
                .map(|&s| new_env(task, s, max_steps))
                .collect()
        });
        self.pending.iter_mut().for_each(|p| *p = false);
        Ok(self.observations(py))
    }

    /// Steps every environment with its row of `actions` (`[num_envs, 4]`), in parallel:
    /// `(obs [N, 39], rewards [N], truncated [N], steps [N], info, final_obs)`, `steps` the
    /// episode's steps so far (0 where next-step autoreset started a new one). `info` maps each of
    /// Meta-World's terms to an array over the environments; `final_obs` (same-step mode) maps
    /// the row of each episode that just ended to its last observation.
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<(
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<bool>>,
        Bound<'py, PyArray1<u64>>,
        Bound<'py, PyDict>,
        Bound<'py, PyDict>,
    )> {
        let n = self.envs.len();
        let shape = actions.shape();
        if shape != [n, ACT_DIM] {
            return Err(PyValueError::new_err(format!(
                "actions must be [{n}, {ACT_DIM}] (one row per environment), got {shape:?}"
            )));
        }
        let acts: Vec<[f64; ACT_DIM]> = actions
            .as_array()
            .rows()
            .into_iter()
            .map(|r| action_of(&r.to_vec()))
            .collect::<PyResult<_>>()?;
        let out = py.detach(|| self.step_all(&acts)).map_err(value_error)?;
        let info = PyDict::new(py);
        for (k, key) in INFO_KEYS.iter().enumerate() {
            let col: Vec<f64> = out.info.iter().map(|v| v[k]).collect();
            info.set_item(key, col.into_pyarray(py))?;
        }
        let finals = PyDict::new(py);
        for (i, o) in out.final_obs {
            finals.set_item(i, o.to_vec().into_pyarray(py))?;
        }
        Ok((
            Array2::from_shape_vec((n, OBS_DIM), out.obs)
                .expect("n rows of 39")
                .into_pyarray(py),
            out.rewards.into_pyarray(py),
            Array1::from_vec(out.truncated).into_pyarray(py),
            out.steps.into_pyarray(py),
            info,
            finals,
        ))
    }

    /// Every environment from `camera`, in one batch: uint8 `[num_envs, height, width, 3]`.
    fn render<'py>(
        &self,
        py: Python<'py>,
        camera: &str,
        width: u32,
        height: u32,
    ) -> PyResult<Bound<'py, PyArray4<u8>>> {
        let spec = parse_view(camera, width, height)?;
        let envs: Vec<&SimEnv> = self.envs.iter().collect();
        let frames = py
            .detach(|| render_worlds(&envs, spec))
            .map_err(PyRuntimeError::new_err)?;
        let mut data = Vec::with_capacity(frames.len() * (width * height * 3) as usize);
        for f in frames {
            data.extend_from_slice(&f.rgb);
        }
        Ok(
            Array4::from_shape_vec((envs.len(), height as usize, width as usize, 3), data)
                .expect("frames of one size")
                .into_pyarray(py),
        )
    }
}

impl PyVecEnv {
    fn observations<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let obs: Vec<f64> = self.envs.iter().flat_map(|e| *e.last_obs()).collect();
        Array2::from_shape_vec((self.envs.len(), OBS_DIM), obs)
            .expect("n rows of 39")
            .into_pyarray(py)
    }

    fn step_all(&mut self, acts: &[[f64; ACT_DIM]]) -> Result<VecStep, genreward_sim::EnvError> {
        let (task, max_steps, mode) = (self.task, self.max_steps, self.autoreset);
        struct One {
            obs: [f64; OBS_DIM],
            reward: f64,
            truncated: bool,
            info: [f64; 7],
            steps: u64,
            final_obs: Option<[f64; OBS_DIM]>,
        }
        let ones: Vec<One> = self
            .envs
            .par_iter_mut()
            .zip(self.seeds.par_iter_mut())
            .zip(self.pending.par_iter_mut())
            .zip(acts.par_iter())
            .map(|(((env, seed), pending), a)| {
                if *pending {
                    // Next-step autoreset: this call starts the next episode instead.
                    *seed = next_seed(*seed);
                    *env = new_env(task, *seed, max_steps);
                    *pending = false;
                    return Ok(One {
                        obs: *env.last_obs(),
                        reward: 0.0,
                        truncated: false,
                        info: [0.0; 7],
                        steps: 0,
                        final_obs: None,
                    });
                }
                let r = env.step(*a)?;
                let mut one = One {
                    obs: r.obs,
                    reward: r.reward,
                    truncated: r.truncated,
                    info: info_values(&r),
                    steps: env.curr_path_length() as u64,
                    final_obs: None,
                };
                if r.truncated {
                    match mode {
                        Autoreset::NextStep => *pending = true,
                        Autoreset::SameStep => {
                            *seed = next_seed(*seed);
                            *env = new_env(task, *seed, max_steps);
                            one.final_obs = Some(r.obs);
                            one.obs = *env.last_obs();
                        }
                    }
                }
                Ok(one)
            })
            .collect::<Result<_, _>>()?;
        let mut out = VecStep {
            obs: Vec::with_capacity(ones.len() * OBS_DIM),
            rewards: Vec::with_capacity(ones.len()),
            truncated: Vec::with_capacity(ones.len()),
            info: Vec::with_capacity(ones.len()),
            steps: Vec::with_capacity(ones.len()),
            final_obs: Vec::new(),
        };
        for (i, o) in ones.into_iter().enumerate() {
            out.obs.extend_from_slice(&o.obs);
            out.rewards.push(o.reward);
            out.truncated.push(o.truncated);
            out.info.push(o.info);
            out.steps.push(o.steps);
            if let Some(f) = o.final_obs {
                out.final_obs.push((i, f));
            }
        }
        Ok(out)
    }
}

/// The scripted expert's action for `task` at observation `obs` (39 values): `[dx, dy, dz,
/// grip]`, as Meta-World's policy returns it (xyz not clipped; the environment clips).
#[pyfunction]
fn expert_action<'py>(
    py: Python<'py>,
    task: &str,
    obs: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let task = parse_task(task)?;
    let o: [f64; OBS_DIM] = obs.as_array().to_vec().try_into().map_err(|v: Vec<f64>| {
        PyValueError::new_err(format!(
            "an observation has {OBS_DIM} values, got {}",
            v.len()
        ))
    })?;
    let a = sim_expert_action(task, &o);
    Ok(a.iter()
        .map(|&v| v as f64)
        .collect::<Vec<_>>()
        .into_pyarray(py))
}

/// The seven tasks' names, in the order the tool lists them.
#[pyfunction]
fn tasks() -> Vec<&'static str> {
    TaskKind::ALL.iter().map(|t| t.name()).collect()
}

/// The cameras' names.
#[pyfunction]
fn cameras() -> Vec<&'static str> {
    CameraName::ALL.iter().map(|c| c.name()).collect()
}

/// The task's one-sentence description (what the goal video shows).
#[pyfunction]
fn task_description(task: &str) -> PyResult<&'static str> {
    Ok(parse_task(task)?.description())
}

/// Meta-World's observation box for `task`: `(low, high)`, 39 values each.
#[pyfunction]
fn observation_box<'py>(
    py: Python<'py>,
    task: &str,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>)> {
    let (low, high) = observation_bounds(parse_task(task)?);
    Ok((
        low.to_vec().into_pyarray(py),
        high.to_vec().into_pyarray(py),
    ))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEnv>()?;
    m.add_class::<run::PyRunWriter>()?;
    m.add_class::<reward::PyRewarder>()?;
    m.add_function(wrap_pyfunction!(run::read_steps, m)?)?;
    m.add_class::<PyVecEnv>()?;
    m.add_function(wrap_pyfunction!(expert_action, m)?)?;
    m.add_function(wrap_pyfunction!(tasks, m)?)?;
    m.add_function(wrap_pyfunction!(cameras, m)?)?;
    m.add_function(wrap_pyfunction!(task_description, m)?)?;
    m.add_function(wrap_pyfunction!(observation_box, m)?)?;
    m.add("MAX_PATH_LENGTH", MAX_PATH_LENGTH)?;
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
