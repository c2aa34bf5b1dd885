//! Subcommands: `rollout`, `tasks`, `bench`, `parity`.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use genreward_sim::fixture::parity_dir;
use genreward_sim::rollout::{run_episode, EpisodeSummary};
use genreward_sim::{
    Env, PhysicsConfig, Policy, PolicyKind, RolloutConfig, RolloutSummary, TaskKind, VecEnv,
};
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "genreward",
    version,
    about = "Goal-driven rewards and policies for Meta-World Sawyer tasks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run episodes headless and record every step to <out>/steps.jsonl.
    Rollout(RolloutArgs),
    /// List the tasks.
    Tasks,
    /// Measure simulation throughput (steps per second).
    Bench(BenchArgs),
    /// Replay Meta-World fixtures (*.jsonl) through our rewards, info terms,
    /// success checks and experts; fail if any differs.
    Parity {
        /// Folder holding <task>-v3.jsonl fixture files.
        dir: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct RolloutArgs {
    /// Task name, e.g. pick-place (a -v3 suffix is accepted).
    #[arg(long)]
    task: String,
    /// expert | random | zero
    #[arg(long, default_value = "expert")]
    policy: String,
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    episodes: usize,
    /// Episode i uses placement seed seed+i.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u32,
    /// Steps per episode (Meta-World: 500; the paper uses 256).
    #[arg(long, default_value_t = 500, allow_negative_numbers = true)]
    max_steps: usize,
    /// Pay the environment reward only every K steps (the paper uses 64); 0 = every step.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    sparse_every: usize,
    /// Gaussian action noise standard deviation (seeded).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    noise: f64,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    #[arg(long)]
    task: String,
    /// expert | random | zero
    #[arg(long, default_value = "expert")]
    policy: String,
    /// Environment steps to time (in total over all environments).
    #[arg(long, default_value_t = 20_000, allow_negative_numbers = true)]
    steps: usize,
    /// Environments stepped in parallel (1 = single-threaded figure).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    envs: usize,
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u32,
}

pub fn run() -> Result<()> {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                e.exit();
            }
            // clap's messages span several lines; keep the first.
            let first = e.to_string();
            let first = first.lines().next().unwrap_or("invalid arguments");
            bail!("{}", first.trim_start_matches("error: "));
        }
    };
    match cli.command {
        Command::Rollout(a) => rollout(a),
        Command::Tasks => {
            for t in TaskKind::ALL {
                println!("{:<18}{}", t.name(), t.description());
            }
            Ok(())
        }
        Command::Bench(a) => bench(a),
        Command::Parity { dir } => parity(&dir),
    }
}

fn parse_task(s: &str) -> Result<TaskKind> {
    Ok(s.parse::<TaskKind>()?)
}

fn parse_policy(s: &str) -> Result<PolicyKind> {
    Ok(s.parse::<PolicyKind>()?)
}

