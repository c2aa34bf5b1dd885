//! DreamerV3's building blocks against hand-computed values.

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};
use genreward_models::dreamer::dist::symexp_bins;
use genreward_models::dreamer::moments::percentile;
use genreward_models::dreamer::*;
use genreward_models::dreamer::{replay, rssm, world};

type B = Flex;
type AB = Autodiff<Flex>;

fn dev() -> burn::tensor::Device<B> {
    Default::default()
}

fn vec1(t: Tensor<B, 1>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

fn close(a: f32, b: f64, tol: f64) -> bool {
    (a as f64 - b).abs() <= tol * b.abs().max(1.0)
}

#[test]
fn symlog_and_symexp_are_the_hand_values_and_inverse() {
    let e = std::f64::consts::E;
    let x = [0.0, e - 1.0, -(e * e - 1.0), 1e6];
    let y = vec1(symlog(Tensor::<B, 1>::from_floats(
        x.map(|v| v as f32).as_slice(),
        &dev(),
    )));
    let want = [0.0, 1.0, -2.0, (1e6f64 + 1.0).ln()];
    for (a, b) in y.iter().zip(want) {
        assert!(close(*a, b, 1e-6), "{y:?}");
    }
    let xs: Vec<f32> = (-40..=40).map(|k| (k as f32 * 0.37).powi(3)).collect();
    let back = vec1(symexp(symlog(Tensor::<B, 1>::from_floats(
        xs.as_slice(),
        &dev(),
    ))));
    for (a, b) in back.iter().zip(&xs) {
        assert!(close(*a, *b as f64, 1e-5), "{a} vs {b}");
    }
}

#[test]
fn dreamer_bins_are_symexp_of_even_symlog_steps() {
    let b = symexp_bins(255, 20.0);
    assert_eq!(b.len(), 255);
    assert_eq!(b[127], 0.0);
    let step = 20.0f64 / 127.0;
    assert!(close(b[128], step.exp() - 1.0, 1e-6), "{}", b[128]);
    assert!(close(b[254], 20f64.exp() - 1.0, 1e-6), "{}", b[254]);
    for k in 0..255 {
        assert_eq!(b[k], -b[254 - k], "symmetric at {k}");
    }
}

#[test]
fn two_hot_puts_weight_on_the_neighbouring_bins() {
    let th = TwoHot::<B>::dreamer(&dev());
    assert_eq!(th.len(), 255);
    let b1 = (20.0f64 / 127.0).exp() - 1.0; // 0.170566
    let big = 20f64.exp() - 1.0;
    let x = Tensor::<B, 1>::from_floats([0.0, 0.1, -1e9, 1e9, big as f32, -3.3], &dev());
    let t = th.encode(x).into_data().to_vec::<f32>().unwrap();
    let row = |i: usize| &t[i * 255..(i + 1) * 255];
    // 0 is bin 127 exactly.
    assert_eq!(row(0)[127], 1.0);
    assert_eq!(row(0).iter().sum::<f32>(), 1.0);
    // 0.1 lies between bin 127 (0) and 128 (0.170566): weights 0.41372 and 0.58628.
    assert!(close(row(1)[127], (b1 - 0.1) / b1, 1e-5), "{}", row(1)[127]);
    assert!(close(row(1)[128], 0.1 / b1, 1e-5), "{}", row(1)[128]);
    // Outside the range (and on its end): all weight on the end bin.
    assert!(close(row(2)[0], 1.0, 1e-6) && close(row(3)[254], 1.0, 1e-6));
    assert!(close(row(4)[254], 1.0, 1e-6));
    // Every row sums to one, and inside the range its mean is the value itself.
    let bins = symexp_bins(255, 20.0);
    for (i, x) in [(0, 0.0), (1, 0.1), (5, -3.3)] {
        let r = row(i);
        assert!(close(r.iter().sum::<f32>(), 1.0, 1e-6));
        let mean: f64 = r
            .iter()
            .zip(&bins)
            .map(|(w, b)| *w as f64 * *b as f64)
            .sum();
        assert!((mean - x).abs() < 1e-5, "{mean} vs {x}");
        assert!(r.iter().filter(|w| **w > 0.0).count() <= 2);
    }
}

#[test]
fn two_hot_loss_and_mean_are_the_closed_forms() {
    let th = TwoHot::<B>::dreamer(&dev());
    // Uniform logits (a zero-initialised head): cross-entropy ln 255 whatever the target, and
    // the mean exactly 0 although the end bins are +-4.85e8.
    let logits = Tensor::<B, 2>::zeros([3, 255], &dev());
    let loss = vec1(th.loss(
        logits.clone(),
        Tensor::from_floats([0.0, 7.7, -30.0], &dev()),
    ));
    for l in loss {
        assert!(close(l, 255f64.ln(), 1e-5), "{l}");
    }
    assert_eq!(vec1(th.mean(logits)), vec![0.0; 3]);
    // Logits that are the log of a two-hot target decode to its value.
    let target = Tensor::<B, 1>::from_floats([2.5, -0.7, 1234.5], &dev());
    let logits = (th.encode(target) + 1e-30).log();
    let m = vec1(th.mean(logits));
    assert!(
        (m[0] - 2.5).abs() < 1e-4 && (m[1] + 0.7).abs() < 1e-4 && (m[2] - 1234.5).abs() < 0.05,
        "{m:?}"
    );
}

#[test]
fn unimix_keeps_every_class_possible() {
    let logits = Tensor::<B, 2>::from_floats([[0.0, 3f32.ln()], [-1e9, 0.0]], &dev());
    let p = unimix_probs(logits, 0.01)
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    // softmax [0.25, 0.75] -> 0.99 p + 0.005; a class of probability 0 keeps 0.005.
    for (a, b) in p.iter().zip([0.2525, 0.7475, 0.005, 0.995]) {
        assert!(close(*a, b, 1e-6), "{p:?}");
    }
}

#[test]
fn straight_through_samples_are_one_hot_with_the_gradient_of_the_probabilities() {
    let d = dev();
    <AB as burn::tensor::backend::Backend>::seed(&d, 7);
    let n = 20_000;
    let probs_row = [0.1f32, 0.6, 0.3];
    let logits = Tensor::<AB, 2>::from_floats(
        TensorData::new(
            probs_row
                .iter()
                .cycle()
                .take(3 * n)
                .map(|p| p.ln())
                .collect::<Vec<f32>>(),
            [n, 3],
        ),
        &d,
    )
    .require_grad();
    let probs = burn::tensor::activation::softmax(logits.clone(), 1);
    let s = sample_straight_through(probs.clone());
    let v = s.clone().into_data().to_vec::<f32>().unwrap();
    assert!(v.iter().all(|x| x.abs() < 1e-6 || (x - 1.0).abs() < 1e-6));
    for (k, p) in probs_row.iter().enumerate() {
        let freq = v.iter().skip(k).step_by(3).sum::<f32>() / n as f32;
        assert!((freq - p).abs() < 0.015, "class {k}: {freq}");
        assert!(v
            .chunks(3)
            .all(|r| (r.iter().sum::<f32>() - 1.0).abs() < 1e-6));
    }
    // d/dlogits of sum(sample * w) equals that of sum(probs * w) (each backward on a graph of
    // its own: burn's backward consumes the graph it walks).
    let w = Tensor::<AB, 2>::from_floats([[1.0, -2.0, 0.5]], &d);
    let g1 = (s * w.clone()).sum().backward();
    let g1 = logits
        .grad(&g1)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    drop(probs);
    let probs = burn::tensor::activation::softmax(logits.clone(), 1);
    let g2 = (probs * w).sum().backward();
    let g2 = logits
        .grad(&g2)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    for (a, b) in g1.iter().zip(&g2) {
        assert!((a - b).abs() < 1e-6);
    }
}

#[test]
fn kl_is_the_hand_value_and_free_nats_stop_its_gradient() {
    let d = dev();
    let p = Tensor::<B, 3>::from_floats([[[0.5, 0.5], [0.25, 0.75]]], &d);
    let q = Tensor::<B, 3>::from_floats([[[0.25, 0.75], [0.25, 0.75]]], &d);
    let kl = vec1(categorical_kl(p, q));
    let want = 0.5 * (2f64).ln() + 0.5 * (0.5f64 / 0.75).ln();
    assert!(close(kl[0], want, 1e-6), "{kl:?} vs {want}");

    // Below the free nats both losses are the constant and pass no gradient.
    let logits = Tensor::<AB, 3>::from_floats([[[0.3, -0.2], [0.1, 0.9]]], &d).require_grad();
    let post = burn::tensor::activation::softmax(logits.clone(), 2);
    let prior = Tensor::<AB, 3>::from_floats([[[0.5, 0.5], [0.5, 0.5]]], &d);
    let (dy, rep) = kl_losses(post, prior.clone(), 1.0);
    assert_eq!(dy.clone().into_data().to_vec::<f32>().unwrap(), vec![1.0]);
    let g = rep.sum().backward();
    let g = logits
        .grad(&g)
        .map(|g| g.into_data().to_vec::<f32>().unwrap());
    assert!(
        g.as_ref().is_none_or(|g| g.iter().all(|x| *x == 0.0)),
        "{g:?}"
    );
    // Above them, rep trains the posterior and dyn does not.
    let post = || burn::tensor::activation::softmax(logits.clone(), 2);
    let (_, rep) = kl_losses(post(), prior.clone(), 0.0);
    let g = rep.sum().backward();
    assert!(logits
        .grad(&g)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .any(|x| x.abs() > 1e-4));
    let (dy, _) = kl_losses(post(), prior, 0.0);
    let g = dy.sum().backward();
    let g = logits
        .grad(&g)
        .map(|g| g.into_data().to_vec::<f32>().unwrap());
    assert!(
        g.as_ref().is_none_or(|g| g.iter().all(|x| *x == 0.0)),
        "{g:?}"
    );
}

#[test]
fn returns_are_scaled_by_the_percentile_range() {
    // NumPy: percentile([1..=100], 5) = 5.95, 95 -> 95.05.
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert!((percentile(&v, 5.0) - 5.95).abs() < 1e-12);
    assert!((percentile(&v, 95.0) - 95.05).abs() < 1e-12);
    let batch: Vec<f32> = (1..=100).map(|x| x as f32).collect();
    let mut m = Moments::default();
    m.update(&batch);
    // One batch at rate 0.01 from zero: lo 0.0595, hi 0.9505, range 0.891 < 1 -> scale 1.
    let (lo, scale) = m.stats();
    assert!((lo - 0.0595).abs() < 1e-9 && scale == 1.0, "{lo} {scale}");
    m.update(&batch);
    let (lo, hi) = m.range();
    assert!((lo - 0.0595 * 1.99).abs() < 1e-9 && (hi - 0.9505 * 1.99).abs() < 1e-9);
    // Debiased, the averages are the batch's percentiles at once.
    let mut m = Moments::new(0.01, 1.0, 5.0, 95.0, true);
    m.update(&batch);
    let (lo, scale) = m.stats();
    assert!(
        (lo - 5.95).abs() < 1e-9 && (scale - 89.1).abs() < 1e-9,
        "{lo} {scale}"
    );
    // Small returns are not scaled up.
    let mut m = Moments::new(0.01, 1.0, 5.0, 95.0, true);
    m.update(&[0.01, 0.02, 0.03]);
    assert_eq!(m.stats().1, 1.0);
}

#[test]
fn lambda_returns_are_the_hand_values() {
    let d = dev();
    let t = |v: [f32; 3]| Tensor::<B, 1>::from_floats(v, &d).reshape([3, 1]);
    let (r, c, v) = (
        t([0.0, 1.0, 2.0]),
        t([1.0, 0.5, 1.0]),
        t([99.0, 10.0, 20.0]),
    );
    // R_2 = v_2 = 20; R_1 = 2 + 1 (0.5 20 + 0.5 20) = 22; R_0 = 1 + 0.5 (0.5 10 + 0.5 22) = 9.
    let got = lambda_returns(r.clone(), c.clone(), v.clone(), 0.5)
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(got, vec![9.0, 22.0]);
    // lambda 1: the discounted sum to the end (1 + 0.5 (2 + 20) = 12); lambda 0: one-step TD.
    let mc = lambda_returns(r.clone(), c.clone(), v.clone(), 1.0)
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(mc, vec![12.0, 22.0]);
    let td = lambda_returns(r, c, v, 0.0)
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(td, vec![6.0, 22.0]);
}

#[test]
fn presets_parse_and_grow() {
    let p: Preset = "size12m".parse().unwrap();
    assert_eq!(p.sizes().deter, 2048);
    assert!("size3m".parse::<Preset>().unwrap_err().contains("size1m"));
    for w in Preset::ALL.windows(2) {
        let (a, b) = (w[0].sizes(), w[1].sizes());
        assert!(a.deter < b.deter && a.units < b.units && a.classes < b.classes);
    }
}

fn tiny_rssm() -> (Rssm<B>, RssmConfig) {
    let cfg = RssmConfig::new(16, 8, 4, 2, 6).with_stoch(3).with_blocks(4);
    (cfg.init(&dev()), cfg)
}

/// The state of the first step of an episode does not depend on what came before it; later
/// steps do. Samples are one-hot per categorical; each sequence is its own.
#[test]
fn rssm_resets_on_the_first_step_and_keeps_sequences_apart() {
    let d = dev();
    <B as burn::tensor::backend::Backend>::seed(&d, 3);
    let (rssm, cfg) = tiny_rssm();
    let n = 3;
    let random = |shape: [usize; 2]| {
        Tensor::<B, 2>::random(shape, burn::tensor::Distribution::Normal(0.0, 1.0), &d)
    };
    let embed = random([n, 6]);
    let action = random([n, 2]).clamp(-1.0, 1.0);
    let other = rssm::State {
        deter: random([n, 16]),
        stoch: random([n, 12]),
    };
    let first = Tensor::<B, 2>::ones([n, 1], &d);
    let (a, _) = rssm.obs_step(
        rssm.initial(n, &d),
        action.clone(),
        embed.clone(),
        first.clone(),
    );
    let (b, _) = rssm.obs_step(other.clone(), action.clone() * 0.3, embed.clone(), first);
    assert_eq!(
        a.deter.to_data(),
        b.deter.to_data(),
        "a first step starts from zeros"
    );
    let not_first = Tensor::<B, 2>::zeros([n, 1], &d);
    let (c, probs) = rssm.obs_step(
        other.clone(),
        action.clone(),
        embed.clone(),
        not_first.clone(),
    );
    let diff = (c.deter.clone() - a.deter.clone())
        .abs()
        .max()
        .into_scalar();
    assert!(diff > 1e-3, "later steps follow the state ({diff})");
    assert_eq!(probs.dims(), [n, 3, 4]);
    let z = c
        .stoch
        .clone()
        .reshape([n, 3, 4])
        .sum_dim(2)
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert!(z.iter().all(|s| (s - 1.0).abs() < 1e-6), "{z:?}");
    assert_eq!(c.feat().dims(), [n, cfg.feat_dim()]);

    // Changing sequence 0's state leaves sequences 1 and 2 as they were.
    let mut moved = other.clone();
    moved.deter = moved.deter.clone()
        + Tensor::<B, 2>::ones([n, 16], &d)
            .slice([0..1, 0..16])
            .pad((0, 0, 0, n - 1), 0.0);
    let h0 = rssm.core(&other, action.clone());
    let h1 = rssm.core(&moved, action);
    let rows = |t: Tensor<B, 2>| t.slice([1..n, 0..16]).into_data();
    assert_eq!(rows(h0.clone()), rows(h1.clone()));
    assert_ne!(
        h0.slice([0..1, 0..16]).into_data(),
        h1.slice([0..1, 0..16]).into_data()
    );
}

fn tiny_world(vector_dim: usize) -> WorldModelConfig {
    let (depth, units) = (2, 16);
    let embed = WorldModelConfig::embed_dim(depth, units, vector_dim);
    let rssm = RssmConfig::new(16, 16, 4, 4, embed)
        .with_stoch(4)
        .with_blocks(4);
    WorldModelConfig::new(rssm, depth, units).with_vector_dim(vector_dim)
}

/// Two sequences of a bright square moving across a dark frame, with rewards that follow it.
fn fixed_batch<Bk: burn::tensor::backend::Backend>(d: &Bk::Device) -> world::Batch<Bk> {
    let (b, t) = (2, 6);
    let mut img = vec![0.1f32; b * t * 3 * 64 * 64];
    let mut reward = vec![0f32; b * t];
    for s in 0..b {
        for k in 0..t {
            let x0 = 8 + 6 * k + 10 * s;
            for c in 0..3 {
                for y in 20..36 {
                    for x in x0..x0 + 12 {
                        img[(((s * t + k) * 3 + c) * 64 + y) * 64 + x] = 0.9 - 0.2 * c as f32;
                    }
                }
            }
            reward[s * t + k] = if k == 0 { 0.0 } else { x0 as f32 / 10.0 };
        }
    }
    let mut first = vec![0f32; b * t];
    first[0] = 1.0;
    first[t] = 1.0;
    let action: Vec<f32> = (0..b * t * 4).map(|i| (i % 7) as f32 / 3.0 - 1.0).collect();
    world::Batch {
        image: Tensor::<Bk, 1>::from_floats(img.as_slice(), d).reshape([b, t, 3, 64, 64]),
        vector: None,
        action: Tensor::<Bk, 1>::from_floats(action.as_slice(), d).reshape([b, t, 4]),
        reward: Tensor::<Bk, 1>::from_floats(reward.as_slice(), d).reshape([b, t]),
        is_first: Tensor::<Bk, 1>::from_floats(first.as_slice(), d).reshape([b, t]),
        is_terminal: Tensor::<Bk, 2>::zeros([b, t], d),
    }
}

/// At initialisation the reward head predicts exactly 0 (its output layer is zero) and its
/// loss is ln 255; training steps on one fixed batch lower every reconstruction term. With
/// both CNNs: the reference's (pool) and the strided one.
#[test]
fn a_world_model_step_lowers_its_loss_on_a_fixed_batch() {
    for strided in [false, true] {
        world_model_steps_lower_the_loss(strided);
    }
}

fn world_model_steps_lower_the_loss(strided: bool) {
    use burn::module::AutodiffModule;
    use burn::optim::{AdamConfig, GradientsParams, Optimizer};
    let d = dev();
    <AB as burn::tensor::backend::Backend>::seed(&d, 11);
    let cfg = tiny_world(0).with_strided(strided);
    let embed_dim = cfg.rssm.embed_dim;
    let mut model = cfg.init::<AB>(&d);
    let e = model
        .valid()
        .encode(fixed_batch::<B>(&d).image.reshape([12, 3, 64, 64]), None);
    assert_eq!(e.dims(), [12, embed_dim]);
    let frames = model
        .valid()
        .decode_image(Tensor::zeros([3, tiny_world(0).rssm.feat_dim()], &d));
    assert_eq!(frames.dims(), [3, 3, 64, 64]);
    let twohot = TwoHot::<AB>::dreamer(&d);
    let batch = fixed_batch::<AB>(&d);
    let obs = model.valid().observe(&fixed_batch::<B>(&d), None);
    let r0 = TwoHot::<B>::dreamer(&d).mean(model.valid().reward_logits(obs.feat));
    assert!(vec1(r0).iter().all(|r| *r == 0.0));
    let first = model.loss(&batch, &twohot);
    let reward0 = first.reward.clone().into_scalar();
    assert!((reward0 as f64 - 255f64.ln()).abs() < 1e-4, "{reward0}");
    let (image0, total0) = (first.image.into_scalar(), first.total.into_scalar());
    let mut opt = AdamConfig::new().init();
    let mut last = None;
    for _ in 0..30 {
        let l = model.loss(&batch, &twohot);
        last = Some((
            l.image.clone().into_scalar(),
            l.reward.clone().into_scalar(),
            l.total.clone().into_scalar(),
        ));
        let grads = GradientsParams::from_grads(l.total.backward(), &model);
        model = opt.step(3e-3, model, grads);
    }
    let (image, reward, total) = last.unwrap();
    assert!(
        total < 0.6 * total0,
        "strided {strided}: total {total0} -> {total}"
    );
    assert!(
        image < 0.6 * image0,
        "strided {strided}: image {image0} -> {image}"
    );
    assert!(
        reward < 0.8 * reward0,
        "strided {strided}: reward {reward0} -> {reward}"
    );
}

#[test]
fn the_encoder_reads_the_state_vector_when_asked() {
    let d = dev();
    let m = tiny_world(39).init::<B>(&d);
    let img = Tensor::<B, 4>::zeros([2, 3, 64, 64], &d);
    let v = Tensor::<B, 2>::ones([2, 39], &d);
    let e = m.encode(img.clone(), Some(v.clone()));
    assert_eq!(e.dims(), [2, WorldModelConfig::embed_dim(2, 16, 39)]);
    // (Not a multiple of v: zero biases and RMSNorm make the first layer blind to scale.)
    let flip = Tensor::<B, 1>::from_floats(
        (0..39)
            .map(|i| if i < 20 { -1.0 } else { 1.0 })
            .collect::<Vec<f32>>()
            .as_slice(),
        &d,
    )
    .reshape([1, 39]);
    let e2 = m.encode(img, Some(v * flip));
    assert!((e - e2).abs().max().into_scalar() > 1e-4);
}

/// With the state a decoder target only, the encoder has no state layers: its embedding is the
/// frame's alone, whatever state is passed, and the model still reconstructs a 39-d state.
#[test]
fn a_state_target_model_reads_frames_alone_and_reconstructs_the_state() {
    let d = dev();
    let cfg = AgentConfig::sized(16, 16, 4, 2, 16, 4, 39)
        .with_latents(4, 4)
        .with_state_target(10.0);
    assert!(!cfg.world.reads_vector() && cfg.world.vector_dim == 39);
    assert_eq!(
        cfg.world.rssm.embed_dim,
        WorldModelConfig::embed_dim(2, 16, 0)
    );
    let m = cfg.world.init::<B>(&d);
    let img = Tensor::<B, 4>::random(
        [2, 3, 64, 64],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &d,
    );
    let v = Tensor::<B, 2>::random([2, 39], burn::tensor::Distribution::Normal(0.0, 1.0), &d);
    let alone = m.encode(img.clone(), None);
    assert_eq!(alone.dims(), [2, WorldModelConfig::embed_dim(2, 16, 0)]);
    assert_eq!(
        m.encode(img.clone(), Some(v.clone())).to_data(),
        alone.to_data()
    );
    assert_eq!(
        m.encode(img, Some(v * 3.0 - 1.0)).to_data(),
        alone.to_data()
    );
    let feat = Tensor::<B, 2>::zeros([3, cfg.world.rssm.feat_dim()], &d);
    assert_eq!(m.decode_vector(feat).map(|x| x.dims()), Some([3, 39]));
    // A reading model (the same sizes without the option) has the vector part.
    let reading = AgentConfig::sized(16, 16, 4, 2, 16, 4, 39);
    assert!(reading.world.reads_vector() && reading.vector_scale.is_none());
    assert_eq!(
        reading.world.rssm.embed_dim,
        WorldModelConfig::embed_dim(2, 16, 39)
    );
}

/// The state target's weight multiplies the vector term of the world model's loss and nothing
/// else: the weighted total is the plain one plus (scale - 1) x the vector term, by hand from
/// the terms. Trained on a fixed batch with weight 10, the vector term falls.
#[test]
fn the_state_target_weight_scales_the_vector_term_which_falls() {
    use rand::SeedableRng;
    let d = dev();
    let replay = square_replay();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let seqs = replay.sample(&mut rng, 3, 8).unwrap();
    let batch = replay::to_batch::<AB>(&seqs, true, None, &d);
    let mut cfg = AgentConfig::sized(16, 16, 4, 2, 16, 4, 39)
        .with_latents(4, 4)
        .with_state_target(10.0);
    cfg.actor_critic.horizon = 5;
    cfg.lr = 2e-3;
    cfg.warmup = 0;
    let world = cfg.world.init::<AB>(&d);
    let wl = world.loss(&batch, &TwoHot::dreamer(&d));
    let f = |t: &Tensor<AB, 1>| t.clone().into_scalar() as f64;
    let v = f(wl.vector.as_ref().expect("the state is reconstructed"));
    assert!(v > 0.1, "{v}");
    let terms =
        f(&wl.image) + f(&wl.reward) + f(&wl.cont) + f(&wl.dynamics) + 0.1 * f(&wl.representation);
    assert!(
        (f(&wl.total) - (terms + v)).abs() < 1e-3 * f(&wl.total),
        "the unweighted total"
    );
    let weighted = f(&cfg.world_total(&wl));
    assert!(
        (weighted - (terms + 10.0 * v)).abs() < 1e-3 * weighted,
        "{weighted} vs {} + 10 x {v}",
        terms
    );
    let plain = AgentConfig {
        vector_scale: None,
        ..cfg.clone()
    };
    assert_eq!(f(&plain.world_total(&wl)), f(&wl.total));

    let mut learner = Learner::<AB>::new(cfg, &d);
    let first = learner.train(&batch).vector.unwrap();
    let mut last = first;
    for _ in 0..25 {
        last = learner.train(&batch).vector.unwrap();
    }
    assert!(last < 0.5 * first, "vector {first} -> {last}");
}

/// `--state-dims`: a batch picks the listed entries of each step's state, in the listed order,
/// and a model built for them reconstructs that many; its config (saved and loaded) keeps the
/// list, and a config from before the option loads without one.
#[test]
fn a_state_target_of_some_entries_picks_them_in_order() {
    let d = dev();
    let mut replay = Replay::new(1, 100);
    for k in 0..6 {
        let mut s = square_step(k, k == 0);
        s.vector = (0..39).map(|i| k as f32 + i as f32 / 100.0).collect();
        replay.push(0, s).unwrap();
    }
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let seqs = vec![replay.sample(&mut rng, 1, 6).unwrap().remove(0)];
    let picked = replay::to_batch::<B>(&seqs, true, Some(&[38, 2]), &d);
    let v = picked.vector.expect("the picked state");
    assert_eq!(v.dims(), [1, 6, 2]);
    let v = v.into_data();
    let want: Vec<f32> = seqs[0]
        .iter()
        .flat_map(|s| [s.vector[38], s.vector[2]])
        .collect();
    assert_eq!(v.to_vec::<f32>().unwrap(), want);
    let all = replay::to_batch::<B>(&seqs, true, None, &d).vector.unwrap();
    assert_eq!(all.dims(), [1, 6, 39]);

    let cfg = AgentConfig::sized(16, 16, 4, 2, 16, 4, 39)
        .with_latents(4, 4)
        .with_state_target(100.0)
        .with_vector_dims(vec![38, 2]);
    assert_eq!(cfg.world.vector_dim, 2);
    let m = cfg.world.init::<B>(&d);
    let feat = Tensor::<B, 2>::zeros([3, cfg.world.rssm.feat_dim()], &d);
    assert_eq!(m.decode_vector(feat).map(|x| x.dims()), Some([3, 2]));
    let batch = replay::to_batch::<B>(&seqs, true, cfg.world.vector_dims.as_deref(), &d);
    let wl = m.loss(&batch, &TwoHot::dreamer(&d));
    assert!(wl.vector.unwrap().into_scalar().is_finite());

    let json = serde_json::to_string(&cfg.world).unwrap();
    let back: WorldModelConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back.vector_dims, Some(vec![38, 2]));
    let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
    old.as_object_mut().unwrap().remove("vector_dims");
    let old: WorldModelConfig = serde_json::from_value(old).unwrap();
    assert_eq!(old.vector_dims, None);
}

