//! Generated goal videos on the command line, with the shipped generator: reproducible from (task, first frame, gen seed), the length that lines up with the episode,
//! a user's first frame, and the errors a user can hit (nothing written for any of them).

mod common;
use common::{genreward, last_json, ok};
use std::path::Path;
use std::process::Output;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The arguments of `genreward goal --source generated --task TASK --out OUT` plus `extra`.
fn gen_args<'a>(task: &'a str, extra: &[&'a str], out: &'a Path) -> Vec<&'a str> {
    let mut args = vec![
        "goal",
        "--source",
        "generated",
        "--task",
        task,
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    args
}

/// `genreward goal --source generated --task TASK` with `extra` flags, writing `out`.
fn generated(task: &str, extra: &[&str], out: &Path) -> Output {
    genreward(&gen_args(task, extra, out))
}

/// `generated`, which must fail with one `error:` line containing `want` and write nothing.
fn gen_refused(task: &str, extra: &[&str], want: &str, out: &Path) {
    refused(&gen_args(task, extra, out), want, out);
}

/// Runs `args`, which must fail with one `error:` line containing `want`, and leave `out`
/// unwritten.
fn refused(args: &[&str], want: &str, out: &Path) {
    let o = genreward(args);
    assert_eq!(o.status.code(), Some(1), "{args:?}");
    let e = String::from_utf8_lossy(&o.stderr);
    let last = e.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error:") && last.contains(want),
        "{args:?}: {e}"
    );
    assert!(!out.exists(), "{args:?} wrote {}", out.display());
}

/// Two 256-step expert episodes of push from `seed` on, recorded into `run` with `extra` flags.
fn push_run(run: &Path, seed: &str, extra: &[&str]) {
    let mut args = vec![
        "rollout",
        "--task",
        "push",
        "--episodes",
        "2",
        "--seed",
        seed,
        "--max-steps",
        "256",
        "--out",
        s(run),
    ];
    args.extend_from_slice(extra);
    ok(&genreward(&args));
}

#[test]
fn generated_goals_are_reproducible_and_episode_long() {
    let d = tempfile::tempdir().unwrap();
    let path = |n: &str| d.path().join(n);
    let seed = ["--seed", "30001"];
    let o = generated("push", &seed, &path("a.npy"));
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["source"], "generated", "{j}");
    assert_eq!(j["seed"], 30001);
    assert_eq!(j["frames"], 500, "as long as rollout's default episode");
    assert!(j["steps"].as_u64().unwrap() >= 1, "{j}");
    let va = genreward_record::load_video(&path("a.npy")).unwrap();
    assert_eq!((va.width, va.height, va.len()), (64, 64, 500));
    // The reward's 16 samples of a 256-step episode are the 16 generated frames.
    ok(&generated(
        "push",
        &[&seed[..], &["--length", "256"]].concat(),
        &path("b.npy"),
    ));
    let vb = genreward_record::load_video(&path("b.npy")).unwrap();
    let short = [&seed[..], &["--length", "16"]].concat();
    ok(&generated("push", &short, &path("c.npy")));
    let vc = genreward_record::load_video(&path("c.npy")).unwrap();
    assert_eq!(vc.len(), 16);
    let picks = genreward_reward::uniform_indices(256, 16);
    for (k, &i) in picks.iter().enumerate() {
        assert_eq!(vb.frames[i], vc.frames[k], "sampled frame {k}");
        assert_eq!(
            va.frames[i], vc.frames[k],
            "the 500-step goal's first 256 frames"
        );
    }
    assert_eq!(va.frames[499], vc.frames[15], "the last frame is held");
    assert_ne!(vc.frames[0], vc.frames[15], "the goal video moves");
    // The same inputs give the same bytes; another gen seed, other noise.
    let bytes = |n: &str| std::fs::read(path(n)).unwrap();
    ok(&generated("push", &short, &path("again.npy")));
    assert_eq!(bytes("c.npy"), bytes("again.npy"));
    ok(&generated(
        "push",
        &[&short[..], &["--gen-seed", "9"]].concat(),
        &path("other.npy"),
    ));
    assert_ne!(bytes("c.npy"), bytes("other.npy"));
    // K samples, one picked; the mean of the samples decodes to a video of its own.
    let three = [&short[..], &["--samples", "3"]].concat();
    let o = generated(
        "push",
        &[&three[..], &["--pick", "medoid"]].concat(),
        &path("k.npy"),
    );
    ok(&o);
    let j = last_json(&o);
    assert_eq!(
        (j["samples"].as_u64(), j["pick"].as_str()),
        (Some(3), Some("medoid"))
    );
    assert!(j["picked"].as_u64().unwrap() < 3, "{j}");
    let o = generated(
        "push",
        &[&three[..], &["--pick", "mean"]].concat(),
        &path("k.npy"),
    );
    ok(&o);
    assert!(last_json(&o)["picked"].is_null());
}

