//! Can the agent's frame encoder place reach's goal at all, when it is taught to directly?
//! Trains DreamerV3's CNN encoder (a preset's, freshly initialised) with a linear head to
//! regress the goal position from single 64x64 frames, with the agent's optimiser (LaProp +
//! AGC) at its learning rate, and prints the held-out error in cm beside guessing the mean.
//! An upper bound on what the world model's state can learn of the goal from these frames at
//! that number of updates, and how fast: the RL world model gets the goal only through its
//! reconstruction, reward and state-target terms, behind the RSSM.
//!
//! Data: `genreward rollout --task reach --policy random --episodes 300 --seed 5000000
//! --max-steps 32 --camera front --size 64x64 --out DIR` (episodes' frames `obs_NNN.npy`,
//! their goals `obs[36:39]` in `steps.jsonl`). The last fifth of the episodes (other seeds,
//! so other goals) is held out.
//!
//! `cargo run --release -p genreward-models --example goal_readout -- DIR [size1m] [updates
//! 600] [batch 64] [lr 3e-4] [pool]`

use burn::backend::{Autodiff, Flex};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use genreward_models::dreamer::optim::LaPropConfig;
use genreward_models::dreamer::world::WorldModel;
use genreward_models::dreamer::{AgentConfig, Preset};
use rand::{Rng, SeedableRng};
use std::path::Path;

type AB = Autodiff<Flex>;

#[derive(Module, Debug)]
struct Readout<B: Backend> {
    world: WorldModel<B>,
    head: Linear<B>,
}

impl<B: Backend> Readout<B> {
    /// Frames `[N, 3, 64, 64]` in [0, 1] to the goal `[N, 3]` (standardised units).
    fn forward(&self, image: Tensor<B, 4>) -> Tensor<B, 2> {
        self.head.forward(self.world.encode(image, None))
    }
}

/// A uint8 `.npy` array of frames `[T, 64, 64, 3]`: its raw bytes and T.
fn read_npy(path: &Path) -> (Vec<u8>, usize) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[1..6],
        b"NUMPY",
        "{}: not an .npy file",
        path.display()
    );
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let data = bytes[10 + header_len..].to_vec();
    let t = data.len() / (64 * 64 * 3);
    (data, t)
}

struct Episode {
    frames: Vec<u8>,
    len: usize,
    goal: [f32; 3],
}

fn load(dir: &Path) -> Vec<Episode> {
    let steps = std::fs::read_to_string(dir.join("steps.jsonl")).expect("steps.jsonl");
    let mut goals = Vec::new();
    for line in steps.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        if v["step"] == 0 {
            let obs = v["obs"].as_array().expect("obs");
            let g = |i: usize| obs[i].as_f64().unwrap() as f32;
            goals.push([g(36), g(37), g(38)]);
        }
    }
    goals
        .into_iter()
        .enumerate()
        .map(|(i, goal)| {
            let (frames, len) = read_npy(&dir.join(format!("obs_{i:03}.npy")));
            Episode { frames, len, goal }
        })
        .collect()
}