#[test]
fn the_policy_is_a_normal_with_the_closed_form_log_prob_and_entropy() {
    use genreward_models::dreamer::actor_critic::Policy;
    let d = dev();
    let p = Policy::<B> {
        mean: Tensor::from_floats([[0.5, 0.0]], &d),
        std: Tensor::from_floats([[0.2, 1.0]], &d),
    };
    let lp = vec1(p.log_prob(Tensor::from_floats([[0.7, 0.0]], &d)))[0];
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    let want = (-0.5 - 0.2f64.ln() - 0.5 * ln2pi) + (-0.5 * ln2pi);
    assert!(close(lp, want, 1e-5), "{lp} vs {want}");
    let ent = vec1(p.entropy())[0];
    let want = (0.2f64.ln() + 0.5 * (1.0 + ln2pi)) + 0.5 * (1.0 + ln2pi);
    assert!(close(ent, want, 1e-5), "{ent} vs {want}");
}

#[test]
fn the_actor_starts_near_zero_with_stds_in_bounds_and_the_slow_critic_follows() {
    use burn::module::Module;
    use genreward_models::dreamer::actor_critic::{soft_update, ActorCriticConfig};
    let d = dev();
    let cfg = ActorCriticConfig::new(10, 4, 16);
    let actor = cfg.actor::<B>(&d);
    let feat = Tensor::<B, 2>::random([64, 10], burn::tensor::Distribution::Normal(0.0, 1.0), &d);
    let p = actor.forward(feat.clone());
    assert!(p.mean.clone().abs().max().into_scalar() < 0.1);
    // std = 0.9 sigmoid(raw + 2) + 0.1, raw near 0 at first: about 0.893.
    let s = p.std.into_data().to_vec::<f32>().unwrap();
    assert!(
        s.iter()
            .all(|v| (0.1..=1.0).contains(v) && (v - 0.8927).abs() < 0.02),
        "{s:?}"
    );
    // A zero-initialised critic values everything at exactly 0.
    let critic = cfg.critic::<B>(&d);
    let v = TwoHot::<B>::dreamer(&d).mean(critic.logits(feat));
    assert!(vec1(v).iter().all(|x| *x == 0.0));
    // slow = 0.02 fast + 0.98 slow, parameter by parameter.
    let fast = cfg.critic::<B>(&d);
    let slow = soft_update(critic.clone(), &fast, 0.02);
    let flat = |m: &genreward_models::dreamer::actor_critic::Critic<B>| {
        let mut out = Vec::new();
        struct V<'a>(&'a mut Vec<f32>);
        impl burn::module::ModuleVisitor<B> for V<'_> {
            fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<B, D>>) {
                self.0.extend(p.val().into_data().to_vec::<f32>().unwrap());
            }
        }
        m.visit(&mut V(&mut out));
        out
    };
    let (a, b, c) = (flat(&critic), flat(&fast), flat(&slow));
    for i in 0..a.len() {
        assert!((c[i] - (0.02 * b[i] + 0.98 * a[i])).abs() < 1e-6);
    }
}