#[test]
fn a_users_first_frame_generates_as_the_seed_does_and_bad_input_is_refused() {
    let d = tempfile::tempdir().unwrap();
    // The seed's reset frame, as the expert's goal video's first PNG.
    let pngs = d.path().join("pngs");
    ok(&genreward(&[
        "goal",
        "--source",
        "expert",
        "--length",
        "0",
        "--task",
        "reach",
        "--seed",
        "30002",
        "--out",
        s(&pngs),
    ]));
    let mut names: Vec<_> = std::fs::read_dir(&pngs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let first = &names[0];
    let from_seed = d.path().join("seed.npy");
    ok(&generated(
        "reach",
        &["--seed", "30002", "--length", "16"],
        &from_seed,
    ));
    let from_png = d.path().join("png.npy");
    let o = generated(
        "reach",
        &["--first-frame", s(first), "--length", "16"],
        &from_png,
    );
    ok(&o);
    assert_eq!(last_json(&o)["first_frame"], s(first));
    assert_eq!(
        std::fs::read(&from_seed).unwrap(),
        std::fs::read(&from_png).unwrap(),
        "the same first frame, task and gen seed give the same video"
    );

    let out = d.path().join("never.npy");
    let small = d.path().join("small.png");
    image::RgbImage::new(32, 32).save(&small).unwrap();
    gen_refused("reach", &["--first-frame", s(&small)], "reads 64x64", &out);
    let junk = d.path().join("junk.png");
    std::fs::write(&junk, b"not a png").unwrap();
    gen_refused("reach", &["--first-frame", s(&junk)], "junk.png", &out);
    let none = d.path().join("none.png");
    gen_refused("reach", &["--first-frame", s(&none)], "none.png", &out);
    refused(
        &[
            "goal",
            "--task",
            "reach",
            "--source",
            "expert",
            "--first-frame",
            s(first),
            "--out",
            s(&out),
        ],
        "--first-frame needs --source generated",
        &out,
    );
    gen_refused("reach", &["--samples", "0"], "--samples", &out);
    // A VAE other than the one the generator learnt on (one byte more in its weights).
    let vae = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/vae");
    let other = d.path().join("vae2");
    std::fs::create_dir_all(&other).unwrap();
    for f in ["config.json", "meta.json", "model.mpk"] {
        std::fs::copy(vae.join(f), other.join(f)).unwrap();
    }
    let mut bytes = std::fs::read(other.join("model.mpk")).unwrap();
    bytes.push(0);
    std::fs::write(other.join("model.mpk"), bytes).unwrap();
    gen_refused("reach", &["--vae", s(&other)], "another VAE", &out);
    // A generator folder that is not one, and a task that does not exist.
    gen_refused("reach", &["--generator", s(&pngs)], "pngs", &out);
    gen_refused("lift", &[], "unknown task 'lift'", &out);
}

/// `score --goal generated` gives each episode the goal generated from its own first frame:
/// each episode scores exactly as against the goal `goal --source generated` makes for its seed
/// (saved losslessly, the same length), the report records how they were generated, and the
/// goals saved with --save-goals are one per episode. --save-goals without it is refused.
#[test]
fn score_generated_gives_each_episode_its_own_goal() {
    let d = tempfile::tempdir().unwrap();
    let path = |n: &str| d.path().join(n);
    let run = path("run");
    push_run(&run, "30010", &["--camera", "corner2"]);
    let score = |goal: &str, out: &Path, extra: &[&str]| {
        let mut args = vec!["score", "--run", s(&run), "--goal", goal, "--out", s(out)];
        args.extend_from_slice(extra);
        let o = genreward(&args);
        ok(&o);
        last_json(&o)
    };
    let goals = path("goals");
    let all = score(
        "generated",
        &path("all.jsonl"),
        &["--save-goals", s(&goals)],
    );
    let g = &all["goal"]["generated"];
    assert_eq!(g["length"], 256, "{all}");
    assert_eq!(
        (g["samples"].as_u64(), g["gen_seed"].as_u64()),
        (Some(4), Some(0))
    );
    assert_eq!(all["goal"]["path"], "generated");
    let eps = all["episodes"].as_array().unwrap();
    assert_eq!(eps.len(), 2);
    for (k, ep) in eps.iter().enumerate() {
        assert!(goals.join(format!("goal_{k:03}.mp4")).is_file());
        assert!(ep["goal"]["goal_frame"].as_u64().unwrap() < 16, "{ep}");
        let own = path(&format!("own{k}.npy"));
        let seed = format!("{}", 30010 + k);
        ok(&generated(
            "push",
            &["--seed", &seed, "--length", "256"],
            &own,
        ));
        let alone = score(s(&own), &path("alone.jsonl"), &[]);
        let a = &alone["episodes"][k];
        for key in ["final_r_video", "mean_r_fb"] {
            let (x, y) = (ep[key].as_f64().unwrap(), a[key].as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                "episode {k} {key}: {x} vs {y}"
            );
        }
    }
    // The two episodes' scenes differ, so their goals do.
    assert_ne!(eps[0]["final_r_video"], eps[1]["final_r_video"]);
    let out = path("never.jsonl");
    refused(
        &[
            "score",
            "--run",
            s(&run),
            "--goal",
            s(&path("own0.npy")),
            "--out",
            s(&out),
            "--save-goals",
            s(&goals),
        ],
        "--save-goals needs --goal generated",
        &out,
    );
}

/// `rollout --goal generated` pays each episode live toward the goal generated from its own
/// first observation frame: the goal it saves (goal_NNN.npy, listed in the manifest) is bit for
/// bit the one `goal --source generated` makes for that seed, and the terms it paid equal
/// `score --goal generated` on the same run, so a live run and its rescoring agree.
#[test]
fn rollout_generated_pays_each_episode_its_own_goal_live() {
    let d = tempfile::tempdir().unwrap();
    let path = |n: &str| d.path().join(n);
    let run = path("run");
    push_run(&run, "30020", &["--goal", "generated"]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["goal"]["path"], "generated", "{manifest}");
    assert_eq!(manifest["goal"]["generated"]["length"], 256);
    let goals = manifest["episode_goals"].as_array().unwrap();
    assert_eq!(goals.len(), 2, "{manifest}");
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for (k, g) in goals.iter().enumerate() {
        let file = format!("goal_{k:03}.npy");
        assert_eq!(
            (g["episode"].as_u64(), g["file"].as_str()),
            (Some(k as u64), Some(file.as_str()))
        );
        assert!(files.contains(&file.as_str()), "{files:?}");
        let own = path(&format!("own{k}.npy"));
        let seed = format!("{}", 30020 + k);
        ok(&generated(
            "push",
            &["--seed", &seed, "--length", "256"],
            &own,
        ));
        assert!(
            std::fs::read(run.join(&file)).unwrap() == std::fs::read(&own).unwrap(),
            "episode {k}'s live goal differs from goal's for seed {seed}"
        );
    }
    // The live terms, per episode: r_video at its last paid step and r_fb's mean.
    let steps = std::fs::read_to_string(run.join("steps.jsonl")).unwrap();
    let mut live = [(0.0, 0.0, 0usize); 2];
    for line in steps.lines() {
        let j: serde_json::Value = serde_json::from_str(line).unwrap();
        let (e, t) = (j["episode"].as_u64().unwrap() as usize, &j["terms"]);
        if (j["step"].as_u64().unwrap() + 1) % 128 == 0 {
            live[e].0 = t["r_video"].as_f64().unwrap();
        }
        live[e].1 += t["r_fb"].as_f64().unwrap();
        live[e].2 += 1;
    }
    let o = genreward(&[
        "score",
        "--run",
        s(&run),
        "--goal",
        "generated",
        "--out",
        s(&path("rescored.jsonl")),
    ]);
    ok(&o);
    let report = last_json(&o);
    for (k, ep) in report["episodes"].as_array().unwrap().iter().enumerate() {
        let (v, fb, n) = live[k];
        let (sv, sfb) = (
            ep["final_r_video"].as_f64().unwrap(),
            ep["mean_r_fb"].as_f64().unwrap(),
        );
        assert!(
            (v - sv).abs() < 1e-5,
            "episode {k} r_video live {v} vs scored {sv}"
        );
        let mean = fb / n as f64;
        assert!(
            (mean - sfb).abs() <= 1e-4 * sfb.abs().max(1.0),
            "episode {k} r_fb live {mean} vs scored {sfb}"
        );
        assert_eq!(ep["goal"]["goal_frame"], goals[k]["goal_frame"]);
    }
}
