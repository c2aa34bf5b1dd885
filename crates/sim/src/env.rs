//! `Env`: Meta-World's reset/step contract on top of [`SawyerWorld`]:
//! seeded placement (numpy-exact), the 39-d observation, rewards and info.

use crate::env_reward::{self as reward, RewardInfo, RewardInput};
use crate::rng::NumpyLegacyRng;
use crate::task::TaskKind;
use crate::world::{quat_matrix, PhysicsConfig, SawyerWorld};
use rapier3d::glamx::Quat;

/// Observation length.
pub const OBS_DIM: usize = 39;
/// Action length.
pub const ACT_DIM: usize = 4;
/// Meta-World's episode limit.
pub const MAX_PATH_LENGTH: usize = 500;

/// Observation bounds of the hand block (facts §1.5).
const HAND_OBS_LOW: [f64; 3] = [-0.525, 0.348, -0.0525];
const HAND_OBS_HIGH: [f64; 3] = [0.525, 1.025, 0.7];

/// Object z after Meta-World's reset settling, used for z of sampled positions
/// (facts §3.1; exact values from the fixtures' `obj_init_pos`).
fn settled_z(task: TaskKind) -> Option<f64> {
    match task {
        TaskKind::Push => Some(0.019_404_683_840_342_52),
        TaskKind::BinPicking => Some(0.029_995_094_805_573_386),
        TaskKind::ShelfPlace => Some(0.019_936_046_923_271_65),
        _ => None,
    }
}

/// Errors from stepping an environment.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnvError {
    #[error("action contains a non-finite value: {0:?}")]
    NonFiniteAction([f64; 4]),
    #[error("{got} actions for {envs} environments: one each")]
    ActionCount { got: usize, envs: usize },
    #[error("episode is over ({0} steps taken); reset the environment")]
    EpisodeOver(usize),
}

/// Where a seed puts things: the 6-d random vector and what the task makes of it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Placement {
    pub rand_vec: [f64; 6],
    pub obj_init_pos: [f64; 3],
    pub target_pos: [f64; 3],
}

impl Placement {
    /// Meta-World's placement for `seed`: `np.random.seed(seed)`, then the
    /// rejection-sampled draw of `reset_model` twice (gymnasium's reset calls it
    /// again); the second draw is the one frozen into the environment.
    pub fn for_seed(task: TaskKind, seed: u32) -> Placement {
        let mut rng = NumpyLegacyRng::new(seed);
        let _first = draw_rand_vec(task, &mut rng);
        let r = draw_rand_vec(task, &mut rng);
        Placement::from_rand_vec(task, r)
    }

    /// The configuration a given random vector produces (facts §3.1).
    pub fn from_rand_vec(task: TaskKind, r: [f64; 6]) -> Placement {
        let zs = settled_z(task);
        let (obj, target) = match task {
            TaskKind::Reach | TaskKind::PickPlace => ([r[0], r[1], r[2]], [r[3], r[4], r[5]]),
            TaskKind::Push => {
                let z = zs.unwrap_or(0.02);
                ([r[0], r[1], z], [r[3], r[4], z])
            }
            TaskKind::PickOutOfHole => ([0.0, 0.75, 0.02], [r[3], r[4], r[5]]),
            TaskKind::BinPicking => ([r[0], r[1], zs.unwrap_or(0.03)], [0.12, 0.7, 0.0]),
            TaskKind::ShelfPlace => ([r[0], r[1], zs.unwrap_or(0.02)], [r[3], r[4], r[5]]),
            TaskKind::Disassemble => ([r[0], r[1], r[2]], [r[0], r[1], r[2] + 0.15]),
        };
        Placement {
            rand_vec: r,
            obj_init_pos: obj,
            target_pos: target,
        }
    }
}

fn rejected(task: TaskKind, r: &[f64; 6]) -> bool {
    let d = ((r[0] - r[3]).powi(2) + (r[1] - r[4]).powi(2)).sqrt();
    match task {
        TaskKind::Reach | TaskKind::Push | TaskKind::PickPlace | TaskKind::PickOutOfHole => {
            d < 0.15
        }
        TaskKind::ShelfPlace | TaskKind::Disassemble => d < 0.1,
        TaskKind::BinPicking => false,
    }
}

