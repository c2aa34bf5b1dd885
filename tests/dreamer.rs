//! `genreward train dreamer` end to end on a tiny run: the agent acts in batched environments
//! from rendered frames, trains from its replay, evaluates on held-out seeds with videos, saves
//! a checkpoint that `--resume` continues; bad settings are refused in one line.

mod common;
use common::*;

/// What the shipped reach agent must do on 50 held-out seeds: the 80 %. It solved 47 of
/// them in each of three measurements (its latents are sampled, so runs could differ) and
/// averaged 2,259-2,260 of dense return; the random and zero policies solve none (returns 455
/// and 370) and the expert all (2,408). The success floor sits 4 standard errors of a 50-episode
/// mean below 94 %, the return floor about 6 below 2,259 (README, "The shipped reach agent").
const SHIPPED_MIN_SUCCESS: f64 = 0.8;
const SHIPPED_MIN_RETURN: f64 = 2000.0;

fn train(out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "train",
        "dreamer",
        "--task",
        "reach",
        "--out",
        out.to_str().unwrap(),
        "--envs",
        "2",
        "--batch",
        "2",
        "--length",
        "8",
        "--episode-steps",
        "24",
        "--eval-every",
        "48",
        "--eval-episodes",
        "1",
        "--checkpoint-every",
        "48",
        "--train-ratio",
        "8",
    ];
    args.extend_from_slice(extra);
    genreward(&args)
}

#[test]
fn a_tiny_dreamer_run_trains_evaluates_saves_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = train(&out, &["--steps", "48", "--state"]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["env_steps"], 48, "{j}");
    // The agent acts every 2 env steps (24 decisions); 8 replayed steps per decision, 2 x 8 per
    // update: one update per 2 decisions, counted from the start once the replay holds 2 x 8
    // steps.
    let updates = j["updates"].as_u64().unwrap();
    assert_eq!(updates, 12, "{j}");
    for f in [
        "config.json",
        "model.mpk",
        "optimizer.mpk",
        "meta.json",
        "eval_48.mp4",
        "openloop_48.mp4",
        "best/model.mpk",
        "best/meta.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds = |k: &str| lines.iter().filter(|l| l["kind"] == k).count();
    // 48 environment steps over 2 environments: one 24-step episode each.
    assert_eq!(kinds("episode"), 2, "{text}");
    // A training line every 10 updates.
    assert!(kinds("train") == 1 && kinds("eval") == 1, "{text}");
    let t = lines.iter().find(|l| l["kind"] == "train").unwrap();
    for k in [
        "loss", "image", "vector", "reward", "dynamics", "policy", "value",
    ] {
        assert!(t[k].as_f64().unwrap().is_finite(), "{k}: {t}");
    }
    assert!(j["best_eval"]["success_rate"].is_number(), "{j}");
    let eval = &j["last_eval"];
    assert_eq!(eval["first_seed"], 1_000_000);
    let rate = eval["success_rate"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&rate));

    // --resume continues the counts from the checkpoint. The replay refills to 16 steps first
    // (8 of the 24 new decisions), and the ratio goes on from there without making up the
    // updates owed meanwhile: 8 decisions, 4 updates.
    let o = train(&out, &["--steps", "96", "--resume", "--resume-fill", "16"]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["env_steps"], 96, "{j}");
    assert_eq!(j["updates"].as_u64().unwrap(), updates + 4, "{j}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["env_steps"], 96);
    assert_eq!(meta["action_repeat"], 2);
    assert_eq!(meta["state"], true, "the resumed run keeps its settings");

    // The saved agent drives `rollout` as the run's own evaluation saw it: the same held-out
    // seed, greedy actions from the same frames and states. Its latents are sampled (as
    // DreamerV3 acts), and the CPU backend's draws cannot be seeded, so the returns agree to
    // sampling noise, not to the bit.
    let eval_return = j["last_eval"]["mean_return_env"].as_f64().unwrap();
    let runs = dir.path().join("rollout");
    let agent = format!("agent:{}", out.display());
    let o = genreward(&[
        "rollout",
        "--task",
        "reach",
        "--policy",
        &agent,
        "--seed",
        "1000000",
        "--max-steps",
        "24",
        "--out",
        runs.to_str().unwrap(),
    ]);
    ok(&o);
    let r = last_json(&o);
    assert_eq!(r["policy"], "agent", "{r}");
    let ret = r["mean_return"].as_f64().unwrap();
    assert!(
        (ret - eval_return).abs() < 0.01 * eval_return.abs().max(1.0),
        "rollout {ret} vs the run's evaluation {eval_return}"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["agent"]["camera"], "front", "{manifest}");
    assert_eq!(manifest["agent"]["action_repeat"], 2, "{manifest}");
    assert_eq!(manifest["observations"]["width"], 64, "{manifest}");
    assert!(runs.join("obs_000.npy").is_file());

    // `eval-agent` runs the agent as `rollout` does (same seed, same return to sampling
    // noise), and its probe reads one sample per decision: 5 fitting episodes of 12.
    let o = genreward(&[
        "eval-agent",
        "--policy",
        &agent,
        "--episodes",
        "1",
        "--seed",
        "1000000",
        "--max-steps",
        "24",
    ]);
    ok(&o);
    let e = last_json(&o);
    let eret = e["mean_return"].as_f64().unwrap();
    assert!(
        (eret - ret).abs() < 0.01 * ret.abs().max(1.0),
        "eval-agent {eret} vs rollout {ret}"
    );
    assert_eq!(e["task"], "reach", "the agent's own task by default: {e}");
    let probed = probe(&agent, 10, 24);
    let p = &probed["probe"];
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    let rssm = &cfg["world"]["rssm"];
    let feat = rssm["deter"].as_u64().unwrap()
        + rssm["stoch"].as_u64().unwrap() * rssm["classes"].as_u64().unwrap();
    assert_eq!(p["model_state"]["dim"], feat, "{p}");
    assert_eq!(p["embedding"]["dim"], rssm["embed_dim"], "{p}");
    assert_eq!(p["model_state"]["fit_samples"], 60, "{p}");
    assert_eq!(p["model_state"]["test_samples"], 60, "{p}");
    for what in ["hand", "object", "goal"] {
        let r = p["model_state"][format!("{what}_cm")]["readout"]
            .as_f64()
            .unwrap();
        assert!(r.is_finite() && r >= 0.0, "{p}");
    }
}