/// On imagined trajectories from a fixed batch, the critic's loss falls with training and the
/// actor's loss does not reach the world model (imagination starts from detached states).
#[test]
fn the_critic_learns_in_imagination_and_the_actor_leaves_the_world_model_alone() {
    use burn::optim::{AdamConfig, GradientsParams, Optimizer};
    use genreward_models::dreamer::actor_critic::*;
    let d = dev();
    <AB as burn::tensor::backend::Backend>::seed(&d, 5);
    let wcfg = tiny_world(0);
    let world = wcfg.init::<AB>(&d);
    let cfg = ActorCriticConfig::new(wcfg.rssm.feat_dim(), 4, 16).with_horizon(5);
    let actor = cfg.actor::<AB>(&d);
    let mut critic = cfg.critic::<AB>(&d);
    let slow = cfg.critic::<AB>(&d);
    let twohot = TwoHot::<AB>::dreamer(&d);
    let batch = fixed_batch::<AB>(&d);
    let obs = world.observe(&batch, None);
    let start = State {
        deter: obs.deter.clone().detach(),
        stoch: obs.feat.clone().slice([0..12, 16..32]).detach(),
    };
    let traj = imagine(&world, &actor, start, cfg.horizon);
    assert_eq!(traj.feat.dims(), [6 * 12, wcfg.rssm.feat_dim()]);
    let l = actor_critic_loss(
        &cfg,
        &world,
        &actor,
        &critic,
        &slow,
        &twohot,
        &traj,
        &mut Moments::default(),
    );
    assert_eq!(l.returns.len(), 5 * 12);
    let grads = l.policy.backward();
    let world_grads = GradientsParams::from_grads(grads, &world);
    assert!(
        world_grads.is_empty(),
        "the policy loss reached the world model"
    );

    let mut opt = AdamConfig::new().init();
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..25 {
        let l = actor_critic_loss(
            &cfg,
            &world,
            &actor,
            &critic,
            &slow,
            &twohot,
            &traj,
            &mut Moments::default(),
        );
        let v = l.value.clone().into_scalar();
        first.get_or_insert(v);
        last = v;
        let g = GradientsParams::from_grads(l.value.backward(), &critic);
        critic = opt.step(3e-3, critic, g);
    }
    let first = first.unwrap();
    assert!(last < 0.7 * first, "value loss {first} -> {last}");
}

