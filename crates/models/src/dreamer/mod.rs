//! DreamerV3 (Hafner et al., 2023) in burn: the pieces the world model and the actor-critic are
//! built from. The reference implementation (danijar/dreamerv3) was read for facts
//! (`docs/dreamerv3-facts.md`); the code is ours.
//!
//! - [`dist`]: symlog / symexp, two-hot regression over fixed bins, categorical latents with
//!   unimix and straight-through samples, the balanced KL losses with free nats;
//! - [`moments`]: the return normalisation by the 5th-95th percentile range (EMA);
//! - [`optim`]: adaptive gradient clipping + LaProp, the reference's optimiser;
//! - [`replay`]: per-environment streams of steps, sequences sampled uniformly;
//! - [`returns`]: lambda returns;
//! - [`rssm`]: the recurrent state-space model (block GRU, categorical latents);
//! - [`meta`]: a checkpoint's `meta.json`, typed;
//! - [`agent`]: the agent (all of the above trained by one loss and optimiser) and acting;
//! - [`actor_critic`]: the actor, the critic and its slow copy, imagination and their losses;
//! - [`world`]: the world model (CNN encoder and decoder, reward and continue heads) and its
//!   loss.

pub mod actor_critic;
pub mod agent;
pub mod dist;
pub mod meta;
pub mod moments;
pub mod optim;
pub mod replay;
pub mod returns;
pub mod rssm;
pub mod world;

pub use agent::{load_agent, Agent, AgentConfig, Learner, TrainMetrics};
pub use dist::{
    categorical_kl, kl_losses, sample_straight_through, symexp, symlog, unimix_probs, TwoHot,
};
pub use meta::{DreamerEval, DreamerMeta, DREAMER_KIND};
pub use moments::Moments;
pub use replay::{Replay, Step};
pub use returns::lambda_returns;
pub use rssm::{Rssm, RssmConfig, State};
pub use world::{Batch, WorldLoss, WorldModel, WorldModelConfig};

/// The first value of a one-element tensor as `f64` (NaN when there is none).
pub(crate) fn scalar<B: burn::tensor::backend::Backend>(t: burn::tensor::Tensor<B, 1>) -> f64 {
    t.into_data()
        .to_vec::<f32>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(f32::NAN) as f64
}

/// The reference's size presets (`--size`), smallest first: the RSSM's `deter`, `hidden` and
/// `classes`, the CNN's base `depth` and the MLPs' `units` (32 categoricals and 8 GRU blocks in
/// all of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Size1m,
    Size12m,
    Size25m,
    Size50m,
    Size100m,
    Size200m,
    Size400m,
}

/// The numbers of one [`Preset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresetSizes {
    pub deter: usize,
    pub hidden: usize,
    pub classes: usize,
    pub depth: usize,
    pub units: usize,
}

impl Preset {
    pub const ALL: [Preset; 7] = [
        Preset::Size1m,
        Preset::Size12m,
        Preset::Size25m,
        Preset::Size50m,
        Preset::Size100m,
        Preset::Size200m,
        Preset::Size400m,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Size1m => "size1m",
            Preset::Size12m => "size12m",
            Preset::Size25m => "size25m",
            Preset::Size50m => "size50m",
            Preset::Size100m => "size100m",
            Preset::Size200m => "size200m",
            Preset::Size400m => "size400m",
        }
    }

    pub fn sizes(self) -> PresetSizes {
        let (deter, hidden, classes, depth, units) = match self {
            Preset::Size1m => (512, 64, 4, 4, 64),
            Preset::Size12m => (2048, 256, 16, 16, 256),
            Preset::Size25m => (3072, 384, 24, 24, 384),
            Preset::Size50m => (4096, 512, 32, 32, 512),
            Preset::Size100m => (6144, 768, 48, 48, 768),
            Preset::Size200m => (8192, 1024, 64, 64, 1024),
            Preset::Size400m => (12288, 1536, 96, 96, 1536),
        };
        PresetSizes {
            deter,
            hidden,
            classes,
            depth,
            units,
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
                format!("unknown size '{s}' (known: {})", names.join(", "))
            })
    }
}