/// `eval-agent --probe` on `episodes` episodes of `max_steps` steps of an agent (`agent:DIR`):
/// its report.
fn probe(agent: &str, episodes: usize, max_steps: usize) -> serde_json::Value {
    let o = genreward(&[
        "eval-agent",
        "--policy",
        agent,
        "--episodes",
        &episodes.to_string(),
        "--max-steps",
        &max_steps.to_string(),
        "--probe",
    ]);
    ok(&o);
    last_json(&o)
}

/// `eval-agent` with the built-in policies: the expert solves every episode (its 95 % Wilson
/// interval for 4 of 4 is [4 / (4 + 1.96^2), 1] = [0.510, 1]) and comes within 5 cm; the zero
/// policy solves none ([0, 0.490]).
#[test]
fn eval_agent_reports_success_with_its_interval() {
    let o = genreward(&["eval-agent", "--policy", "expert", "--episodes", "4"]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["success_rate"], 1.0, "{j}");
    let lo = j["success_95"][0].as_f64().unwrap();
    assert!(
        (lo - 0.5101).abs() < 1e-3 && j["success_95"][1] == 1.0,
        "{j}"
    );
    assert_eq!(j["closest_cm"]["within_5"], 1.0, "{j}");
    assert!(j["median_steps_to_success"].as_f64().unwrap() > 0.0, "{j}");
    let o = genreward(&["eval-agent", "--policy", "zero", "--episodes", "4"]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["success_rate"], 0.0, "{j}");
    let hi = j["success_95"][1].as_f64().unwrap();
    assert!(
        j["success_95"][0] == 0.0 && (hi - 0.4899).abs() < 1e-3,
        "{j}"
    );
    assert!(j["median_steps_to_success"].is_null(), "{j}");
    for (args, want) in [
        (
            vec!["--policy", "expert", "--probe"],
            "--probe reads a trained agent",
        ),
        (
            vec!["--policy", "agent:/no/such/agent"],
            "no agent at /no/such/agent",
        ),
        (
            vec!["--policy", "expert", "--episodes", "0"],
            "--episodes must be at least 1",
        ),
        (vec!["--policy", "expert", "--task", "fly"], "unknown task"),
    ] {
        let mut all = vec!["eval-agent"];
        all.extend(args.iter().copied());
        let o = genreward(&all);
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// GenReward with an FB representation reading the agent's model state, trained online on the
/// agent's replay and frozen after a number of environment steps, as in the paper.
#[test]
fn an_online_fb_on_the_model_state_trains_then_freezes() {
    let dir = tempfile::tempdir().unwrap();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let goal = dir.path().join("goal.npy");
    ok(&genreward(&[
        "goal",
        "--source",
        "expert",
        "--task",
        "reach",
        "--seed",
        "3",
        "--length",
        "24",
        "--out",
        &s(&goal),
    ]));
    let out = dir.path().join("run");
    let genreward_args = |steps: &str| -> Vec<String> {
        [
            "--steps",
            steps,
            "--reward",
            "genreward",
            "--goal",
            &s(&goal),
            "--every",
            "8",
            "--sparse-every",
            "8",
            "--fb-state",
            "dreamer",
            "--fb-freeze-after",
            "64",
        ]
        .iter()
        .map(|x| x.to_string())
        .collect()
    };
    let run = |extra: &[String]| {
        let refs: Vec<&str> = extra.iter().map(String::as_str).collect();
        train(&out, &refs)
    };
    let o = run(&genreward_args("96"));
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["fb"]["state"], "dreamer", "{j}");
    assert_eq!(j["fb"]["frozen"], true, "{j}");
    let fb_updates = j["fb"]["updates"].as_u64().unwrap();
    assert!(fb_updates > 0, "{j}");
    // F reads the model state [h, z] (size1m: 512 + 32 x 4), B the VAE's per-frame latent.
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("fb/config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["state_dim"], 640, "{cfg}");
    assert_eq!(cfg["goal_dim"], 256, "{cfg}");
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let frozen: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["kind"] == "fb_frozen").collect();
    assert_eq!(frozen.len(), 1, "{text}");
    let at = frozen[0]["env_steps"].as_u64().unwrap();
    assert!((64..64 + 8).contains(&at), "frozen at {at}");
    // Every episode pays the mix, r_fb from the online representation.
    let episodes: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["kind"] == "episode").collect();
    assert!(!episodes.is_empty());
    for e in episodes {
        let f = |k: &str| e[k].as_f64().unwrap();
        assert!(f("r_fb").is_finite() && f("r_fb") != 0.0, "{e}");
        assert!(f("r_video") != 0.0, "{e}");
        let mix = f("r_env") + 10.0 * f("r_video") + 0.005 * f("r_fb");
        assert!((f("return") - mix).abs() < 1e-6 * mix.abs().max(1.0), "{e}");
    }
    // Frozen stays frozen: resuming trains the agent on, not the representation.
    let mut more = genreward_args("128");
    more.extend(["--resume".into(), "--resume-fill".into(), "8".into()]);
    let o = run(&more);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["fb"]["updates"].as_u64().unwrap(), fb_updates, "{j}");
    assert_eq!(j["env_steps"], 128, "{j}");

    // The agent's rollout scores r_fb with that representation from the model state each
    // decision was made from: one value per decision, held with its action over the 2 steps
    // of the action repeat, and changing between decisions.
    let fb = s(&out.join("fb"));
    let agent = format!("agent:{}", out.display());
    let scored = dir.path().join("scored");
    let rollout = |policy: &str, out: &std::path::Path| {
        genreward(&[
            "rollout",
            "--task",
            "reach",
            "--policy",
            policy,
            "--seed",
            "5",
            "--max-steps",
            "16",
            "--goal",
            &s(&goal),
            "--fb",
            &fb,
            "--out",
            &s(out),
        ])
    };
    ok(&rollout(&agent, &scored));
    let steps = std::fs::read_to_string(scored.join("steps.jsonl")).unwrap();
    let r_fb: Vec<f64> = steps
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["terms"]["r_fb"].as_f64().unwrap()
        })
        .collect();
    assert_eq!(r_fb.len(), 16);
    assert!(r_fb.iter().all(|v| v.is_finite()), "{r_fb:?}");
    for pair in r_fb.chunks(2) {
        assert_eq!(pair[0], pair[1], "a held decision pays one r_fb: {r_fb:?}");
    }
    assert!(r_fb.chunks(2).any(|p| p[0] != r_fb[0]), "{r_fb:?}");
    // Without the agent there is no model state to read: refused in one line, as is the
    // offline scoring of a recorded run.
    for o in [
        rollout("zero", &dir.path().join("zero")),
        genreward(&[
            "score",
            "--run",
            &s(&scored),
            "--goal",
            &s(&goal),
            "--fb",
            &fb,
            "--out",
            &s(&dir.path().join("rescored.jsonl")),
        ]),
    ] {
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("reads a DreamerV3 agent's model state"),
            "{err}"
        );
    }
}