/// AGC + LaProp on one parameter, two steps, against values worked out by hand (the first
/// gradient is clipped to 0.3 |p|; the first update is lr sign(g)).
#[test]
fn laprop_with_agc_takes_the_hand_computed_steps() {
    use burn::optim::SimpleOptimizer;
    use genreward_models::dreamer::optim::{warmup_lr, LaPropConfig};
    let d = dev();
    let opt = LaPropConfig::new().build();
    let p = Tensor::<B, 1>::from_floats([3.0, 4.0], &d);
    let (p, s) =
        SimpleOptimizer::<B>::step(&opt, 0.1, p, Tensor::from_floats([30.0, 40.0], &d), None);
    let v = vec1(p.clone());
    assert!(
        (v[0] - 2.9).abs() < 1e-6 && (v[1] - 3.9).abs() < 1e-6,
        "{v:?}"
    );
    let (p, _) = SimpleOptimizer::<B>::step(&opt, 0.1, p, Tensor::from_floats([0.1, -0.2], &d), s);
    let v = vec1(p);
    assert!(
        (v[0] as f64 - 2.8444099007).abs() < 1e-5 && (v[1] as f64 - 3.8648710688).abs() < 1e-5,
        "{v:?}"
    );
    assert_eq!(warmup_lr(4e-5, 0, 1000), 4e-8);
    assert_eq!(warmup_lr(4e-5, 4999, 1000), 4e-5);
}

