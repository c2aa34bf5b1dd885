//! The reward field: `r_fb` if the hand (or the object) were at each cell of a grid over the
//! table, the rest of the state unchanged. It shows where the frame-level reward pulls.
//!
//! With the 39-d observation as F's state, "were at" is an edit of the observation, no
//! re-render: the subject's position in the current frame (`obs[0..3]` for the hand,
//! `obs[4..7]` for the object) and in the previous frame (`obs[18..21]`, `obs[22..25]`) are set
//! to the cell, so the subject stands still there; its height stays as it is. Every cell is
//! scored with the same action (the caller's: the policy's current action, or zero), the whole
//! grid in one batch.
//!
//! With camera frames as F's state ([`reward_field_frames`]), the scene is re-rendered once per
//! cell with the subject moved there (`genreward_sim::world::moved_shapes`: the hand with its
//! fingers and drawn arm, or every object part; nothing simulated), and the frames are encoded
//! and scored in one batch.

use crate::fb::StepTerm;
use crate::RewardError;
use genreward_sim::OBS_DIM;

/// Whose position the field moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldSubject {
    Hand,
    Object,
}

impl FieldSubject {
    /// Index of the subject's x in the current frame of the observation.
    fn offset(self) -> usize {
        match self {
            FieldSubject::Hand => 0,
            FieldSubject::Object => 4,
        }
    }
}

impl std::fmt::Display for FieldSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FieldSubject::Hand => "hand",
            FieldSubject::Object => "object",
        })
    }
}

impl std::str::FromStr for FieldSubject {
    type Err = RewardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "hand" => Ok(FieldSubject::Hand),
            "object" | "obj" => Ok(FieldSubject::Object),
            other => Err(RewardError::Invalid(format!(
                "unknown field subject '{other}' (known: hand, object)"
            ))),
        }
    }
}

/// A grid of `nx x ny` cell centres over `[x0, x1] x [y0, y1]` (world metres, table plane).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FieldGrid {
    pub x: [f64; 2],
    pub y: [f64; 2],
    pub nx: usize,
    pub ny: usize,
}

impl FieldGrid {
    /// The hand's reachable box of the task (Meta-World's `hand_low`/`hand_high`) in x and y,
    /// `n x n` cells.
    pub fn over_hand_box(task: genreward_sim::TaskKind, n: usize) -> FieldGrid {
        let (lo, hi) = (task.hand_low(), task.hand_high());
        FieldGrid {
            x: [lo[0], hi[0]],
            y: [lo[1], hi[1]],
            nx: n,
            ny: n,
        }
    }

    /// Centre of cell (i, j), i along x, j along y.
    pub fn centre(&self, i: usize, j: usize) -> (f64, f64) {
        let cx = self.x[0] + (i as f64 + 0.5) * (self.x[1] - self.x[0]) / self.nx as f64;
        let cy = self.y[0] + (j as f64 + 0.5) * (self.y[1] - self.y[0]) / self.ny as f64;
        (cx, cy)
    }
}

/// The field: `values[j * nx + i]` is r_fb with the subject at cell (i, j).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RewardField {
    pub grid: FieldGrid,
    pub subject: FieldSubject,
    pub values: Vec<f64>,
    /// Milliseconds to score the grid.
    pub ms: f64,
}

impl RewardField {
    /// Smallest and largest value.
    pub fn range(&self) -> (f64, f64) {
        self.values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            })
    }

    /// The cell centre with the largest value.
    pub fn argmax(&self) -> (f64, f64) {
        let k = (0..self.values.len())
            .max_by(|&a, &b| self.values[a].total_cmp(&self.values[b]))
            .unwrap_or(0);
        self.grid.centre(k % self.grid.nx, k / self.grid.nx)
    }

    /// Bilinear value at world (x, y); `None` outside the grid's cell centres' hull.
    pub fn sample(&self, x: f64, y: f64) -> Option<f64> {
        let g = &self.grid;
        let fx = (x - g.x[0]) / (g.x[1] - g.x[0]) * g.nx as f64 - 0.5;
        let fy = (y - g.y[0]) / (g.y[1] - g.y[0]) * g.ny as f64 - 0.5;
        if !(fx >= 0.0 && fy >= 0.0 && fx <= (g.nx - 1) as f64 && fy <= (g.ny - 1) as f64) {
            return None;
        }
        let (i, j) = (
            (fx as usize).min(g.nx.saturating_sub(2)),
            (fy as usize).min(g.ny.saturating_sub(2)),
        );
        let (tx, ty) = (fx - i as f64, fy - j as f64);
        let v = |i: usize, j: usize| self.values[j * g.nx + i];
        if g.nx < 2 || g.ny < 2 {
            return Some(v(0, 0));
        }
        Some(
            (1.0 - ty) * ((1.0 - tx) * v(i, j) + tx * v(i + 1, j))
                + ty * ((1.0 - tx) * v(i, j + 1) + tx * v(i + 1, j + 1)),
        )
    }
}

/// The states of the field: `obs` with the subject moved to every cell (row-major, y outer).
pub fn field_states(obs: &[f64; OBS_DIM], subject: FieldSubject, grid: &FieldGrid) -> Vec<f32> {
    let o = subject.offset();
    let mut out = Vec::with_capacity(grid.nx * grid.ny * OBS_DIM);
    for j in 0..grid.ny {
        for i in 0..grid.nx {
            let (x, y) = grid.centre(i, j);
            let mut s = *obs;
            s[o] = x;
            s[o + 1] = y;
            s[18 + o] = x;
            s[18 + o + 1] = y;
            s[18 + o + 2] = s[o + 2];
            out.extend(s.iter().map(|&v| v as f32));
        }
    }
    out
}