#[test]
fn bad_agents_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let vae = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/vae");
    let vae_agent = format!("agent:{}", vae.display());
    for (policy, want) in [
        ("agent", "needs the agent's folder"),
        ("agent:", "needs the agent's folder"),
        ("agent:/no/such/agent", "no agent at /no/such/agent"),
        (vae_agent.as_str(), "cannot load the agent"),
    ] {
        let o = genreward(&[
            "rollout",
            "--task",
            "reach",
            "--policy",
            policy,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!o.status.success(), "{policy}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{policy}: {err}");
        assert!(err.contains(want), "{policy}: {err}");
    }
}

/// `--state-target` with `--state-dims`: some entries of the state (here the hand and the goal)
/// are reconstructed but not read. The saved config says so (and weighs them), the run logs
/// their reconstruction error, the saved agent acts from frames alone, and `eval-agent --probe`
/// scores its head for the hand and the goal.
#[test]
fn a_state_target_run_reconstructs_the_state_and_acts_from_frames() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = train(
        &out,
        &[
            "--steps",
            "48",
            "--state-target",
            "20",
            "--state-dims",
            "0:3,goal",
        ],
    );
    ok(&o);
    let read = |p: std::path::PathBuf| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let cfg = read(out.join("config.json"));
    assert_eq!(cfg["world"]["vector_dim"], 6, "{cfg}");
    assert_eq!(
        cfg["world"]["vector_dims"],
        serde_json::json!([0, 1, 2, 36, 37, 38]),
        "{cfg}"
    );
    assert_eq!(cfg["world"]["vector_input"], false, "{cfg}");
    assert_eq!(cfg["vector_scale"], 20.0, "{cfg}");
    let meta = read(out.join("meta.json"));
    assert_eq!(meta["state"], false, "{meta}");
    assert_eq!(meta["state_target"], 20.0, "{meta}");
    assert_eq!(meta["state_dims"], cfg["world"]["vector_dims"], "{meta}");
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let train_line = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["kind"] == "train")
        .expect("a training line");
    assert!(
        train_line["vector"].as_f64().unwrap().is_finite(),
        "{train_line}"
    );

    let runs = dir.path().join("rollout");
    let agent = format!("agent:{}", out.display());
    let o = genreward(&[
        "rollout",
        "--task",
        "reach",
        "--policy",
        &agent,
        "--max-steps",
        "8",
        "--out",
        runs.to_str().unwrap(),
    ]);
    ok(&o);
    let manifest = read(runs.join("manifest.json"));
    assert_eq!(manifest["agent"]["reads_state"], false, "{manifest}");

    // The probe also scores the agent's own state-target head, for what it reconstructs.
    let probed = probe(&agent, 10, 24);
    let head = &probed["probe"]["state_target_head"];
    for what in ["hand", "goal"] {
        let r = head[format!("{what}_cm")]["readout"].as_f64().unwrap();
        assert!(r.is_finite() && r >= 0.0, "{head}");
    }
    assert!(head.get("object_cm").is_none(), "{head}");
}