fn square_step(k: usize, first: bool) -> Step {
    let mut frame = vec![20u8; 64 * 64 * 3];
    let x0 = 4 + (k * 5) % 48;
    for y in 24..40 {
        for x in x0..x0 + 12 {
            frame[(y * 64 + x) * 3] = 230;
            frame[(y * 64 + x) * 3 + 1] = 180;
        }
    }
    Step {
        frame,
        vector: vec![k as f32 / 10.0; 39],
        action: vec![(k % 3) as f32 - 1.0, 0.5, 0.0, -0.5],
        reward: if first { 0.0 } else { x0 as f32 / 50.0 },
        is_first: first,
        is_terminal: false,
        goal: Vec::new(),
    }
}

/// Two 20-step episodes of the square moving across the frame.
fn square_replay() -> Replay {
    let mut replay = Replay::new(1, 1000);
    for k in 0..40 {
        replay.push(0, square_step(k, k % 20 == 0)).unwrap();
    }
    replay
}

#[test]
fn replay_samples_consecutive_steps_and_keeps_its_capacity() {
    use rand::SeedableRng;
    let mut r = Replay::new(2, 5);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    assert!(r.sample(&mut rng, 2, 3).is_none());
    for k in 0..7 {
        r.push(0, square_step(k, k == 0)).unwrap();
        if k < 2 {
            r.push(1, square_step(100 + k, k == 0)).unwrap();
        }
    }
    // Stream 0 keeps its last 5 steps (2..7); stream 1 is too short for length 3.
    assert_eq!(r.len(), 7);
    assert_eq!(r.added, 9);
    for _ in 0..20 {
        let seqs = r.sample(&mut rng, 3, 3).unwrap();
        for s in &seqs {
            let ks: Vec<f32> = s.iter().map(|st| st.vector[0] * 10.0).collect();
            assert!(ks[0].round() >= 2.0 && ks[2].round() <= 6.0, "{ks:?}");
            assert!((ks[1] - ks[0] - 1.0).abs() < 1e-4 && (ks[2] - ks[1] - 1.0).abs() < 1e-4);
        }
    }
    // The batch's layout: [B, T, C, H, W] in [0, 1].
    let seqs = r.sample(&mut rng, 2, 4).unwrap();
    let b = replay::to_batch::<B>(&seqs, true, None, &dev());
    assert_eq!(b.image.dims(), [2, 4, 3, 64, 64]);
    assert_eq!(b.vector.as_ref().unwrap().dims(), [2, 4, 39]);
    let px = |seq: usize, t: usize, c: usize, y: usize, x: usize| {
        b.image
            .clone()
            .slice([seq..seq + 1, t..t + 1, c..c + 1, y..y + 1, x..x + 1])
            .into_scalar()
    };
    let f = &seqs[1][2].frame;
    for (c, y, x) in [(0, 30, 10), (1, 30, 10), (2, 0, 0), (0, 63, 63)] {
        assert_eq!(px(1, 2, c, y, x), f[(y * 64 + x) * 3 + c] as f32 / 255.0);
    }
    assert_eq!(b.action.dims(), [2, 4, 4]);
    // What it cannot hold is an error, and nothing is stored.
    let mut small = square_step(50, false);
    small.frame.truncate(32 * 32 * 3);
    assert_eq!(
        r.push(0, small).unwrap_err().to_string(),
        "replay frames are 64x64 RGB (12288 bytes), not 3072 bytes"
    );
    assert!(r.push(2, square_step(51, false)).is_err());
    assert_eq!(r.added, 9);
}