fn draw_rand_vec(task: TaskKind, rng: &mut NumpyLegacyRng) -> [f64; 6] {
    let (ol, oh) = task.obj_range();
    let (gl, gh) = task.goal_range();
    let low = [ol[0], ol[1], ol[2], gl[0], gl[1], gl[2]];
    let high = [oh[0], oh[1], oh[2], gh[0], gh[1], gh[2]];
    loop {
        let r = rng.uniform(&low, &high);
        if !rejected(task, &r) {
            return r;
        }
    }
}

/// The box Meta-World's observation space is (and every observation lies in): the hand within
/// its clip bounds, the gripper opening in [-1, 1], the object block unbounded, the previous
/// frame likewise, the goal within the task's goal space. `(low, high)`.
pub fn observation_bounds(task: TaskKind) -> ([f64; OBS_DIM], [f64; OBS_DIM]) {
    let mut low = [f64::NEG_INFINITY; OBS_DIM];
    let mut high = [f64::INFINITY; OBS_DIM];
    for frame in [0, 18] {
        low[frame..frame + 3].copy_from_slice(&HAND_OBS_LOW);
        high[frame..frame + 3].copy_from_slice(&HAND_OBS_HIGH);
        low[frame + 3] = -1.0;
        high[frame + 3] = 1.0;
    }
    let (lo, hi) = task.goal_space();
    low[36..].copy_from_slice(&lo);
    high[36..].copy_from_slice(&hi);
    (low, high)
}

/// What one `step` returns.
#[derive(Clone, Debug, PartialEq)]
pub struct StepResult {
    pub obs: [f64; OBS_DIM],
    pub reward: f64,
    pub info: RewardInfo,
    /// True on the step that reaches the episode limit.
    pub truncated: bool,
}

/// One Meta-World task environment (goal observable, frozen placement).
pub struct Env {
    task: TaskKind,
    physics: PhysicsConfig,
    placement: Placement,
    max_path_length: usize,
    world: SawyerWorld,
    init_tcp: [f64; 3],
    prev_frame: [f64; 18],
    curr_path_length: usize,
    bin_margin: Option<f64>,
    last_obs: [f64; OBS_DIM],
}

impl Env {
    /// The environment Meta-World builds for `seed`.
    pub fn new(task: TaskKind, seed: u32, physics: PhysicsConfig) -> Env {
        Env::with_placement(task, Placement::for_seed(task, seed), physics)
    }

    /// An environment with an explicit placement.
    pub fn with_placement(task: TaskKind, placement: Placement, physics: PhysicsConfig) -> Env {
        let world = SawyerWorld::new(task, physics, placement.obj_init_pos, placement.target_pos);
        let mut env = Env {
            task,
            physics,
            placement,
            max_path_length: MAX_PATH_LENGTH,
            world,
            init_tcp: [0.0; 3],
            prev_frame: [0.0; 18],
            curr_path_length: 0,
            bin_margin: None,
            last_obs: [0.0; OBS_DIM],
        };
        env.reset();
        env
    }

    /// Sets the step limit (Meta-World: 500); `step` fails past it.
    pub fn set_max_path_length(&mut self, n: usize) {
        self.max_path_length = n;
    }

    pub fn max_path_length(&self) -> usize {
        self.max_path_length
    }

    /// Puts everything back where the placement says and returns the first observation.
    pub fn reset(&mut self) -> [f64; OBS_DIM] {
        self.world = SawyerWorld::new(
            self.task,
            self.physics,
            self.placement.obj_init_pos,
            self.placement.target_pos,
        );
        self.curr_path_length = 0;
        self.bin_margin = None;
        self.init_tcp = self.world.tcp_center();
        let frame = self.current_frame();
        self.prev_frame = frame;
        self.last_obs = self.assemble_obs(&frame);
        self.last_obs
    }

