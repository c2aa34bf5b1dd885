//! Reading Meta-World fixture records (`shared/fixtures/metaworld/*.jsonl`) and
//! replaying them through [`crate::env_reward::evaluate`] and
//! [`crate::expert::expert_action`] (parity check).
//!
//! One JSON object per line, one line per `env.step` call; see the fixture README for
//! the field list. Arrays are parsed into fixed-size `[f64; N]`, so a wrong length is
//! a parse error. Numbers parse bit-exactly (serde_json's `float_roundtrip`).

use crate::env_reward::{self as reward, RewardInfo, RewardInput};
use crate::expert::expert_action;
use crate::task::TaskKind;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Tolerance on continuous terms (reward, info floats, expert action) in a parity check.
pub const PARITY_TOLERANCE: f64 = 1e-6;

/// Deserialize a JSON array of exactly `N` numbers (serde only implements arrays up to 32).
fn de_array<'de, D, const N: usize>(d: D) -> Result<[f64; N], D::Error>
where
    D: Deserializer<'de>,
{
    struct V<const N: usize>;
    impl<'de, const N: usize> serde::de::Visitor<'de> for V<N> {
        type Value = [f64; N];
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "an array of {N} numbers")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<[f64; N], A::Error> {
            let mut out = [0.0; N];
            for (i, slot) in out.iter_mut().enumerate() {
                *slot = seq
                    .next_element()?
                    .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
            }
            if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                return Err(serde::de::Error::invalid_length(N + 1, &self));
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V::<N>)
}

/// Deserialize a task name (`"pick-place-v3"`, `"pick-place"`, ...) into a [`TaskKind`].
fn de_task<'de, D: Deserializer<'de>>(d: D) -> Result<TaskKind, D::Error> {
    let s = String::deserialize(d)?;
    TaskKind::from_str(&s).map_err(serde::de::Error::custom)
}

/// The info dict of one step (all entries as floats).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
pub struct FixtureInfo {
    pub success: f64,
    pub near_object: f64,
    pub grasp_success: f64,
    pub grasp_reward: f64,
    pub in_place_reward: f64,
    pub obj_to_target: f64,
    pub unscaled_reward: f64,
}

impl From<FixtureInfo> for RewardInfo {
    fn from(i: FixtureInfo) -> Self {
        RewardInfo {
            reward: i.unscaled_reward,
            success: i.success,
            near_object: i.near_object,
            grasp_success: i.grasp_success,
            grasp_reward: i.grasp_reward,
            in_place_reward: i.in_place_reward,
            obj_to_target: i.obj_to_target,
            unscaled_reward: i.unscaled_reward,
        }
    }
}

/// State right after `env.reset()` (present on `step == 0` lines). Unknown fields are
/// ignored.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ResetRecord {
    #[serde(deserialize_with = "de_array")]
    pub obs: [f64; 39],
    pub qpos: [f64; 16],
    pub qvel: [f64; 15],
    pub mocap_pos: [f64; 3],
    #[serde(default)]
    pub mocap_quat: Option<[f64; 4]>,
    pub hand_pos: [f64; 3],
    pub tcp_center: [f64; 3],
    pub left_pad: [f64; 3],
    pub right_pad: [f64; 3],
    #[serde(default)]
    pub left_claw: Option<[f64; 3]>,
    #[serde(default)]
    pub right_claw: Option<[f64; 3]>,
    pub obj_pos: [f64; 3],
    pub rand_vec: [f64; 6],
    pub hand_init_pos: [f64; 3],
    pub init_tcp: [f64; 3],
    pub obj_init_pos: [f64; 3],
    pub target_pos: [f64; 3],
    /// Shelf-place: model position of body `shelf`.
    #[serde(default)]
    pub shelf_body_pos: Option<[f64; 3]>,
    /// Disassemble: model position of body `peg`.
    #[serde(default)]
    pub peg_body_pos: Option<[f64; 3]>,
    /// Disassemble: nut origin at reset.
    #[serde(default)]
    pub wrench_center: Option<[f64; 3]>,
    /// Bin-picking: position of body `bin_goal`.
    #[serde(default)]
    pub bin_goal_body_pos: Option<[f64; 3]>,
}