/// The whole agent trains on replayed sequences (world model, actor and critic in one update)
/// with finite figures and a falling world-model loss, and acts with actions in [-1, 1].
#[test]
fn the_agent_trains_on_replay_and_acts() {
    use rand::SeedableRng;
    let d = dev();
    <AB as burn::tensor::backend::Backend>::seed(&d, 2);
    let mut cfg = AgentConfig::sized(16, 16, 4, 2, 16, 4, 39).with_latents(4, 4);
    cfg.actor_critic.horizon = 5;
    cfg.lr = 2e-3;
    cfg.warmup = 0;
    let mut learner = Learner::<AB>::new(cfg, &d);
    let replay = square_replay();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let seqs = replay.sample(&mut rng, 3, 8).unwrap();
    let batch = replay::to_batch::<AB>(&seqs, true, None, &d);
    let first = learner.train(&batch);
    let mut last = first.clone();
    for _ in 0..25 {
        last = learner.train(&batch);
    }
    for m in [&first, &last] {
        assert!(
            m.loss.is_finite() && m.policy.is_finite() && m.value.is_finite(),
            "{m:?}"
        );
    }
    assert!(
        last.image < 0.7 * first.image,
        "{} -> {}",
        first.image,
        last.image
    );
    assert!(last.vector.unwrap() < first.vector.unwrap());
    assert_eq!(learner.updates, 26);

    let agent = learner.acting_agent();
    let mut acting = agent.start_acting(2, 4, &d);
    let frames: Vec<&[u8]> = vec![&seqs[0][0].frame, &seqs[1][0].frame];
    let img = replay::frames_to_tensor::<B>(&frames, &d);
    let vec = Tensor::<B, 2>::zeros([2, 39], &d);
    let a = agent.act(&mut acting, img, Some(vec), Tensor::ones([2, 1], &d), false);
    assert_eq!(a.dims(), [2, 4]);
    assert!(a.clone().abs().max().into_scalar() <= 1.0);
    assert_eq!(acting.prev_action.to_data(), a.to_data());

    // Imagining 0 steps ahead is the present; imagining ahead moves away from it and leaves
    // the acting state as it was.
    let (now, same) = agent.imagine_ahead(&acting, 0);
    assert_eq!(now.dims(), [2, 3, 64, 64]);
    assert_eq!(now.to_data(), same.to_data());
    let deter = acting.state.deter.clone();
    let (now2, ahead) = agent.imagine_ahead(&acting, 5);
    assert_eq!(now.to_data(), now2.to_data());
    assert!((ahead - now).abs().max().into_scalar() > 1e-4);
    assert_eq!(acting.state.deter.to_data(), deter.to_data());
}

