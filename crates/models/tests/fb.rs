//! The FB representation against closed forms on a small MDP.

use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use genreward_models::fb::{
    covariance_deviation, fb_loss, ortho_loss, project_sphere, FbBatch, FbConfig, FbTrainer,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Ad = Autodiff<Flex>;
type Inner = Flex;

/// A ring of `S` states; action 0 steps left, 1 steps right, and slips (stays) with 20 %.
const S: usize = 6;
const A: usize = 2;
const SLIP: f64 = 0.2;
/// The fixed policy: right with 70 %.
const P_RIGHT: f64 = 0.7;
const GAMMA: f64 = 0.8;

fn next_prob(s: usize, a: usize, s2: usize) -> f64 {
    let moved = if a == 1 { (s + 1) % S } else { (s + S - 1) % S };
    let mut p = 0.0;
    if s2 == moved {
        p += 1.0 - SLIP;
    }
    if s2 == s {
        p += SLIP;
    }
    p
}

fn policy(a: usize) -> f64 {
    if a == 1 {
        P_RIGHT
    } else {
        1.0 - P_RIGHT
    }
}

/// The successor measure `M(s, a, s') = sum_t gamma^t P(s_{t+1} = s' | s, a)` of the policy,
/// by solving `M = P + gamma P Pi M` with a dense Gauss-Jordan inverse, as `[S*A][S]`.
fn successor_measure() -> Vec<Vec<f64>> {
    let n = S * A;
    // (I - gamma P Pi) over state-action pairs.
    let mut m = vec![vec![0.0; 2 * n]; n];
    for i in 0..n {
        let (s, a) = (i / A, i % A);
        for j in 0..n {
            let (s2, a2) = (j / A, j % A);
            let pp = next_prob(s, a, s2) * policy(a2);
            m[i][j] = if i == j { 1.0 } else { 0.0 } - GAMMA * pp;
        }
        m[i][n + i] = 1.0;
    }
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&x, &y| m[x][col].abs().total_cmp(&m[y][col].abs()))
            .unwrap();
        m.swap(col, piv);
        let p = m[col][col];
        for v in m[col].iter_mut() {
            *v /= p;
        }
        for r in 0..n {
            if r != col {
                let f = m[r][col];
                let row = m[col].clone();
                for (v, w) in m[r].iter_mut().zip(row) {
                    *v -= f * w;
                }
            }
        }
    }
    // M = (I - gamma P Pi)^-1 P
    (0..n)
        .map(|i| {
            (0..S)
                .map(|s2| {
                    (0..n)
                        .map(|j| m[i][n + j] * next_prob(j / A, j % A, s2))
                        .sum()
                })
                .collect()
        })
        .collect()
}

fn one_hot(
    idx: &[usize],
    k: usize,
    dev: &<Ad as burn::tensor::backend::BackendTypes>::Device,
) -> Tensor<Ad, 2> {
    let mut v = vec![0.0f32; idx.len() * k];
    for (r, &i) in idx.iter().enumerate() {
        v[r * k + i] = 1.0;
    }
    Tensor::from_data(TensorData::new(v, [idx.len(), k]), dev)
}

fn sample_next(rng: &mut ChaCha8Rng, s: usize, a: usize) -> usize {
    let u: f64 = rng.random();
    let moved = if a == 1 { (s + 1) % S } else { (s + S - 1) % S };
    if u < SLIP {
        s
    } else {
        moved
    }
}