/// One fixture line = one `env.step` call.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FixtureLine {
    #[serde(deserialize_with = "de_task")]
    pub task: TaskKind,
    pub seed: u64,
    pub episode: u64,
    pub noise_std: f64,
    pub step: u64,
    /// Observation the policy saw (pre-step).
    #[serde(deserialize_with = "de_array")]
    pub obs: [f64; 39],
    /// `policy.get_action(obs)` (float32 values, unclipped).
    pub expert_action: [f64; 4],
    /// The action passed to `env.step`.
    pub action: [f64; 4],
    /// Observation returned by the step (clipped); the reward reads it.
    #[serde(deserialize_with = "de_array")]
    pub next_obs: [f64; 39],
    pub reward: f64,
    #[serde(default)]
    pub terminated: bool,
    #[serde(default)]
    pub truncated: bool,
    pub info: FixtureInfo,
    pub tcp_center: [f64; 3],
    pub left_pad: [f64; 3],
    pub right_pad: [f64; 3],
    pub mocap_pos: [f64; 3],
    pub hand_init_pos: [f64; 3],
    pub init_tcp: [f64; 3],
    pub obj_init_pos: [f64; 3],
    pub target_pos: [f64; 3],
    pub curr_path_length: u64,
    /// Pick-place: the "initial" pads as the reward reads them (= live pads).
    #[serde(default)]
    pub init_left_pad: Option<[f64; 3]>,
    #[serde(default)]
    pub init_right_pad: Option<[f64; 3]>,
    /// Push / pick-place / shelf-place.
    #[serde(default)]
    pub touching_main_object: Option<bool>,
    /// Bin-picking's cached in-place margin.
    #[serde(default)]
    pub target_to_obj_init: Option<f64>,
    /// Disassemble: nut origin (site `RoundNut`).
    #[serde(default)]
    pub wrench_center: Option<[f64; 3]>,
    /// Reset state (only on `step == 0` lines).
    #[serde(default)]
    pub reset: Option<ResetRecord>,
}

impl FixtureLine {
    /// What the task's reward reads for this step. Missing task-specific fields fall
    /// back to: not touching; NaN bin-picking margin (so the check fails loudly);
    /// the nut origin reconstructed from `next_obs`.
    pub fn reward_input(&self) -> RewardInput {
        RewardInput {
            obs: self.next_obs,
            action: self.action,
            tcp_center: self.tcp_center,
            left_pad: self.left_pad,
            right_pad: self.right_pad,
            init_tcp: self.init_tcp,
            obj_init_pos: self.obj_init_pos,
            target_pos: self.target_pos,
            hand_init_pos: self.hand_init_pos,
            touching_main_object: self.touching_main_object.unwrap_or(false),
            target_to_obj_init: self.target_to_obj_init.unwrap_or(f64::NAN),
            wrench_center: self
                .wrench_center
                .unwrap_or_else(|| reward::nut_origin_from_obs(&self.next_obs)),
        }
    }

    /// The recorded reward and info as a [`RewardInfo`].
    pub fn recorded(&self) -> RewardInfo {
        RewardInfo {
            reward: self.reward,
            ..RewardInfo::from(self.info)
        }
    }
}

/// Errors while reading fixtures. Every message is one line naming the file (and the
/// 1-based line number where it applies).
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("fixture directory {} does not exist or is not a directory", dir.display())]
    MissingDir { dir: PathBuf },
    #[error("no *.jsonl fixture files in {}", dir.display())]
    NoFixtures { dir: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: malformed fixture record: {detail}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        detail: String,
    },
    #[error("{}:{line}: unknown task name '{name}'", path.display())]
    UnknownTask {
        path: PathBuf,
        line: usize,
        name: String,
    },
}

/// Describe a serde_json error without its "at line 1 column N" suffix (each record is
/// a single line, so only the column is informative).
fn describe_json_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match msg.strip_suffix(&suffix) {
        Some(m) => format!("{m} (column {})", e.column()),
        None => msg,
    }
}