/// Every parameter the optimiser owns moves in an update: the actor's output layer (scaled at
/// initialisation) and the dense layers' biases (zeroed at initialisation) included. Only the
/// slow critic, which follows the critic instead, stays as it was.
#[test]
fn an_update_moves_every_trained_parameter() {
    use burn::module::{Module, ModuleVisitor, Param};
    struct Flat(Vec<(usize, Vec<f32>)>);
    impl<Bk: burn::tensor::backend::Backend> ModuleVisitor<Bk> for Flat {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<Bk, D>>) {
            let v = p
                .val()
                .into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .unwrap();
            self.0.push((D, v));
        }
    }
    fn flat<Bk: burn::tensor::backend::Backend, M: Module<Bk>>(m: &M) -> Vec<(usize, Vec<f32>)> {
        let mut f = Flat(Vec::new());
        m.visit(&mut f);
        f.0
    }
    use rand::SeedableRng;
    let d = dev();
    let mut cfg = AgentConfig::sized(16, 16, 4, 2, 16, 4, 39).with_latents(4, 4);
    cfg.actor_critic.horizon = 5;
    cfg.warmup = 0;
    // Below one free nat the KL terms pass no gradient to the prior; without them every
    // parameter has one.
    cfg.world.free_nats = 0.0;
    let mut learner = Learner::<AB>::new(cfg, &d);
    let replay = square_replay();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let seqs = replay.sample(&mut rng, 3, 8).unwrap();
    let batch = replay::to_batch::<AB>(&seqs, true, None, &d);
    let parts = |l: &Learner<AB>| {
        let a = l.acting_agent();
        [
            ("world", flat(&a.world)),
            ("actor", flat(&a.actor)),
            ("critic", flat(&a.critic)),
            ("slow", flat(&a.slow)),
        ]
    };
    let before = parts(&learner);
    learner.train(&batch);
    learner.train(&batch);
    let after = parts(&learner);
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        assert_eq!(b.len(), a.len());
        for (i, ((dim, x), (_, y))) in b.iter().zip(a).enumerate() {
            let moved = x.iter().zip(y).any(|(p, q)| p != q);
            if *name == "slow" {
                // Starts as the critic's copy and follows it.
                let c = &before[2].1[i].1;
                assert_eq!(x, c, "the slow critic starts as a copy of the critic");
                continue;
            }
            assert!(
                moved,
                "{name} parameter {i} ({dim}-d, {} values) did not move",
                x.len()
            );
        }
    }
}