#[test]
fn successor_measure_of_a_ring_matches_the_matrix_inverse() {
    // The closed form first: each row of M sums to 1 / (1 - gamma).
    let m = successor_measure();
    for row in &m {
        let sum: f64 = row.iter().sum();
        assert!((sum - 1.0 / (1.0 - GAMMA)).abs() < 1e-9, "row sum {sum}");
    }

    let dev = Default::default();
    <Ad as Backend>::seed(&dev, 7);
    let cfg = FbConfig::new(S, A, S)
        .with_z_dim(16)
        .with_hidden(64)
        .with_depth(1)
        .with_gamma(GAMMA)
        .with_tau(0.05);
    let mut tr = FbTrainer::<Ad>::new(cfg.init(&dev), cfg.clone(), 3e-3);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = 256;
    let mut first = None;
    let mut last = 0.0;
    for step in 0..2500 {
        // (s, a) uniform: the next-state distribution rho is uniform by the ring's symmetry.
        let s: Vec<usize> = (0..n).map(|_| rng.random_range(0..S)).collect();
        let a: Vec<usize> = (0..n).map(|_| rng.random_range(0..A)).collect();
        let s2: Vec<usize> = s
            .iter()
            .zip(&a)
            .map(|(&s, &a)| sample_next(&mut rng, s, a))
            .collect();
        let a2: Vec<usize> = (0..n)
            .map(|_| usize::from(rng.random::<f64>() < P_RIGHT))
            .collect();
        let g: Vec<usize> = (0..n).map(|_| rng.random_range(0..S)).collect();
        let stats = tr.step(FbBatch {
            state: one_hot(&s, S, &dev),
            action: one_hot(&a, A, &dev),
            next_state: one_hot(&s2, S, &dev),
            next_action: one_hot(&a2, A, &dev),
            next_goal: one_hot(&s2, S, &dev),
            goal: one_hot(&g, S, &dev),
        });
        if step == 0 {
            first = Some(stats.loss);
        }
        last = stats.loss;
    }
    assert!(last < first.unwrap(), "loss {first:?} -> {last}");

    // F(s, a, z)^T B(s') against M(s, a, s') / rho(s') with rho = 1/S, for two task vectors
    // (the data's policy does not depend on z, so neither may the measure).
    let model = tr.model.valid();
    let all_s: Vec<usize> = (0..S * A).map(|i| i / A).collect();
    let all_a: Vec<usize> = (0..S * A).map(|i| i % A).collect();
    let inner = |t: Tensor<Ad, 2>| t.inner();
    let goals = model.backward_map(inner(one_hot(&(0..S).collect::<Vec<_>>(), S, &dev)));
    let mut worst = 0.0f64;
    let scale = m.iter().flatten().fold(0.0f64, |a, &b| a.max(b)) * S as f64;
    for zi in [0usize, 3] {
        let z = goals
            .clone()
            .slice([zi..zi + 1, 0..16])
            .repeat_dim(0, S * A);
        let f = model.forward_map(
            inner(one_hot(&all_s, S, &dev)),
            inner(one_hot(&all_a, A, &dev)),
            z,
        );
        let est: Vec<f32> = f
            .matmul(goals.clone().transpose())
            .into_data()
            .to_vec()
            .unwrap();
        for i in 0..S * A {
            for s2 in 0..S {
                let want = m[i][s2] * S as f64;
                let got = est[i * S + s2] as f64;
                worst = worst.max((got - want).abs());
            }
        }
    }
    assert!(
        worst < 0.1 * scale,
        "max |F^T B - M/rho| = {worst:.3}, largest entry {scale:.3}"
    );

    // Orthonormality: distinct goals' B vectors are near orthogonal, each of squared norm d.
    let gram: Vec<f32> = goals
        .clone()
        .matmul(goals.transpose())
        .into_data()
        .to_vec()
        .unwrap();
    for i in 0..S {
        for j in 0..S {
            let v = gram[i * S + j] as f64 / 16.0;
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((v - want).abs() < 0.15, "B(s{i}).B(s{j})/d = {v:.3}");
        }
    }
}

#[test]
fn the_losses_match_their_formulas_on_hand_values() {
    let dev = Default::default();
    // M = [[1, 2], [3, 4]], target = [[0, 1], [1, 0]], gamma 0.5:
    // diff = [[1, 1.5], [2.5, 4]]; off-diagonal: 0.5 * (1.5^2 + 2.5^2) / 2 = 2.125; diag -2.5.
    let m = Tensor::<Inner, 2>::from_floats([[1.0, 2.0], [3.0, 4.0]], &dev);
    let t = Tensor::<Inner, 2>::from_floats([[0.0, 1.0], [1.0, 0.0]], &dev);
    let (off, diag) = fb_loss(m, t, 0.5);
    assert!((off.into_scalar() - 2.125).abs() < 1e-6);
    assert!((diag.into_scalar() + 2.5).abs() < 1e-6);
    // B = [[1, 0], [1, 1]]: C = [[1, 1], [1, 2]]: 0.5 * (1 + 1) / 2 - 1.5 = -1.
    let b = Tensor::<Inner, 2>::from_floats([[1.0, 0.0], [1.0, 1.0]], &dev);
    assert!((ortho_loss(b.clone()).into_scalar() + 1.0).abs() < 1e-6);
    // E[B^T B] = [[1, 0.5], [0.5, 0.5]]: max diagonal deviation 0.5, off-diagonal mean 0.5.
    let (dd, od) = covariance_deviation(b);
    assert!(
        (dd - 0.5).abs() < 1e-6 && (od - 0.5).abs() < 1e-6,
        "{dd} {od}"
    );
    // The sphere projection: norm sqrt(d), direction kept.
    let p: Vec<f32> = project_sphere(Tensor::<Inner, 2>::from_floats(
        [[3.0, 4.0, 0.0, 0.0]],
        &dev,
    ))
    .into_data()
    .to_vec()
    .unwrap();
    assert!(
        (p[0] - 1.2).abs() < 1e-5 && (p[1] - 1.6).abs() < 1e-5,
        "{p:?}"
    );
}
