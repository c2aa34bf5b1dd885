//! What every command shares: the progress bar's one style, the Ctrl-C flag, GenReward's
//! flags (turned into the library's [`RewardSettings`]), and printing a report as the last
//! JSON line.

use anyhow::{bail, Result};
use genreward_models::DeviceKind;
use genreward_reward::{
    FbChoice, RewardSettings, DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_EVERY, WINDOW,
};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// A progress bar over `len` `unit`s (steps, frames, episodes), in the one style of the CLI.
pub fn bar(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template =
        format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Prints `report` as the command's last stdout line (JSON).
pub fn print_json(report: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string(report)?);
    Ok(())
}

/// Set by the first Ctrl-C: long commands finish the step in hand, complete their files (the
/// video stays playable) and stop. A second Ctrl-C exits at once.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let installed = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("stopping after this step (Ctrl-C again to quit at once)");
        });
        if let Err(e) = installed {
            tracing::warn!("Ctrl-C handler not installed: {e}");
        }
        flag
    })
    .clone()
}

/// Refuses an output path that is not a .png file name, before any work is done.
pub fn check_png(path: &std::path::Path) -> Result<()> {
    let png = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !png {
        bail!("'{}' is not a .png file name", path.display());
    }
    Ok(())
}

/// GenReward's flags: reward = r_env + alpha * r_video + beta * r_fb.
#[derive(clap::Args, Debug, Clone)]
pub struct RewardArgs {
    /// Video VAE checkpoint folder (default: the shipped assets/models/vae).
    #[arg(long)]
    pub vae: Option<PathBuf>,
    /// Compute r_video every K steps, paid where step + 1 is a multiple of K.
    #[arg(long, default_value_t = DEFAULT_EVERY, allow_negative_numbers = true)]
    pub every: usize,
    /// Weight of r_video.
    #[arg(long, default_value_t = DEFAULT_ALPHA, allow_negative_numbers = true)]
    pub alpha: f64,
    /// FB checkpoint folder for r_fb (default: the shipped assets/models/fb; left out with a
    /// warning when --vae is not the VAE it was trained with).
    #[arg(long)]
    pub fb: Option<PathBuf>,
    /// Leave r_fb out.
    #[arg(long, conflicts_with = "fb")]
    pub no_fb: bool,
    /// Weight of r_fb.
    #[arg(long, default_value_t = DEFAULT_BETA, allow_negative_numbers = true)]
    pub beta: f64,
    /// The goal frame r_fb aims at: an index 0-15 into the goal video's sampled frames
    /// (default: chosen; see `genreward goal-frame`).
    #[arg(long, allow_negative_numbers = true)]
    pub goal_frame: Option<usize>,
    /// CLIP weights (OpenCLIP layout: *.safetensors, open_clip_config.json, the BPE vocabulary)
    /// to pick the goal frame by the task's sentence (default: the last sampled frame).
    #[arg(long)]
    pub clip: Option<PathBuf>,
    /// DINO weights (transformers layout) of an FB checkpoint trained with `train fb --dino`
    /// (default: the folder it was trained with, checked by fingerprint).
    #[arg(long)]
    pub dino: Option<PathBuf>,
    /// Backend of the models: cpu (burn-flex) or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
}

impl RewardArgs {
    /// The library's settings, the flags checked (errors name the flag).
    pub fn settings(&self) -> Result<RewardSettings> {
        for (name, v) in [("--alpha", self.alpha), ("--beta", self.beta)] {
            if !v.is_finite() {
                bail!("{name} must be a finite number (got {v})");
            }
        }
        if self.every == 0 {
            bail!("--every must be at least 1");
        }
        check_goal_frame(self.goal_frame)?;
        Ok(RewardSettings {
            vae: self.vae.clone(),
            every: self.every,
            alpha: self.alpha,
            fb: match (&self.fb, self.no_fb) {
                (_, true) => FbChoice::Off,
                (Some(p), false) => FbChoice::Path(p.clone()),
                (None, false) => FbChoice::Default,
            },
            beta: self.beta,
            goal_frame: self.goal_frame,
            clip: self.clip.clone(),
            dino: self.dino.clone(),
            device: self.device,
            live_agent: false,
        })
    }
}