/// Where the subject stands in each cell (row-major, y outer): the cell centre, at the height
/// `now` has.
pub fn field_positions(now: [f64; 3], grid: &FieldGrid) -> Vec<[f64; 3]> {
    let mut out = Vec::with_capacity(grid.nx * grid.ny);
    for j in 0..grid.ny {
        for i in 0..grid.nx {
            let (x, y) = grid.centre(i, j);
            out.push([x, y, now[2]]);
        }
    }
    out
}

/// r_fb over `grid` for an FB model that reads camera frames: `frames[k]` (`w x h` RGB) shows
/// the scene with the subject at cell `k` of [`field_positions`]; all are encoded and scored with
/// `action` in one batch. `ms` counts the encoding and the scoring.
#[allow(clippy::too_many_arguments)]
pub fn reward_field_frames(
    term: &mut dyn StepTerm,
    frames: &[&[u8]],
    w: u32,
    h: u32,
    action: &[f64; 4],
    subject: FieldSubject,
    grid: &FieldGrid,
) -> Result<RewardField, RewardError> {
    if term.state_kind() != crate::features::StateKind::Frame {
        return Err(RewardError::Invalid(
            "this FB model reads the 39-d observation: use reward_field, no re-rendering needed"
                .into(),
        ));
    }
    let n = grid.nx * grid.ny;
    if n == 0 || frames.len() != n {
        return Err(RewardError::Invalid(format!(
            "the field's grid has {n} cells but {} frames were rendered",
            frames.len()
        )));
    }
    let t0 = std::time::Instant::now();
    let states = term.frame_states(frames, w, h)?;
    let encode_ms = t0.elapsed().as_secs_f64() * 1e3;
    let actions: Vec<f32> = (0..n).flat_map(|_| action.map(|v| v as f32)).collect();
    let values = term.score(&states, &actions)?;
    Ok(RewardField {
        grid: *grid,
        subject,
        values,
        ms: encode_ms + term.last_ms(),
    })
}

/// r_fb over `grid` with the subject moved, every cell scored with `action`, in one batch.
pub fn reward_field(
    term: &mut dyn StepTerm,
    obs: &[f64; OBS_DIM],
    action: &[f64; 4],
    subject: FieldSubject,
    grid: &FieldGrid,
) -> Result<RewardField, RewardError> {
    if term.state_kind() != crate::features::StateKind::Obs39 {
        return Err(RewardError::Invalid(
            "this FB model reads camera frames: re-render the scene per cell and use reward_field_frames".into(),
        ));
    }
    if grid.nx == 0 || grid.ny == 0 {
        return Err(RewardError::Invalid(
            "the field's grid needs at least one cell".into(),
        ));
    }
    let states = field_states(obs, subject, grid);
    let n = grid.nx * grid.ny;
    let actions: Vec<f32> = (0..n).flat_map(|_| action.map(|v| v as f32)).collect();
    let values = term.score(&states, &actions)?;
    Ok(RewardField {
        grid: *grid,
        subject,
        values,
        ms: term.last_ms(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A term that pays minus the squared distance of the hand (state 0, 1) from (0.1, 0.7).
    struct Bowl(f64);
    impl StepTerm for Bowl {
        fn name(&self) -> &'static str {
            "bowl"
        }
        fn score(&mut self, s: &[f32], _a: &[f32]) -> Result<Vec<f64>, RewardError> {
            Ok(s.chunks(OBS_DIM)
                .map(|c| {
                    // The previous frame must move with the current one.
                    assert_eq!((c[0], c[1]), (c[18], c[19]));
                    -((c[0] as f64 - 0.1).powi(2) + (c[1] as f64 - 0.7).powi(2))
                })
                .collect())
        }
        fn set_goal(&mut self, _g: &[u8]) -> Result<(), crate::RewardError> {
            Ok(())
        }
        fn state_kind(&self) -> crate::features::StateKind {
            crate::features::StateKind::Obs39
        }
        fn frame_states(
            &self,
            _f: &[&[u8]],
            _w: u32,
            _h: u32,
        ) -> Result<Vec<f32>, crate::RewardError> {
            Ok(Vec::new())
        }
        fn last_ms(&self) -> f64 {
            self.0
        }
    }

    #[test]
    fn field_moves_the_subject_and_finds_the_peak() {
        let mut obs = [0.0; OBS_DIM];
        obs[genreward_sim::obs::HAND.start + 2] = 0.2;
        obs[genreward_sim::obs::OBJECT.start] = 0.3;
        let grid = FieldGrid {
            x: [-0.5, 0.5],
            y: [0.4, 1.0],
            nx: 20,
            ny: 12,
        };
        let f = reward_field(&mut Bowl(1.0), &obs, &[0.0; 4], FieldSubject::Hand, &grid).unwrap();
        assert_eq!(f.values.len(), 240);
        let (x, y) = f.argmax();
        assert!(
            (x - 0.1).abs() <= 0.0251 && (y - 0.7).abs() <= 0.0251,
            "{x} {y}"
        );
        // Within half a cell of the bowl's centre. Cell (0, 0) is the low corner; bilinear
        // sampling gives the cell value at its centre.
        let (cx, cy) = grid.centre(0, 0);
        assert!((cx + 0.475).abs() < 1e-12 && (cy - 0.425).abs() < 1e-12);
        assert!((f.sample(cx, cy).unwrap() - f.values[0]).abs() < 1e-12);
        assert!(f.sample(-0.49, 0.5).is_none());
        let states = field_states(&obs, FieldSubject::Object, &grid);
        assert_eq!(states[2], 0.2, "the hand stays where it is");
        assert_eq!((states[4], states[22]), (-0.475, -0.475));
    }
}