/// Frames `[N, 3, 64, 64]` and standardised goals `[N, 3]` for (episode, step) picks.
fn batch(
    eps: &[Episode],
    picks: &[(usize, usize)],
    mean: [f32; 3],
    std: [f32; 3],
    d: &burn::tensor::Device<AB>,
) -> (Tensor<AB, 4>, Tensor<AB, 2>) {
    let n = picks.len();
    let mut img = Vec::with_capacity(n * 3 * 64 * 64);
    let mut goal = Vec::with_capacity(n * 3);
    for &(e, t) in picks {
        let f = &eps[e].frames[t * 64 * 64 * 3..(t + 1) * 64 * 64 * 3];
        for c in 0..3 {
            img.extend((0..64 * 64).map(|p| f[p * 3 + c] as f32 / 255.0));
        }
        goal.extend((0..3).map(|k| (eps[e].goal[k] - mean[k]) / std[k]));
    }
    (
        Tensor::from_data(TensorData::new(img, [n, 3, 64, 64]), d),
        Tensor::from_data(TensorData::new(goal, [n, 3]), d),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = Path::new(args.first().expect("a rollout folder"));
    let preset: Preset = args
        .get(1)
        .map_or("size1m", String::as_str)
        .parse()
        .expect("a preset");
    let num = |i: usize, default: f64| args.get(i).map_or(default, |s| s.parse().unwrap());
    let (updates, bsize, lr) = (num(2, 600.0) as usize, num(3, 64.0) as usize, num(4, 3e-4));
    let d = Default::default();
    let eps = load(dir);
    let split = eps.len() * 4 / 5;
    let (train, test) = eps.split_at(split);
    let mut mean = [0f32; 3];
    for e in train {
        for k in 0..3 {
            mean[k] += e.goal[k] / train.len() as f32;
        }
    }
    let mut std = [0f32; 3];
    for e in train {
        for k in 0..3 {
            std[k] += (e.goal[k] - mean[k]).powi(2) / train.len() as f32;
        }
    }
    let std = std.map(f32::sqrt);
    let mut cfg = AgentConfig::preset(preset, 4, 0).world;
    cfg.strided = !args.iter().any(|a| a == "pool");
    let world = cfg.init::<AB>(&d);
    let feat =
        genreward_models::dreamer::world::WorldModelConfig::embed_dim(cfg.depth, cfg.units, 0);
    let mut model = Readout {
        world,
        head: LinearConfig::new(feat, 3).init(&d),
    };
    let mut optim = LaPropConfig::new().init::<AB, Readout<AB>>();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    // Every held-out episode's frames at steps 0, 10, 20, 30 (the arm moves; the goal stays).
    let test_picks: Vec<(usize, usize)> = (0..test.len())
        .flat_map(|e| (0..test[e].len).step_by(10).map(move |t| (e, t)))
        .collect();
    let rms_cm = |pred: &[f32], picks: &[(usize, usize)], set: &[Episode]| -> f64 {
        let mut se = 0.0;
        for (i, &(e, _)) in picks.iter().enumerate() {
            for k in 0..3 {
                let g = pred[i * 3 + k] * std[k] + mean[k];
                se += ((g - set[e].goal[k]) as f64).powi(2);
            }
        }
        100.0 * (se / picks.len() as f64).sqrt()
    };
    let guess = vec![0f32; test_picks.len() * 3];
    println!(
        "{}",
        serde_json::json!({"train_episodes": train.len(), "test_episodes": test.len(),
            "mean_guess_cm": rms_cm(&guess, &test_picks, test), "preset": format!("{preset:?}"),
            "strided": cfg.strided, "batch": bsize, "lr": lr})
    );
    let t0 = std::time::Instant::now();
    for u in 1..=updates {
        let picks: Vec<(usize, usize)> = (0..bsize)
            .map(|_| {
                let e = rng.random_range(0..train.len());
                (e, rng.random_range(0..train[e].len))
            })
            .collect();
        let (img, goal) = batch(train, &picks, mean, std, &d);
        let loss = (model.forward(img) - goal).powi_scalar(2).mean();
        let train_loss = loss.clone().into_scalar() as f64;
        let grads = GradientsParams::from_grads::<AB, _>(loss.backward(), &model);
        model = optim.step(lr, model, grads);
        if u % 50 == 0 || u == updates {
            let mut pred = Vec::new();
            for chunk in test_picks.chunks(256) {
                let (img, _) = batch(test, chunk, mean, std, &d);
                pred.extend(model.forward(img).into_data().to_vec::<f32>().unwrap());
            }
            println!(
                "{}",
                serde_json::json!({"updates": u, "train_loss": train_loss,
                    "test_goal_cm": rms_cm(&pred, &test_picks, test),
                    "seconds": t0.elapsed().as_secs_f64()})
            );
        }
    }
}