/// The shipped agent sees the `front` camera; a run scored by GenReward observes `corner2` (the
/// goal video's camera). The agent is given its own frames and the run saves and scores the
/// scoring camera's: the saved first frame is the one any policy's corner2 run starts from.
#[test]
fn an_agent_run_is_scored_from_another_camera_than_it_sees() {
    let dir = tempfile::tempdir().unwrap();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let goal = dir.path().join("goal.npy");
    ok(&genreward(&[
        "goal",
        "--source",
        "expert",
        "--task",
        "reach",
        "--seed",
        "3",
        "--length",
        "24",
        "--out",
        &s(&goal),
    ]));
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/dreamer-reach");
    let agent = format!("agent:{}", shipped.display());
    let rollout = |policy: &str, out: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "rollout",
            "--task",
            "reach",
            "--policy",
            policy,
            "--seed",
            "7",
            "--max-steps",
            "24",
            "--out",
        ];
        let out = s(out);
        args.push(&out);
        args.extend_from_slice(extra);
        let o = genreward(&args);
        ok(&o);
        last_json(&o)
    };
    let scored = dir.path().join("scored");
    rollout(&agent, &scored, &["--goal", &s(&goal)]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scored.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["observations"]["camera"], "corner2", "{manifest}");
    assert_eq!(manifest["agent"]["camera"], "front", "{manifest}");
    let steps = std::fs::read_to_string(scored.join("steps.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(steps.lines().next().unwrap()).unwrap();
    assert!(first["terms"]["r_video"].is_number(), "{first}");
    assert!(first["terms"]["r_fb"].is_number(), "{first}");

    let zero = dir.path().join("zero");
    rollout("zero", &zero, &["--camera", "corner2"]);
    let (shape, a) = genreward_record::read_npy_u8(&scored.join("obs_000.npy")).unwrap();
    let (_, b) = genreward_record::read_npy_u8(&zero.join("obs_000.npy")).unwrap();
    assert_eq!(shape, vec![24, 64, 64, 3]);
    let frame = 64 * 64 * 3;
    assert!(
        a[..frame] == b[..frame],
        "the saved frames are not corner2's"
    );
}

/// `--init` starts a new run from a saved agent: the shipped one here. Before its replay has
/// refilled, nothing trains, so the run saves the loaded agent unchanged, with the camera and
/// action repeat it was trained with, counts from 0, and where it came from.
#[test]
fn an_init_run_starts_from_the_saved_agent() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/dreamer-reach");
    let init = shipped.to_str().unwrap();
    let o = train(
        &out,
        &[
            "--init",
            init,
            "--camera",
            "corner2",
            "--steps",
            "24",
            "--resume-fill",
            "64",
        ],
    );
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["updates"], 0, "{j}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["env_steps"], 24, "{meta}");
    assert_eq!(meta["camera"], "front", "the agent's own camera: {meta}");
    assert_eq!(meta["action_repeat"], 2, "{meta}");
    assert_eq!(meta["init"], init, "{meta}");
    let shipped_meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shipped.join("meta.json")).unwrap()).unwrap();
    assert_eq!(
        meta["moments"], shipped_meta["moments"],
        "the return normaliser is loaded"
    );
    let weights = |d: &std::path::Path| std::fs::read(d.join("model.mpk")).unwrap();
    assert!(
        weights(&out) == weights(&shipped),
        "an untrained --init run saves other weights than it loaded"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("sees the front camera"), "{err}");

    let o = train(
        &dir.path().join("y"),
        &["--init", dir.path().to_str().unwrap()],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--init: no agent in"), "{err}");
}

