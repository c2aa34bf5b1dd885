//! The VAE's training step: Adam on `mse + kl_weight * kl`, with the optimiser state saved
//! beside the weights so `--resume` continues the same run.

use crate::checkpoint::{self, CheckpointError};
use crate::vae::{vae_loss, VideoVae, VideoVaeConfig};
use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;
use std::path::Path;

/// Figures of one training step, averaged over the batch.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct StepStats {
    pub loss: f64,
    /// Per-pixel squared error on `[-1, 1]` images.
    pub mse: f64,
    /// KL per latent element.
    pub kl: f64,
}

/// The model and its optimiser.
pub struct VaeTrainer<B: AutodiffBackend> {
    pub model: VideoVae<B>,
    pub config: VideoVaeConfig,
    optim: OptimizerAdaptor<Adam, VideoVae<B>, B>,
    pub lr: f64,
}

impl<B: AutodiffBackend> VaeTrainer<B> {
    /// A fresh model (seeded through `B::seed` by the caller) and Adam.
    pub fn new(config: VideoVaeConfig, lr: f64, device: &B::Device) -> Self {
        VaeTrainer {
            model: config.init(device),
            config,
            optim: AdamConfig::new().init(),
            lr,
        }
    }

    /// One step on `batch` (`[B, 3, T, H, W]` in `[-1, 1]`): sample, decode, step Adam.
    pub fn step(&mut self, batch: Tensor<B, 5>) -> StepStats {
        let out = self.model.forward(batch.clone(), true);
        let (loss, mse, kl) = vae_loss(&out, batch, self.config.kl_weight);
        let stats = StepStats {
            loss: scalar(loss.clone()),
            mse: scalar(mse),
            kl: scalar(kl),
        };
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(self.lr, self.model.clone(), grads);
        stats
    }

    /// Squared error of the mean reconstruction of `batch`, without gradients.
    pub fn eval_mse(&self, batch: Tensor<B::InnerBackend, 5>) -> f64 {
        eval_mse(&self.model.valid(), batch)
    }

    /// Saves the model (config, weights, `meta`) and the optimiser state into `dir`.
    pub fn save(&self, dir: &Path, meta: &serde_json::Value) -> Result<(), CheckpointError> {
        checkpoint::save(dir, &self.model, &self.config, meta)?;
        checkpoint::save_record::<_, B>(dir, "optimizer", self.optim.to_record())
    }

    /// Restores a run saved by [`save`](Self::save): the weights, the config and Adam's moments.
    pub fn resume(dir: &Path, lr: f64, device: &B::Device) -> Result<Self, CheckpointError> {
        let ck = checkpoint::VaeCheckpoint::<B>::load(dir, None, device)?;
        let mut t = VaeTrainer {
            model: ck.model,
            config: ck.config,
            optim: AdamConfig::new().init(),
            lr,
        };
        let rec = checkpoint::load_record::<_, B>(dir, "optimizer", device)?;
        t.optim = t.optim.load_record(rec);
        Ok(t)
    }
}

/// Squared error of the mean reconstruction (no sampling) of `batch`.
pub fn eval_mse<B: burn::tensor::backend::Backend>(
    model: &VideoVae<B>,
    batch: Tensor<B, 5>,
) -> f64 {
    let out = model.forward(batch.clone(), false);
    scalar((out.recon - batch).powf_scalar(2.0).mean())
}

fn scalar<B: burn::tensor::backend::Backend>(t: Tensor<B, 1>) -> f64 {
    use burn::tensor::ElementConversion;
    t.into_scalar().elem::<f64>()
}