fn check_noise(noise: f64) -> Result<()> {
    if !noise.is_finite() || noise < 0.0 {
        bail!("--noise must be a finite number >= 0 (got {noise})");
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Manifest<'a> {
    genreward_version: &'static str,
    command: Vec<String>,
    task: &'a str,
    metaworld_name: String,
    config: &'a RolloutConfig,
    files: Vec<&'static str>,
    episodes: &'a [EpisodeSummary],
    summary: &'a RolloutSummary,
}

fn rollout(a: RolloutArgs) -> Result<()> {
    let task = parse_task(&a.task)?;
    let policy = parse_policy(&a.policy)?;
    check_noise(a.noise)?;
    if a.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    if a.max_steps == 0 {
        bail!("--max-steps must be at least 1");
    }
    let cfg = RolloutConfig {
        task,
        policy,
        episodes: a.episodes,
        seed: a.seed,
        max_steps: a.max_steps,
        sparse_every: a.sparse_every,
        noise: a.noise,
        physics: PhysicsConfig::default(),
    };
    fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create output folder {}", a.out.display()))?;
    let steps_path = a.out.join("steps.jsonl");
    let file = File::create(&steps_path)
        .with_context(|| format!("cannot write {}", steps_path.display()))?;
    let mut w = BufWriter::new(file);

    let bar = ProgressBar::new((cfg.episodes * cfg.max_steps) as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} steps ({per_sec}, eta {eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_message(format!("{} {}", task, policy));
    let mut episodes = Vec::with_capacity(cfg.episodes);
    for i in 0..cfg.episodes {
        let mut io_err = None;
        let summary = run_episode(&cfg, i, |rec, _env| {
            if io_err.is_none() {
                if let Err(e) = serde_json::to_writer(&mut w, rec)
                    .map_err(std::io::Error::from)
                    .and_then(|_| w.write_all(b"\n"))
                {
                    io_err = Some(e);
                }
            }
            bar.inc(1);
        })?;
        if let Some(e) = io_err {
            return Err(e).with_context(|| format!("cannot write {}", steps_path.display()));
        }
        episodes.push(summary);
    }
    w.flush()
        .with_context(|| format!("cannot write {}", steps_path.display()))?;
    bar.finish_and_clear();

    let summary = RolloutSummary::new(&cfg, &episodes);
    let manifest = Manifest {
        genreward_version: env!("CARGO_PKG_VERSION"),
        command: std::env::args().collect(),
        task: task.name(),
        metaworld_name: task.v3_name(),
        config: &cfg,
        files: vec!["steps.jsonl"],
        episodes: &episodes,
        summary: &summary,
    };
    let mpath = a.out.join("manifest.json");
    fs::write(&mpath, serde_json::to_string_pretty(&manifest)? + "\n")
        .with_context(|| format!("cannot write {}", mpath.display()))?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

#[derive(serde::Serialize)]
struct BenchResult {
    task: String,
    policy: String,
    envs: usize,
    threads: usize,
    steps: usize,
    seconds: f64,
    steps_per_sec: f64,
    profile: &'static str,
}

fn bench(a: BenchArgs) -> Result<()> {
    let task = parse_task(&a.task)?;
    let policy = parse_policy(&a.policy)?;
    if a.steps == 0 {
        bail!("--steps must be at least 1");
    }
    if a.envs == 0 {
        bail!("--envs must be at least 1");
    }
    let physics = PhysicsConfig::default();
    let (steps, seconds, threads) = if a.envs == 1 {
        let mut env = Env::new(task, a.seed, physics);
        let mut pol = Policy::new(policy, task, 0.0, a.seed as u64);
        let t0 = Instant::now();
        for _ in 0..a.steps {
            let act = pol.act(env.last_obs());
            let r = env.step(act)?;
            if r.truncated {
                env.reset();
            }
        }
        (a.steps, t0.elapsed().as_secs_f64(), 1)
    } else {
        let mut venv = VecEnv::new(
            task,
            a.envs,
            a.seed,
            physics,
            genreward_sim::env::MAX_PATH_LENGTH,
        );
        let mut pols: Vec<Policy> = (0..a.envs)
            .map(|i| Policy::new(policy, task, 0.0, i as u64))
            .collect();
        let rounds = a.steps.div_ceil(a.envs);
        let t0 = Instant::now();
        for _ in 0..rounds {
            let obs = venv.observations();
            let acts: Vec<[f64; 4]> = pols.iter_mut().zip(&obs).map(|(p, o)| p.act(o)).collect();
            venv.step(&acts)?;
        }
        (
            rounds * a.envs,
            t0.elapsed().as_secs_f64(),
            rayon::current_num_threads(),
        )
    };
    let res = BenchResult {
        task: task.name().into(),
        policy: policy.to_string(),
        envs: a.envs,
        threads,
        steps,
        seconds,
        steps_per_sec: steps as f64 / seconds,
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    };
    println!("{}", serde_json::to_string(&res)?);
    Ok(())
}

fn parity(dir: &Path) -> Result<()> {
    let report = parity_dir(dir)?;
    println!("{report}");
    if !report.passed() {
        bail!(
            "parity failed: an error exceeds {:e} or a flag differs",
            genreward_sim::fixture::PARITY_TOLERANCE
        );
    }
    Ok(())
}