#[test]
fn bad_dreamer_settings_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    for (extra, want) in [
        (vec!["--size", "size3m"], "unknown size"),
        (vec!["--reward", "genreward"], "needs --goal"),
        (vec!["--reward", "money"], "unknown --reward"),
        (
            vec!["--sparse-every", "0"],
            "--sparse-every must be at least 1",
        ),
        (vec!["--resume"], "no run in"),
        (vec!["--state-target", "0"], "must be a positive number"),
        (
            vec!["--state-target", "--state-dims", "goal,nose"],
            "`nose` is not goal",
        ),
        (
            vec!["--state-target", "--state-dims", "30:40"],
            "outside the state's 0..39",
        ),
        (vec!["--state-dims", "goal"], "not provided: --state-target"),
        (
            vec!["--state-target", "--state-dims", "goal,37"],
            "entry 37 is named twice",
        ),
        (
            vec!["--action-repeat", "0"],
            "--action-repeat must be at least 1",
        ),
        (vec!["--fb-state", "pixels"], "unknown --fb-state"),
        (vec!["--fb-state", "dreamer"], "needs --reward genreward"),
        (vec!["--reward-camera", "corner9"], "unknown camera"),
    ] {
        let o = train(&out, &extra);
        assert!(!o.status.success(), "{extra:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    assert!(!out.join("model.mpk").exists());
}

/// The shipped reach agent (`assets/models/dreamer-reach`, trained from the `front` camera's
/// frames alone) on 50 seeds from 2,000,000, 256 steps each: seeds neither its training nor the
/// choice of its checkpoint (evaluations on seeds from 1,000,000) saw.
#[test]
#[ignore = "slow: 50 episodes of the agent (CI runs it)"]
fn the_shipped_reach_agent_solves_held_out_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/dreamer-reach");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shipped.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["state"], false, "the shipped agent reads frames only");
    let policy = format!("agent:{}", shipped.display());
    let o = genreward(&[
        "rollout",
        "--task",
        "reach",
        "--policy",
        &policy,
        "--episodes",
        "50",
        "--seed",
        "2000000",
        "--max-steps",
        "256",
        "--out",
        dir.path().join("run").to_str().unwrap(),
    ]);
    ok(&o);
    let j = last_json(&o);
    let rate = j["success_rate"].as_f64().unwrap();
    assert!(rate >= SHIPPED_MIN_SUCCESS, "{j}");
    let ret = j["mean_return"].as_f64().unwrap();
    assert!(ret >= SHIPPED_MIN_RETURN, "{j}");
}

