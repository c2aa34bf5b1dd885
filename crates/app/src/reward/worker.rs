//! The GenReward models off the main thread. A worker thread owns the video term and the FB
//! term; the panel sends it each step's agent-view frame, state and action and reads the terms
//! back when they are ready, so an r_video payment (16 frames through the VAE encoder, tens of
//! milliseconds on the CPU) never holds a frame of the window.
//!
//! Jobs run in the order they are sent: the terms of an episode come back in step order, and a
//! goal-frame change or a reward field asked for after step t sees every step up to t. Each job
//! carries the panel's generation (bumped on a new episode or another goal); answers of an older
//! generation are dropped by the panel.

use genreward_render::Frame;
use genreward_reward::fb::StepTerm;
use genreward_reward::features::StateKind;
use genreward_reward::field::{reward_field, FieldGrid, FieldSubject, RewardField};
use genreward_reward::video::FrameTerm;
use genreward_sim::OBS_DIM;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The models the worker runs.
pub struct Models {
    pub video: Box<dyn FrameTerm>,
    pub fb: Option<Box<dyn StepTerm>>,
}

/// One step of the episode, as the models read it.
pub struct StepInput {
    pub t: usize,
    /// The agent-view frame the step's action was chosen from (none without a renderer).
    pub frame: Option<Frame>,
    pub obs: [f64; OBS_DIM],
    pub action: [f64; 4],
    /// Compute the step's terms (a replay only records the inputs, to re-aim r_fb later).
    pub score: bool,
}

enum Job {
    /// Use these models from now on (another goal was loaded).
    Models(Models),
    /// A new episode (or the same one scored again): the video window and the kept inputs empty.
    Reset,
    Step(Box<StepInput>),
    /// Aim r_fb at this goal frame and rescore every step kept so far.
    Aim {
        k: usize,
        frame: Vec<u8>,
    },
    /// The reward field at this state.
    Field {
        obs: Box<[f64; OBS_DIM]>,
        action: [f64; 4],
        subject: FieldSubject,
        grid: FieldGrid,
    },
}

/// What the worker answers.
#[derive(Debug)]
pub enum Done {
    Step {
        t: usize,
        /// `Some` on the steps r_video is paid.
        r_video: Option<f64>,
        r_fb: f64,
        /// Milliseconds of the r_video payment (when paid) and of r_fb.
        ms_video: f64,
        ms_fb: f64,
        error: Option<String>,
    },
    Aimed {
        k: usize,
        r_fb: Result<Vec<f64>, String>,
    },
    Field {
        field: Result<RewardField, String>,
        ms: f64,
    },
    /// A job that panicked inside a model.
    Failed(String),
}

/// The worker thread and its two channels. Dropping it stops the thread after the jobs sent.
pub struct Worker {
    tx: Option<Sender<(u64, Job)>>,
    rx: Mutex<Receiver<(u64, Done)>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Jobs sent whose answer has not been read (jobs that answer: steps that score, aims,
    /// fields).
    in_flight: usize,
}

impl Worker {
    pub fn spawn(models: Models) -> Worker {
        let (tx, jobs) = channel::<(u64, Job)>();
        let (done, rx) = channel::<(u64, Done)>();
        let thread = std::thread::Builder::new()
            .name("genreward-models".into())
            .spawn(move || work(models, jobs, done))
            .expect("cannot start the models' thread");
        Worker {
            tx: Some(tx),
            rx: Mutex::new(rx),
            thread: Some(thread),
            in_flight: 0,
        }
    }

    fn send(&mut self, gen: u64, job: Job, answers: bool) {
        if let Some(tx) = &self.tx {
            if tx.send((gen, job)).is_ok() && answers {
                self.in_flight += 1;
            }
        }
    }

    pub fn replace_models(&mut self, gen: u64, models: Models) {
        self.send(gen, Job::Models(models), false);
    }

    pub fn reset(&mut self, gen: u64) {
        self.send(gen, Job::Reset, false);
    }

    pub fn step(&mut self, gen: u64, input: StepInput) {
        let answers = input.score;
        self.send(gen, Job::Step(Box::new(input)), answers);
    }

    pub fn aim(&mut self, gen: u64, k: usize, frame: Vec<u8>) {
        self.send(gen, Job::Aim { k, frame }, true);
    }

    pub fn field(
        &mut self,
        gen: u64,
        obs: [f64; OBS_DIM],
        action: [f64; 4],
        subject: FieldSubject,
        grid: FieldGrid,
    ) {
        let job = Job::Field {
            obs: Box::new(obs),
            action,
            subject,
            grid,
        };
        self.send(gen, job, true);
    }