/// Parse one line (1-based `line_no`) of `path`.
fn parse_line(path: &Path, line_no: usize, text: &str) -> Result<FixtureLine, FixtureError> {
    serde_json::from_str::<FixtureLine>(text).map_err(|e| {
        // Tell an unknown task name apart from other malformed records.
        #[derive(Deserialize)]
        struct TaskOnly {
            task: String,
        }
        if let Ok(t) = serde_json::from_str::<TaskOnly>(text) {
            if TaskKind::from_str(&t.task).is_err() {
                return FixtureError::UnknownTask {
                    path: path.to_path_buf(),
                    line: line_no,
                    name: t.task,
                };
            }
        }
        FixtureError::Malformed {
            path: path.to_path_buf(),
            line: line_no,
            detail: describe_json_error(&e),
        }
    })
}

/// Read every record of one JSONL fixture file (blank lines are skipped).
pub fn read_fixture_file(path: &Path) -> Result<Vec<FixtureLine>, FixtureError> {
    Ok(read_numbered(path)?.into_iter().map(|(_, l)| l).collect())
}

/// Records of `path` with their 1-based line numbers.
fn read_numbered(path: &Path) -> Result<Vec<(usize, FixtureLine)>, FixtureError> {
    let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push((i + 1, parse_line(path, i + 1, line)?));
    }
    Ok(out)
}

/// The `*.jsonl` files of `dir`, sorted by name.
pub fn fixture_files(dir: &Path) -> Result<Vec<PathBuf>, FixtureError> {
    if !dir.is_dir() {
        return Err(FixtureError::MissingDir {
            dir: dir.to_path_buf(),
        });
    }
    let entries = std::fs::read_dir(dir).map_err(|source| FixtureError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| FixtureError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "jsonl") && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(FixtureError::NoFixtures {
            dir: dir.to_path_buf(),
        });
    }
    files.sort();
    Ok(files)
}

// ---------------------------------------------------------------------------------
// Parity

/// Parity statistics of one task.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskParity {
    /// Task name, e.g. `pick-place`.
    pub task: String,
    pub lines: usize,
    /// Distinct (seed, episode) pairs.
    pub episodes: usize,
    pub max_err_reward: f64,
    /// Max |error| of `near_object` (for flag tasks this is 0 or 1).
    pub max_err_near_object: f64,
    pub max_err_grasp_reward: f64,
    pub max_err_in_place_reward: f64,
    pub max_err_obj_to_target: f64,
    pub max_err_unscaled_reward: f64,
    /// Max |ours − recorded| over the four expert-action components.
    pub max_err_expert_action: f64,
    pub success_mismatches: usize,
    pub grasp_success_mismatches: usize,
    /// `None` for tasks where `near_object` is continuous (reach, disassemble).
    pub near_object_mismatches: Option<usize>,
    /// Where the first out-of-tolerance value or flag mismatch was seen
    /// (`file:line: term ours=… recorded=…`).
    pub first_failure: Option<String>,
}

impl TaskParity {
    fn new(task: TaskKind) -> Self {
        TaskParity {
            task: task.name().to_string(),
            lines: 0,
            episodes: 0,
            max_err_reward: 0.0,
            max_err_near_object: 0.0,
            max_err_grasp_reward: 0.0,
            max_err_in_place_reward: 0.0,
            max_err_obj_to_target: 0.0,
            max_err_unscaled_reward: 0.0,
            max_err_expert_action: 0.0,
            success_mismatches: 0,
            grasp_success_mismatches: 0,
            near_object_mismatches: if near_object_is_flag(task) {
                Some(0)
            } else {
                None
            },
            first_failure: None,
        }
    }

    /// The continuous errors, all within `tolerance`, and no flag mismatch.
    pub fn passed(&self, tolerance: f64) -> bool {
        let errs = [
            self.max_err_reward,
            self.max_err_grasp_reward,
            self.max_err_in_place_reward,
            self.max_err_obj_to_target,
            self.max_err_unscaled_reward,
            self.max_err_expert_action,
        ];
        let near_ok = match self.near_object_mismatches {
            Some(n) => n == 0,
            None => self.max_err_near_object <= tolerance,
        };
        self.lines > 0
            && errs.iter().all(|&e| e <= tolerance)
            && near_ok
            && self.success_mismatches == 0
            && self.grasp_success_mismatches == 0
    }
}