/// What the shipped agent's model state knows (README, "What its model state knows"): on 200
/// held-out episodes a linear read-out places the hand to 1.4 cm and the goal to 3.3 cm, and the
/// agent's own state-target head (nothing fitted) the goal to 3.7 cm, against 9.8 and 9.4 cm for
/// guessing the mean. On 40 shorter episodes the hand must come out at least 4 times better than
/// the guess from the state, and the goal at least 1.6 times better from the agent's head (the
/// linear fit on 20 goals is too few to ask of). The agent before this one placed the goal no
/// better than the guess, and reached 22-26 % success.
#[test]
#[ignore = "slow: 40 episodes of the agent (CI runs it)"]
fn the_shipped_agents_state_places_the_hand_and_the_goal() {
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/dreamer-reach");
    let policy = format!("agent:{}", shipped.display());
    let j = probe(&policy, 40, 128);
    let hand = &j["probe"]["model_state"]["hand_cm"];
    let (read, guess) = (
        hand["readout"].as_f64().unwrap(),
        hand["mean_guess"].as_f64().unwrap(),
    );
    assert!(read < 0.25 * guess, "{j}");
    assert_eq!(j["probe"]["model_state"]["dim"], 640, "{j}");
    let goal = &j["probe"]["state_target_head"]["goal_cm"];
    let (read, guess) = (
        goal["readout"].as_f64().unwrap(),
        goal["mean_guess"].as_f64().unwrap(),
    );
    assert!(read < guess / 1.6, "{j}");
}

/// `train dreamer --goal generated`: every episode is paid toward the goal generated from its
/// own first frame (no expert runs), the checkpoint's meta records how the goals were made, and
/// a generator that does not load is one line before anything trains.
#[test]
fn dreamer_trains_toward_goals_generated_from_each_first_frame() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let goal_args = [
        "--steps",
        "48",
        "--reward",
        "genreward",
        "--goal",
        "generated",
        "--every",
        "8",
        "--gen-seed",
        "3",
    ];
    let o = train(&out, &goal_args);
    ok(&o);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["goal"], "generated", "{meta}");
    let g = &meta["goal_generated"];
    assert_eq!(
        (g["gen_seed"].as_u64(), g["length"].as_u64()),
        (Some(3), Some(24)),
        "{meta}"
    );
    assert_eq!(
        (g["samples"].as_u64(), g["pick"].as_str()),
        (Some(4), Some("mean"))
    );
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let episodes: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["kind"] == "episode")
        .collect();
    assert!(episodes.len() >= 2, "{text}");
    for e in &episodes {
        let f = |k: &str| e[k].as_f64().unwrap();
        // r_video is a cosine toward the episode's goal, paid every 8 steps.
        assert!(
            f("r_video") != 0.0 && f("r_video").abs() <= 3.0 + 1e-9,
            "{e}"
        );
    }
    // Two scenes, two goals: the episodes' r_video differ.
    assert_ne!(episodes[0]["r_video"], episodes[1]["r_video"], "{text}");

    let bad = dir.path().join("bad");
    let mut args = goal_args.to_vec();
    args.extend(["--generator", "/no/such/generator"]);
    let o = train(&bad, &args);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("/no/such/generator"), "{err}");
    assert!(!bad.join("model.mpk").exists());
}