    /// The answers ready now; with `wait`, every answer still owed (the thread finishes the
    /// jobs sent). A thread that stopped answers nothing more.
    pub fn answers(&mut self, wait: bool) -> Vec<(u64, Done)> {
        let mut out = Vec::new();
        let Ok(rx) = self.rx.get_mut() else {
            return out;
        };
        while self.in_flight > 0 {
            let got = if wait {
                rx.recv_timeout(Duration::from_secs(600))
            } else {
                rx.try_recv().map_err(|e| match e {
                    std::sync::mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                    std::sync::mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                })
            };
            match got {
                Ok(a) => {
                    self.in_flight -= 1;
                    out.push(a);
                }
                Err(RecvTimeoutError::Timeout) if !wait => break,
                Err(_) => {
                    self.in_flight = 0;
                    out.push((u64::MAX, Done::Failed("the models' thread stopped".into())));
                }
            }
        }
        out
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The worker's side: the models, and the inputs of the episode's steps kept to rescore r_fb
/// when the goal frame changes.
struct State {
    models: Models,
    states: Vec<f32>,
    actions: Vec<f32>,
    /// Per step: whether its inputs are kept (a frame-state model needs the step's frame).
    kept: Vec<bool>,
}

fn work(models: Models, jobs: Receiver<(u64, Job)>, done: Sender<(u64, Done)>) {
    let mut s = State {
        models,
        states: Vec::new(),
        actions: Vec::new(),
        kept: Vec::new(),
    };
    for (gen, job) in jobs {
        let answer = std::panic::catch_unwind(AssertUnwindSafe(|| s.run(job)));
        let answer = match answer {
            Ok(a) => a,
            Err(p) => {
                let what = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a model panicked".into());
                Some(Done::Failed(what.lines().next().unwrap_or("").to_string()))
            }
        };
        if let Some(a) = answer {
            if done.send((gen, a)).is_err() {
                return;
            }
        }
    }
}

impl State {
    fn run(&mut self, job: Job) -> Option<Done> {
        match job {
            Job::Models(m) => {
                self.models = m;
                self.clear();
                None
            }
            Job::Reset => {
                self.clear();
                None
            }
            Job::Step(input) => self.step(*input),
            Job::Aim { k, frame } => {
                let Some(fb) = self.models.fb.as_mut() else {
                    return Some(Done::Aimed {
                        k,
                        r_fb: Err("no FB model".into()),
                    });
                };
                if let Err(e) = fb.set_goal(&frame) {
                    return Some(Done::Aimed {
                        k,
                        r_fb: Err(e.to_string()),
                    });
                }
                let scored = if self.actions.is_empty() {
                    Ok(Vec::new())
                } else {
                    fb.score(&self.states, &self.actions)
                        .map_err(|e| e.to_string())
                };
                // One value per step, 0 where a step could not be scored (as when it was taken).
                let r_fb = scored.map(|v| {
                    let mut v = v.into_iter();
                    self.kept
                        .iter()
                        .map(|&k| if k { v.next().unwrap_or(0.0) } else { 0.0 })
                        .collect()
                });
                Some(Done::Aimed { k, r_fb })
            }
            Job::Field {
                obs,
                action,
                subject,
                grid,
            } => {
                let t0 = Instant::now();
                let field = match self.models.fb.as_mut() {
                    Some(fb) => reward_field(fb.as_mut(), &obs, &action, subject, &grid)
                        .map_err(|e| e.to_string()),
                    None => Err("no r_fb: the reward field needs an FB model".into()),
                };
                Some(Done::Field {
                    field,
                    ms: t0.elapsed().as_secs_f64() * 1e3,
                })
            }
        }
    }

    fn clear(&mut self) {
        self.models.video.reset();
        self.states.clear();
        self.actions.clear();
        self.kept.clear();
    }

    /// Keeps the step's inputs and, when asked, computes its terms.
    fn step(&mut self, input: StepInput) -> Option<Done> {
        let StepInput {
            t,
            frame,
            obs,
            action,
            score,
        } = input;
        let mut r_video = None;
        let mut ms_video = 0.0;
        let mut error = None;
        if score {
            if let Some(f) = &frame {
                match self.models.video.push(&f.rgb, f.width, f.height) {
                    Ok(v) => r_video = v,
                    Err(e) => error = Some(format!("r_video at step {t}: {e}")),
                }
                if r_video.is_some() {
                    ms_video = self.models.video.last_ms();
                }
            }
        }
        let Some(fb) = self.models.fb.as_mut() else {
            return score.then_some(Done::Step {
                t,
                r_video,
                r_fb: 0.0,
                ms_video,
                ms_fb: 0.0,
                error,
            });
        };
        let t0 = Instant::now();
        let state: Vec<f32> = match fb.state_kind() {
            StateKind::Obs39 => obs.iter().map(|&v| v as f32).collect(),
            StateKind::Frame => match &frame {
                Some(f) => fb
                    .frame_states(&[&f.rgb], f.width, f.height)
                    .unwrap_or_else(|e| {
                        error = Some(format!("r_fb at step {t}: {e}"));
                        Vec::new()
                    }),
                None => Vec::new(),
            },
            // The app's terms do not load such a model (`load_terms` refuses it).
            StateKind::Model => Vec::new(),
        };
        let action: Vec<f32> = action.iter().map(|&v| v as f32).collect();
        // A frame-state model without a frame (no renderer) cannot score the step: r_fb is 0.
        self.kept.push(!state.is_empty());
        if !state.is_empty() {
            self.states.extend_from_slice(&state);
            self.actions.extend_from_slice(&action);
        }
        if !score {
            return None;
        }
        let r_fb = if state.is_empty() {
            0.0
        } else {
            match fb.score(&state, &action) {
                Ok(r) => r[0],
                Err(e) => {
                    error = Some(format!("r_fb at step {t}: {e}"));
                    0.0
                }
            }
        };
        Some(Done::Step {
            t,
            r_video,
            r_fb,
            ms_video,
            ms_fb: t0.elapsed().as_secs_f64() * 1e3,
            error,
        })
    }
}