/// Whether the task reports `near_object` as a 0/1 flag.
pub fn near_object_is_flag(task: TaskKind) -> bool {
    matches!(
        task,
        TaskKind::Push
            | TaskKind::PickPlace
            | TaskKind::PickOutOfHole
            | TaskKind::BinPicking
            | TaskKind::ShelfPlace
    )
}

/// Result of replaying a fixture directory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParityReport {
    pub dir: PathBuf,
    /// File names replayed, sorted.
    pub files: Vec<String>,
    /// Tolerance applied to continuous terms.
    pub tolerance: f64,
    /// One entry per task, in the order first seen.
    pub tasks: Vec<TaskParity>,
}

impl ParityReport {
    /// Tolerance on continuous terms.
    pub const TOLERANCE: f64 = PARITY_TOLERANCE;

    /// Every task passed (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.tasks.is_empty() && self.tasks.iter().all(|t| t.passed(self.tolerance))
    }

    /// The entry of `task`, if any line of it was replayed.
    pub fn task(&self, task: TaskKind) -> Option<&TaskParity> {
        self.tasks.iter().find(|t| t.task == task.name())
    }
}

/// |a − b|, with NaN on either side (but not both equal) counted as infinite.
fn abs_err(ours: f64, recorded: f64) -> f64 {
    if ours == recorded || (ours.is_nan() && recorded.is_nan()) {
        return 0.0;
    }
    let d = (ours - recorded).abs();
    if d.is_nan() {
        f64::INFINITY
    } else {
        d
    }
}

/// Accumulates one task's statistics.
struct Acc {
    stats: TaskParity,
    episodes: BTreeSet<(u64, u64)>,
}

impl Acc {
    fn note_failure(&mut self, at: &str, term: &str, ours: f64, recorded: f64) {
        if self.stats.first_failure.is_none() {
            self.stats.first_failure =
                Some(format!("{at}: {term} ours={ours:e} recorded={recorded:e}"));
        }
    }

    fn cont(&mut self, tol: f64, at: &str, term: &str, ours: f64, recorded: f64) -> f64 {
        let e = abs_err(ours, recorded);
        if e > tol {
            self.note_failure(at, term, ours, recorded);
        }
        e
    }

    fn flag(&mut self, at: &str, term: &str, ours: f64, recorded: f64) -> usize {
        if ours == recorded {
            0
        } else {
            self.note_failure(at, term, ours, recorded);
            1
        }
    }

    fn add(&mut self, task: TaskKind, line: &FixtureLine, at: &str, tol: f64) {
        let ours = reward::evaluate(task, &line.reward_input());
        let rec = &line.info;
        self.stats.lines += 1;
        self.episodes.insert((line.seed, line.episode));

        let e = self.cont(tol, at, "reward", ours.reward, line.reward);
        self.stats.max_err_reward = self.stats.max_err_reward.max(e);
        let e = self.cont(
            tol,
            at,
            "unscaled_reward",
            ours.unscaled_reward,
            rec.unscaled_reward,
        );
        self.stats.max_err_unscaled_reward = self.stats.max_err_unscaled_reward.max(e);
        let e = self.cont(tol, at, "grasp_reward", ours.grasp_reward, rec.grasp_reward);
        self.stats.max_err_grasp_reward = self.stats.max_err_grasp_reward.max(e);
        let e = self.cont(
            tol,
            at,
            "in_place_reward",
            ours.in_place_reward,
            rec.in_place_reward,
        );
        self.stats.max_err_in_place_reward = self.stats.max_err_in_place_reward.max(e);
        let e = self.cont(
            tol,
            at,
            "obj_to_target",
            ours.obj_to_target,
            rec.obj_to_target,
        );
        self.stats.max_err_obj_to_target = self.stats.max_err_obj_to_target.max(e);

        if near_object_is_flag(task) {
            let m = self.flag(at, "near_object", ours.near_object, rec.near_object);
            if let Some(n) = self.stats.near_object_mismatches.as_mut() {
                *n += m;
            }
            let e = abs_err(ours.near_object, rec.near_object);
            self.stats.max_err_near_object = self.stats.max_err_near_object.max(e);
        } else {
            let e = self.cont(tol, at, "near_object", ours.near_object, rec.near_object);
            self.stats.max_err_near_object = self.stats.max_err_near_object.max(e);
        }
        self.stats.success_mismatches += self.flag(at, "success", ours.success, rec.success);
        self.stats.grasp_success_mismatches +=
            self.flag(at, "grasp_success", ours.grasp_success, rec.grasp_success);

        let a = expert_action(task, &line.obs);
        for (k, (&o, &r)) in a.iter().zip(line.expert_action.iter()).enumerate() {
            let e = self.cont(tol, at, &format!("expert_action[{k}]"), o as f64, r);
            self.stats.max_err_expert_action = self.stats.max_err_expert_action.max(e);
        }
    }
}