/// Open-loop prediction keeps the sequence's shape and its output depends on the context
/// frames only (the gradient with respect to the later frames is zero); the report's error row
/// is grey where model and truth agree.
#[test]
fn open_loop_prediction_sees_only_its_context() {
    let d = dev();
    let model = tiny_world(0).init::<AB>(&d);
    let mut batch = fixed_batch::<AB>(&d);
    batch.image = batch.image.require_grad();
    let out = model.open_loop(&batch, 3);
    assert_eq!(out.dims(), [2, 6, 3, 64, 64]);
    let grads = out.clone().sum().backward();
    let g = batch.image.grad(&grads).unwrap();
    let part = |r: std::ops::Range<usize>| {
        g.clone()
            .slice([0..2, r, 0..3, 0..64, 0..64])
            .abs()
            .max()
            .into_scalar()
    };
    assert!(part(0..3) > 0.0, "the context is read");
    assert_eq!(part(3..6), 0.0, "later frames are not");
    let a = out.inner();
    let rows = world::open_loop_rows(a.clone(), a);
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0].len(), 3 * 64 * 2 * 64 * 3);
    // The error row (rows 128..192) is mid-grey: model == truth.
    let px = rows[4][((150 * 128) + 70) * 3];
    assert!((127..=128).contains(&px), "{px}");
}

/// The shipped reach agent (`assets/models/dreamer-reach`) loads with today's model, its meta
/// reads as [`DreamerMeta`], and saving it again writes the very bytes it was loaded from: an
/// untrained `train dreamer --init` run saves the agent it started from.
#[test]
fn the_shipped_agent_loads_and_saves_byte_for_byte() {
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/models/dreamer-reach");
    let d = dev();
    let (agent, cfg) = load_agent::<B>(&shipped, &d).unwrap();
    let meta = DreamerMeta::read(&shipped).unwrap();
    assert!(meta.is_dreamer() && meta.moments.is_some(), "{meta:?}");
    assert_eq!(meta.action_repeat(), 2);
    assert_eq!(meta.camera.as_deref(), Some("front"));
    let dir = tempfile::tempdir().unwrap();
    genreward_models::checkpoint::save::<B, _, _>(
        dir.path(),
        &agent,
        &cfg,
        &serde_json::to_value(&meta).unwrap(),
    )
    .unwrap();
    let bytes = |p: &std::path::Path| std::fs::read(p.join("model.mpk")).unwrap();
    assert!(
        bytes(dir.path()) == bytes(&shipped),
        "the shipped agent saves other bytes than it was loaded from"
    );
}

#[test]
fn a_saved_config_the_model_cannot_be_built_from_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = AgentConfig::sized(16, 16, 4, 2, 16, 4, 39).with_latents(4, 4);
    let agent = cfg.init::<B>(&dev());
    for (field, value) in [("blocks", 3), ("horizon", 0)] {
        let mut bad = cfg.clone();
        match field {
            "blocks" => bad.world.rssm.blocks = value,
            _ => bad.actor_critic.horizon = value,
        }
        genreward_models::checkpoint::save::<B, _, _>(
            dir.path(),
            &agent,
            &bad,
            &serde_json::json!({}),
        )
        .unwrap();
        let e = load_agent::<B>(dir.path(), &dev()).unwrap_err().to_string();
        assert!(
            e.contains("is not a valid DreamerV3 agent config") && !e.contains('\n'),
            "{field}: {e}"
        );
    }
    cfg.actor_critic.horizon = 1;
    assert!(cfg.check().is_ok());
}
