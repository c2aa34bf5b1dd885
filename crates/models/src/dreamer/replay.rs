//! The agent's replay: one stream of steps per environment (episodes back to back, marked by
//! `is_first`), sequences of fixed length sampled uniformly from them, each stream kept to a
//! capacity (oldest steps dropped first).

use super::world::{Batch, IMAGE};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use rand::Rng;
use std::collections::VecDeque;

/// One step as the agent saw it: the frame (64x64 RGB, row-major HWC), the state vector, the
/// action it took after seeing them, and the reward and flags of arriving at the frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub frame: Vec<u8>,
    pub vector: Vec<f32>,
    pub action: Vec<f32>,
    pub reward: f32,
    pub is_first: bool,
    pub is_terminal: bool,
    /// Goal features of the step's reward-camera frame, for an FB representation training on
    /// the replay (empty otherwise).
    pub goal: Vec<f32>,
}

/// A step the replay cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("replay frames are {IMAGE}x{IMAGE} RGB ({want} bytes), not {got} bytes", want = IMAGE * IMAGE * 3, got = .0)]
    FrameBytes(usize),
    #[error("environment {env} of a replay of {envs}")]
    Env { env: usize, envs: usize },
}

pub struct Replay {
    streams: Vec<VecDeque<Step>>,
    capacity: usize,
    /// Steps ever added.
    pub added: u64,
}

impl Replay {
    /// `envs` streams of at most `capacity_per_env` steps each.
    pub fn new(envs: usize, capacity_per_env: usize) -> Self {
        Replay {
            streams: (0..envs).map(|_| VecDeque::new()).collect(),
            capacity: capacity_per_env.max(1),
            added: 0,
        }
    }

    /// Appends `step` to environment `env`'s stream; a frame that is not 64x64 RGB, or an `env`
    /// past the streams, is an error and nothing is stored.
    pub fn push(&mut self, env: usize, step: Step) -> Result<(), ReplayError> {
        if step.frame.len() != IMAGE * IMAGE * 3 {
            return Err(ReplayError::FrameBytes(step.frame.len()));
        }
        let envs = self.streams.len();
        let s = self
            .streams
            .get_mut(env)
            .ok_or(ReplayError::Env { env, envs })?;
        if s.len() == self.capacity {
            s.pop_front();
        }
        s.push_back(step);
        self.added += 1;
        Ok(())
    }

    /// Steps held.
    pub fn len(&self) -> usize {
        self.streams.iter().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `batch` sequences of `length` consecutive steps, uniformly over every start that fits;
    /// `None` until some stream holds `length` steps. A sequence may cross an episode boundary
    /// (the world model resets on `is_first`).
    pub fn sample(
        &self,
        rng: &mut impl Rng,
        batch: usize,
        length: usize,
    ) -> Option<Vec<Vec<&Step>>> {
        let starts: Vec<usize> = self
            .streams
            .iter()
            .map(|s| (s.len() + 1).saturating_sub(length))
            .collect();
        let total: usize = starts.iter().sum();
        if total == 0 {
            return None;
        }
        let out = (0..batch)
            .map(|_| {
                let mut k = rng.random_range(0..total);
                let mut env = 0;
                while k >= starts[env] {
                    k -= starts[env];
                    env += 1;
                }
                let s = &self.streams[env];
                (k..k + length).map(|i| &s[i]).collect()
            })
            .collect();
        Some(out)
    }
}

/// Frames `[N, 3, 64, 64]` in [0, 1] from HWC uint8 frames.
pub fn frames_to_tensor<B: Backend>(frames: &[&[u8]], device: &B::Device) -> Tensor<B, 4> {
    let n = frames.len();
    let mut data = Vec::with_capacity(n * 3 * IMAGE * IMAGE);
    for f in frames {
        for c in 0..3 {
            data.extend((0..IMAGE * IMAGE).map(|p| f[p * 3 + c] as f32 / 255.0));
        }
    }
    Tensor::from_data(TensorData::new(data, [n, 3, IMAGE, IMAGE]), device)
}

/// The world model's batch `[B, T, ..]` from sampled sequences (the state vectors only when
/// `with_vector`: their entries `dims`, in that order, or all of them for `None`).
pub fn to_batch<B: Backend>(
    seqs: &[Vec<&Step>],
    with_vector: bool,
    dims: Option<&[usize]>,
    device: &B::Device,
) -> Batch<B> {
    let (b, t) = (seqs.len(), seqs[0].len());
    let steps: Vec<&Step> = seqs.iter().flatten().copied().collect();
    let frames: Vec<&[u8]> = steps.iter().map(|s| s.frame.as_slice()).collect();
    let image = frames_to_tensor::<B>(&frames, device).reshape([b, t, 3, IMAGE, IMAGE]);
    let a = steps[0].action.len();
    let flat = |f: &dyn Fn(&Step) -> f32| -> Tensor<B, 2> {
        let v: Vec<f32> = steps.iter().map(|s| f(s)).collect();
        Tensor::from_data(TensorData::new(v, [b, t]), device)
    };
    let action: Vec<f32> = steps
        .iter()
        .flat_map(|s| s.action.iter().copied())
        .collect();
    let vector = with_vector.then(|| {
        let v: Vec<f32> = match dims {
            Some(dims) => steps
                .iter()
                .flat_map(|s| dims.iter().map(|&i| s.vector[i]))
                .collect(),
            None => steps
                .iter()
                .flat_map(|s| s.vector.iter().copied())
                .collect(),
        };
        let d = v.len() / (b * t).max(1);
        Tensor::from_data(TensorData::new(v, [b, t, d]), device)
    });
    Batch {
        image,
        vector,
        action: Tensor::from_data(TensorData::new(action, [b, t, a]), device),
        reward: flat(&|s| s.reward),
        is_first: flat(&|s| s.is_first as u8 as f32),
        is_terminal: flat(&|s| s.is_terminal as u8 as f32),
    }
}