/// Replay every `*.jsonl` in `dir` (sorted by name) through [`reward::evaluate`] and
/// [`expert_action`], comparing with the recorded values.
pub fn parity_dir(dir: &Path) -> Result<ParityReport, FixtureError> {
    let files = fixture_files(dir)?;
    let mut order: Vec<TaskKind> = Vec::new();
    let mut accs: BTreeMap<&'static str, Acc> = BTreeMap::new();
    let tol = PARITY_TOLERANCE;
    for path in &files {
        let lines = read_numbered(path)?;
        let fname = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (line_no, line) in &lines {
            let task = line.task;
            let acc = accs.entry(task.name()).or_insert_with(|| {
                order.push(task);
                Acc {
                    stats: TaskParity::new(task),
                    episodes: BTreeSet::new(),
                }
            });
            let at = format!("{fname}:{line_no}");
            acc.add(task, line, &at, tol);
        }
    }
    let tasks = order
        .iter()
        .map(|t| {
            let acc = accs.remove(t.name()).expect("task accumulated");
            let mut s = acc.stats;
            s.episodes = acc.episodes.len();
            s
        })
        .collect();
    Ok(ParityReport {
        dir: dir.to_path_buf(),
        files: files
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect(),
        tolerance: tol,
        tasks,
    })
}

impl fmt::Display for ParityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Meta-World parity: {} ({} files, tolerance {:e})",
            self.dir.display(),
            self.files.len(),
            self.tolerance
        )?;
        writeln!(
            f,
            "{:<17} {:>6} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}  result",
            "task",
            "lines",
            "eps",
            "reward",
            "near_obj",
            "grasp_rw",
            "in_place",
            "obj2tgt",
            "unscaled",
            "expert",
            "succ_mm",
            "grasp_mm",
            "near_mm",
        )?;
        for t in &self.tasks {
            let near_mm = match t.near_object_mismatches {
                Some(n) => n.to_string(),
                None => "-".to_string(),
            };
            writeln!(
                f,
                "{:<17} {:>6} {:>4} {:>9.2e} {:>9.2e} {:>9.2e} {:>9.2e} {:>9.2e} {:>9.2e} {:>9.2e} {:>8} {:>8} {:>8}  {}",
                t.task,
                t.lines,
                t.episodes,
                t.max_err_reward,
                t.max_err_near_object,
                t.max_err_grasp_reward,
                t.max_err_in_place_reward,
                t.max_err_obj_to_target,
                t.max_err_unscaled_reward,
                t.max_err_expert_action,
                t.success_mismatches,
                t.grasp_success_mismatches,
                near_mm,
                if t.passed(self.tolerance) { "PASS" } else { "FAIL" },
            )?;
            if let Some(ff) = &t.first_failure {
                writeln!(f, "    first failure: {ff}")?;
            }
        }
        write!(
            f,
            "overall: {}",
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }
}
