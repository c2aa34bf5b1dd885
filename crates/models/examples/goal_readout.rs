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
//! so other goals), at most 60, is held out.
//!
//! `cargo run --release -p genreward-models --example goal_readout -- DIR [size1m] [updates
//! 600] [batch 64] [lr 3e-4] [pool]`
//!
//! `... -- DIR world [updates 200] [state-target weight 1000] [embedding-head weight 0]
//! [batch 8] [length 32] [depth 4] [keypoints 0]`: the same question of the world model
//! itself, trained alone on the same episodes (no actor-critic) with the goal as its state
//! target (`--state-target W --state-dims goal`): every 25 updates, how well its vector head
//! places the goal from the posterior model state `[h, z]` on the held-out episodes (steps 8
//! on, after the model has seen some frames). With an embedding-head weight, a linear head on
//! the encoder's embedding is also taught the goal (what this example's first mode shows the
//! encoder can learn), to see whether the model state then carries it. `[depth]` widens the CNN; `[keypoints K]` adds
//! the encoder's soft-argmax points and makes the embedding head read those alone.

use burn::backend::{Autodiff, Flex};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use genreward_models::dreamer::dist::{symexp, symlog};
use genreward_models::dreamer::optim::LaPropConfig;
use genreward_models::dreamer::replay::to_batch;
use genreward_models::dreamer::world::WorldModel;
use genreward_models::dreamer::{AgentConfig, Preset, Replay, Step, TwoHot};
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
    /// Each step's action and the reward for arriving at it (0 at the first).
    actions: Vec<Vec<f32>>,
    rewards: Vec<f32>,
}