/// The goal-video generator's flags (`goal --source generated`, `--goal generated` of
/// `rollout`, `score` and `train dreamer`), but the sampler's steps: `--steps` ([`GenSteps`])
/// where the command has no steps of its own, `--gen-steps` in `train dreamer`.
#[derive(clap::Args, Debug, Clone)]
pub struct GenArgs {
    /// Samples drawn from the generator (one batch); --pick makes the goal of them.
    #[arg(long, default_value_t = genreward_reward::DEFAULT_GEN_SAMPLES, allow_negative_numbers = true)]
    pub samples: usize,
    /// mean (the samples' mean latent, decoded: the default, measured the better reward goal),
    /// medoid (the sample nearest that mean) or first.
    #[arg(long, default_value_t = genreward_reward::DEFAULT_GEN_PICK)]
    pub pick: genreward_reward::SamplePick,
    /// Seed of the generator's noise: (task, first frame, gen seed) fix the video.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub gen_seed: u64,
    /// Classifier-free guidance weight (default: the generator's own).
    #[arg(long, allow_negative_numbers = true)]
    pub guidance: Option<f64>,
    /// Generator checkpoint folder (default: the shipped assets/models/goalgen).
    #[arg(long)]
    pub generator: Option<PathBuf>,
}

/// The generator sampler's `--steps`.
#[derive(clap::Args, Debug, Clone)]
pub struct GenSteps {
    /// Euler steps of the generator's sampler (default: the generator's own).
    #[arg(long, allow_negative_numbers = true)]
    pub steps: Option<usize>,
}

impl GenArgs {
    /// The library's settings with `steps` Euler steps (given by the flag `steps_flag`), the
    /// flags checked (errors name the flag).
    pub fn settings(
        &self,
        steps: Option<usize>,
        steps_flag: &str,
    ) -> Result<genreward_reward::GenSettings> {
        if self.samples == 0 {
            bail!("--samples must be at least 1");
        }
        if steps == Some(0) {
            bail!("{steps_flag} must be at least 1");
        }
        if let Some(g) = self.guidance.filter(|g| !g.is_finite()) {
            bail!("--guidance must be a finite number (got {g})");
        }
        Ok(genreward_reward::GenSettings {
            steps,
            guidance: self.guidance,
            samples: self.samples,
            pick: self.pick,
            seed: self.gen_seed,
        })
    }

    /// The generator loaded for per-episode goals (`--goal generated`) with the reward's VAE
    /// and device, sampling with `steps` Euler steps (`--steps`).
    pub fn episode_goals(
        &self,
        steps: Option<usize>,
        reward: &genreward_reward::RewardSettings,
    ) -> Result<genreward_run::EpisodeGoals> {
        Ok(genreward_run::EpisodeGoals::load(
            &self.dir(),
            &reward.vae_dir(),
            &self.settings(steps, "--steps")?,
            reward.device,
        )?)
    }

    /// The generator's folder.
    pub fn dir(&self) -> PathBuf {
        self.generator
            .clone()
            .unwrap_or_else(genreward_reward::default_goalgen_dir)
    }
}

/// Prints the note a load left (r_fb left out, and why) as a warning line.
pub fn warn_fb_note(terms: &genreward_reward::GenRewardTerms) {
    if let Some(note) = &terms.fb_note {
        eprintln!("warning: {note}");
    }
}

/// `--goal-frame` indexes the goal video's 16 sampled frames.
pub fn check_goal_frame(frame: Option<usize>) -> Result<()> {
    if let Some(k) = frame.filter(|k| *k >= WINDOW) {
        bail!(
            "--goal-frame {k} is out of range: the goal video is sampled to {WINDOW} frames (0..={})",
            WINDOW - 1
        );
    }
    Ok(())
}