    /// Advances one control step with `action` (xyz deltas and gripper effort).
    pub fn step(&mut self, action: [f64; ACT_DIM]) -> Result<StepResult, EnvError> {
        if action.iter().any(|a| !a.is_finite()) {
            return Err(EnvError::NonFiniteAction(action));
        }
        if self.curr_path_length >= self.max_path_length {
            return Err(EnvError::EpisodeOver(self.curr_path_length));
        }
        self.world.step(action);
        self.curr_path_length += 1;
        let frame = self.current_frame();
        let obs = self.assemble_obs(&frame);
        self.prev_frame = frame;
        self.last_obs = obs;
        let input = self.reward_input(&obs, action);
        let info = reward::evaluate(self.task, &input);
        Ok(StepResult {
            obs,
            reward: info.reward,
            info,
            truncated: self.curr_path_length == self.max_path_length,
        })
    }

    fn reward_input(&mut self, obs: &[f64; OBS_DIM], action: [f64; 4]) -> RewardInput {
        let (right_pad, left_pad) = self.world.pads();
        let obj = [obs[4], obs[5], obs[6]];
        let t = self.placement.target_pos;
        let margin = *self.bin_margin.get_or_insert_with(|| {
            ((obj[0] - t[0]).powi(2) + (obj[1] - t[1]).powi(2) + (obj[2] - t[2]).powi(2)).sqrt()
        });
        RewardInput {
            obs: *obs,
            action,
            tcp_center: self.world.tcp_center(),
            left_pad,
            right_pad,
            init_tcp: self.init_tcp,
            obj_init_pos: self.placement.obj_init_pos,
            target_pos: t,
            hand_init_pos: self.task.hand_init_pos(),
            touching_main_object: self.world.touching_main_object(),
            target_to_obj_init: margin,
            wrench_center: self.world.object_pose().0,
        }
    }

    /// obs[0:18] of the current state, hand block clipped.
    fn current_frame(&self) -> [f64; 18] {
        let mut f = [0.0; 18];
        let hand = self.world.hand_pos();
        for i in 0..3 {
            f[i] = hand[i].clamp(HAND_OBS_LOW[i], HAND_OBS_HIGH[i]);
        }
        f[3] = self.world.gripper_opening().clamp(-1.0, 1.0);
        let (pos, q) = self.world.object_pose();
        let (p, quat) = match self.task {
            TaskKind::Reach | TaskKind::Push | TaskKind::PickPlace | TaskKind::ShelfPlace => {
                (pos, scipy_quat_from_matrix(&quat_matrix(q)))
            }
            TaskKind::PickOutOfHole | TaskKind::BinPicking => (pos, wxyz(q)),
            TaskKind::Disassemble => {
                // obs[4:7] is the handle site, nut-local (0, -0.13, 0).
                let m = quat_matrix(q);
                let h = [
                    pos[0] - 0.13 * m[0][1],
                    pos[1] - 0.13 * m[1][1],
                    pos[2] - 0.13 * m[2][1],
                ];
                (h, wxyz(q))
            }
        };
        f[4..7].copy_from_slice(&p);
        f[7..11].copy_from_slice(&quat);
        f
    }

    fn assemble_obs(&self, frame: &[f64; 18]) -> [f64; OBS_DIM] {
        let mut o = [0.0; OBS_DIM];
        o[..18].copy_from_slice(frame);
        o[18..36].copy_from_slice(&self.prev_frame);
        let (lo, hi) = self.task.goal_space();
        for i in 0..3 {
            o[36 + i] = self.placement.target_pos[i].clamp(lo[i], hi[i]);
        }
        o
    }

    pub fn task(&self) -> TaskKind {
        self.task
    }
    pub fn placement(&self) -> &Placement {
        &self.placement
    }
    pub fn world(&self) -> &SawyerWorld {
        &self.world
    }
    pub fn init_tcp(&self) -> [f64; 3] {
        self.init_tcp
    }
    /// The observation returned by the last `reset` or `step`.
    pub fn last_obs(&self) -> &[f64; OBS_DIM] {
        &self.last_obs
    }
    /// Steps taken since reset.
    pub fn curr_path_length(&self) -> usize {
        self.curr_path_length
    }
}