fn load(dir: &Path) -> Vec<Episode> {
    let steps = std::fs::read_to_string(dir.join("steps.jsonl")).expect("steps.jsonl");
    let mut goals = Vec::new();
    let mut actions: Vec<Vec<Vec<f32>>> = Vec::new();
    let mut rewards: Vec<Vec<f32>> = Vec::new();
    for line in steps.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        if v["step"] == 0 {
            let obs = v["obs"].as_array().expect("obs");
            let g = |i: usize| obs[i].as_f64().unwrap() as f32;
            goals.push([g(36), g(37), g(38)]);
            actions.push(Vec::new());
            rewards.push(vec![0.0]);
        }
        let f = |x: &serde_json::Value| x.as_f64().unwrap_or(0.0) as f32;
        let a = v["action"].as_array().expect("action");
        actions.last_mut().unwrap().push(a.iter().map(f).collect());
        rewards.last_mut().unwrap().push(f(&v["reward"]));
    }
    goals
        .into_iter()
        .zip(actions.into_iter().zip(rewards))
        .enumerate()
        .map(|(i, (goal, (actions, rewards)))| {
            let (frames, len) = read_npy(&dir.join(format!("obs_{i:03}.npy")));
            Episode {
                frames,
                len,
                goal,
                actions,
                rewards,
            }
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
    let d = Default::default();
    let eps = load(dir);
    // The last fifth is held out, at most 60 episodes (so a large folder tests whether more
    // training episodes help, on as many held-out goals as the 300-episode one).
    let split = eps.len() - (eps.len() / 5).min(60);
    let (train, test) = eps.split_at(split);
    if args.get(1).map(String::as_str) == Some("world") {
        return world_mode(&args, train, test, &d);
    }
    let preset: Preset = args
        .get(1)
        .map_or("size1m", String::as_str)
        .parse()
        .expect("a preset");
    let num = |i: usize, default: f64| args.get(i).map_or(default, |s| s.parse().unwrap());
    let (updates, bsize, lr) = (num(2, 600.0) as usize, num(3, 64.0) as usize, num(4, 3e-4));
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

#[derive(Module, Debug)]
struct WorldProbe<B: Backend> {
    world: WorldModel<B>,
    /// Goal from the encoder's embedding (trained only with a weight > 0).
    embed_head: Linear<B>,
}

fn steps_of(e: &Episode) -> Vec<Step> {
    (0..e.len)
        .map(|t| {
            let mut vector = vec![0f32; 39];
            vector[36..39].copy_from_slice(&e.goal);
            Step {
                frame: e.frames[t * 64 * 64 * 3..(t + 1) * 64 * 64 * 3].to_vec(),
                vector,
                action: e.actions[t].clone(),
                reward: e.rewards[t],
                is_first: t == 0,
                is_terminal: false,
                goal: Vec::new(),
            }
        })
        .collect()
}

fn world_mode(args: &[String], train: &[Episode], test: &[Episode], d: &burn::tensor::Device<AB>) {
    let num = |i: usize, default: f64| args.get(i).map_or(default, |s| s.parse().unwrap());
    let updates = num(2, 200.0) as usize;
    let (scale, aux) = (num(3, 1000.0), num(4, 0.0));
    let (bsize, length) = (num(5, 8.0) as usize, num(6, 32.0) as usize);
    let goal_dims = [36, 37, 38];
    let mut cfg = AgentConfig::preset(Preset::Size1m, 4, 39)
        .with_state_target(scale)
        .with_vector_dims(goal_dims.to_vec());
    cfg.world.strided = true;
    // A wider CNN than the preset's (`[depth]`, 8th argument): the embedding grows with it.
    if let Some(depth) = args.get(7).map(|s| s.parse::<usize>().unwrap()) {
        cfg.world.depth = depth;
        cfg.world.rssm.embed_dim = genreward_models::dreamer::world::WorldModelConfig::embed_dim(
            depth,
            cfg.world.units,
            0,
        );
    }
    // Keypoints (`[keypoints]`, 9th argument, `train dreamer --keypoints K`): the embedding head
    // then reads the 2K point coordinates alone, so it cannot place the goal from other cues.
    let keypoints = args.get(8).map_or(0, |s| s.parse::<usize>().unwrap());
    if keypoints > 0 {
        cfg = cfg.with_keypoints(keypoints);
    }
    // The agents' CPU recipe (`train dreamer --lr 3e-4 --warmup 100`).
    cfg.lr = 3e-4;
    cfg.warmup = 100;
    let embed = genreward_models::dreamer::world::WorldModelConfig::embed_dim(
        cfg.world.depth,
        cfg.world.units,
        0,
    );
    // The columns the embedding head reads: the whole frame embedding, or the points alone.
    let head_cols = if keypoints > 0 {
        embed..embed + 2 * keypoints
    } else {
        0..embed
    };
    let mut model = WorldProbe {
        world: cfg.world.init::<AB>(d),
        embed_head: LinearConfig::new(head_cols.len(), 3).init(d),
    };
    let mut optim = LaPropConfig::new().init::<AB, WorldProbe<AB>>();
    let mut replay = Replay::new(1, 1_000_000);
    for e in train {
        for s in steps_of(e) {
            replay.push(0, s);
        }
    }
    let test_steps: Vec<Vec<Step>> = test.iter().map(steps_of).collect();
    let twohot = TwoHot::dreamer(d);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    println!(
        "{}",
        serde_json::json!({"mode": "world", "train_episodes": train.len(),
            "test_episodes": test.len(), "state_target": scale, "embedding_head": aux,
            "batch": bsize, "length": length, "lr": cfg.lr, "depth": cfg.world.depth, "keypoints": keypoints})
    );
    let t0 = std::time::Instant::now();
    for u in 1..=updates {
        let seqs = replay
            .sample(&mut rng, bsize, length)
            .expect("enough steps");
        let batch = to_batch::<AB>(&seqs, true, Some(&goal_dims), d);
        let wl = model.world.loss(&batch, &twohot);
        let mut loss = cfg.world_total(&wl);
        let [b, t, _, h, w] = batch.image.dims();
        let target = symlog(batch.vector.clone().unwrap().reshape([b * t, 3])).detach();
        let emb = model
            .world
            .encode(batch.image.clone().reshape([b * t, 3, h, w]), None);
        let aux_loss = (model
            .embed_head
            .forward(emb.slice([0..b * t, head_cols.clone()]))
            - target)
            .powi_scalar(2)
            .sum_dim(1)
            .mean();
        let aux_value = aux_loss.clone().into_scalar() as f64;
        if aux > 0.0 {
            loss = loss + aux_loss * aux;
        }
        let vector = wl.vector.clone().unwrap().into_scalar() as f64;
        let image = wl.image.clone().into_scalar() as f64;
        let grads = GradientsParams::from_grads::<AB, _>(loss.backward(), &model);
        let lr = cfg.lr * (u as f64 / cfg.warmup.max(1) as f64).min(1.0);
        model = optim.step(lr, model, grads);
        if u % 25 == 0 || u == updates {
            // Held-out: whole episodes through the posterior; the goal from the vector head at
            // steps 8 on, and from the embedding head at every step.
            let (mut se_state, mut n_state, mut se_embed, mut n_embed) = (0.0, 0, 0.0, 0);
            for (e, steps) in test.iter().zip(&test_steps) {
                let seq: Vec<&Step> = steps.iter().collect();
                let batch = to_batch::<AB>(&[seq], true, Some(&goal_dims), d);
                let obs = model.world.observe(&batch, None);
                let pred = symexp(model.world.decode_vector(obs.feat).unwrap());
                let pred = pred.into_data().to_vec::<f32>().unwrap();
                let emb = model
                    .world
                    .encode(batch.image.clone().reshape([e.len, 3, 64, 64]), None);
                let pe = symexp(
                    model
                        .embed_head
                        .forward(emb.slice([0..e.len, head_cols.clone()])),
                )
                .into_data()
                .to_vec::<f32>()
                .unwrap();
                for t in 0..e.len {
                    for k in 0..3 {
                        let g = e.goal[k] as f64;
                        if t >= 8 {
                            se_state += (pred[t * 3 + k] as f64 - g).powi(2);
                        }
                        se_embed += (pe[t * 3 + k] as f64 - g).powi(2);
                    }
                    n_state += (t >= 8) as usize;
                    n_embed += 1;
                }
            }
            println!(
                "{}",
                serde_json::json!({"updates": u, "image": image, "vector": vector,
                    "embedding_head_loss": aux_value,
                    "test_goal_cm_from_state": 100.0 * (se_state / n_state as f64).sqrt(),
                    "test_goal_cm_from_embedding": 100.0 * (se_embed / n_embed as f64).sqrt(),
                    "seconds": t0.elapsed().as_secs_f64()})
            );
        }
    }
}
