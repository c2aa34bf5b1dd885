//! DreamerV3 (Hafner et al., 2023) in burn: the pieces the world model and the actor-critic are
//! built from. The reference implementation (danijar/dreamerv3) was read for facts
//! (`docs/dreamerv3-facts.md`); the code is ours.
//!
//! - [`dist`]: symlog / symexp, two-hot regression over fixed bins, categorical latents with
//!   unimix and straight-through samples, the balanced KL losses with free nats;
//! - [`moments`]: the return normalisation by the 5th-95th percentile range (EMA).

pub mod dist;
pub mod moments;

pub use dist::{
    categorical_kl, kl_losses, sample_straight_through, symexp, symlog, unimix_probs, TwoHot,
};
pub use moments::Moments;