impl Env {
    /// The object's body origin and rotation that `obs` records (obs[4:11]: the body, or for
    /// disassemble the handle site 0.13 m along the nut's -y; the quaternion in scipy's x, y, z,
    /// w order for reach, push, pick-place and shelf-place, MuJoCo's w, x, y, z for the others).
    pub fn object_pose_from_obs(&self, obs: &[f64; OBS_DIM]) -> ([f64; 3], Quat) {
        let o = |i: usize| obs[i] as f32;
        let q = match self.task {
            TaskKind::Reach | TaskKind::Push | TaskKind::PickPlace | TaskKind::ShelfPlace => {
                Quat::from_xyzw(o(7), o(8), o(9), o(10))
            }
            _ => Quat::from_xyzw(o(8), o(9), o(10), o(7)),
        };
        let q = if q.length_squared() > 1e-12 {
            q.normalize()
        } else {
            Quat::IDENTITY
        };
        let mut p = [obs[4], obs[5], obs[6]];
        if self.task == TaskKind::Disassemble {
            let m = quat_matrix(q);
            for (i, pi) in p.iter_mut().enumerate() {
                *pi += 0.13 * m[i][1];
            }
        }
        (p, q)
    }

    /// The scene `obs` records, rebuilt on this environment's reset scene (its table, fixtures
    /// and goal): the hand, the drawn arm and the object as observed, the fingers at `fingers`
    /// (right, left joints, as `steps.jsonl` records them) or, without them, as
    /// [`crate::world::fingers_from_opening`] guesses from the claws' distance. Replays of run
    /// folders draw recorded steps with it, without simulating.
    pub fn shapes_from_obs(
        &self,
        obs: &[f64; OBS_DIM],
        fingers: Option<[f64; 2]>,
    ) -> Vec<crate::world::ShapeInstance> {
        let hand = [obs[0], obs[1], obs[2]];
        let fingers = match fingers {
            Some([r, l]) => (r, l),
            None => {
                let opening = obs[3] * 0.1;
                // The observed object (for disassemble its handle) between the claws: a grasp.
                let between = (obs[4] - hand[0]).abs() < 0.03
                    && (obs[5] - hand[1]).abs() < opening / 2.0
                    && obs[6] > hand[2] - 0.1
                    && obs[6] < hand[2] + 0.01;
                crate::world::fingers_from_opening(opening, between.then(|| obs[5] - hand[1]))
            }
        };
        self.world
            .shapes_posed(hand, fingers, self.object_pose_from_obs(obs))
    }
}

fn wxyz(q: Quat) -> [f64; 4] {
    [q.w as f64, q.x as f64, q.y as f64, q.z as f64]
}

/// scipy's `Rotation.from_matrix(m).as_quat()` (x, y, z, w), not canonicalised (facts §1.5).
pub fn scipy_quat_from_matrix(m: &[[f64; 3]; 3]) -> [f64; 4] {
    let tr = m[0][0] + m[1][1] + m[2][2];
    let d = [m[0][0], m[1][1], m[2][2], tr];
    let mut c = 0;
    for k in 1..4 {
        if d[k] > d[c] {
            c = k;
        }
    }
    let mut q = [0.0; 4];
    if c == 3 {
        q = [
            m[2][1] - m[1][2],
            m[0][2] - m[2][0],
            m[1][0] - m[0][1],
            1.0 + tr,
        ];
    } else {
        let i = c;
        let j = (i + 1) % 3;
        let k = (j + 1) % 3;
        q[i] = 1.0 - tr + 2.0 * m[i][i];
        q[j] = m[j][i] + m[i][j];
        q[k] = m[k][i] + m[i][k];
        q[3] = m[k][j] - m[j][k];
    }
    let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    [q[0] / n, q[1] / n, q[2] / n, q[3] / n]
}
