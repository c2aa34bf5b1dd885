//! `genreward heatmap`: the reward field (r_fb with the hand or the object at each cell of a
//! grid over the table, see `genreward_reward::field`) drawn over a top view of the scene, with
//! a colour bar. The app draws the same field on the table (a later issue); [`draw_field`] is
//! shared.

use crate::score::{parse_device, vae_dir};
use anyhow::{bail, Context, Result};
use genreward_record::picture::{colormap, Picture};
use genreward_render::{render_envs, CameraName, Renderer, View, ViewSpec};
use genreward_reward::features::StateKind;
use genreward_reward::field::{
    field_positions, reward_field, reward_field_frames, FieldGrid, FieldSubject, RewardField,
};
use genreward_reward::load::vae_frame_size;
use genreward_reward::{load_genreward, FbChoice, GenRewardSpec};
use genreward_sim::world::moved_shapes;
use genreward_sim::{Actor, Env, Observation, PhysicsConfig, Policy, PolicyKind, TaskKind};
use glam::{Vec3, Vec4};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct HeatmapArgs {
    #[arg(long)]
    task: String,
    /// Placement seed of the scene.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u32,
    /// The goal video (default: the expert's on this seed, as `genreward goal` makes it).
    #[arg(long)]
    goal: Option<PathBuf>,
    /// Where to save the picture (.png).
    #[arg(long)]
    out: PathBuf,
    /// Whose position the field moves: hand or object.
    #[arg(long, default_value = "hand")]
    subject: String,
    /// Let the expert act this many steps first (the field of a state mid-task).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    at_step: usize,
    /// Cells per side of the grid over the hand's reachable box.
    #[arg(long, default_value_t = 32, allow_negative_numbers = true)]
    grid: usize,
    /// Side of the picture's top view in pixels.
    #[arg(long, default_value_t = 512, allow_negative_numbers = true)]
    size: u32,
    /// FB checkpoint folder (default: the shipped one).
    #[arg(long)]
    fb: Option<PathBuf>,
    /// The VAE the FB model's goal features come from (default: the shipped one).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// CLIP weights to pick the goal frame by the task's sentence.
    #[arg(long)]
    clip: Option<PathBuf>,
    /// DINO weights of an FB checkpoint trained with `train fb --dino` (default: the folder it
    /// was trained with).
    #[arg(long)]
    dino: Option<PathBuf>,
    /// The goal frame (0-15; default: chosen as `score` does).
    #[arg(long, allow_negative_numbers = true)]
    goal_frame: Option<usize>,
    #[arg(long, default_value = "cpu")]
    device: String,
    /// The camera an FB model that reads frames was trained on (the dataset's): the field's
    /// cells are re-rendered from it.
    #[arg(long, default_value = "corner2")]
    camera: String,
}

#[derive(serde::Serialize)]
struct HeatmapSummary {
    task: String,
    seed: u32,
    at_step: usize,
    subject: FieldSubject,
    grid: FieldGrid,
    goal_frame: usize,
    min: f64,
    max: f64,
    /// Mean over the grid.
    mean: f64,
    /// Cell centre (x, y) with the largest r_fb.
    argmax: (f64, f64),
    /// The field at the task's goal position (x, y), null outside the grid.
    at_target: Option<f64>,
    /// Where the hand and the object are (x, y, z).
    hand: [f64; 3],
    object: [f64; 3],
    /// The task's goal position (x, y, z).
    target: [f64; 3],
    /// Milliseconds to score the whole grid (one batch).
    ms_field: f64,
    /// Rendering (frame-state models), encoding and scoring, in milliseconds.
    ms_field_total: f64,
    /// What F reads: obs39 or frame.
    state: StateKind,
    out: String,
}

pub fn heatmap(a: HeatmapArgs) -> Result<()> {
    let task: TaskKind = a.task.parse()?;
    let subject: FieldSubject = a.subject.parse()?;
    let device = parse_device(&a.device)?;
    crate::check_png(&a.out)?;
    if a.grid < 2 || a.grid > 256 {
        bail!("--grid must be between 2 and 256 (got {})", a.grid);
    }
    if !(64..=4096).contains(&a.size) {
        bail!("--size must be between 64 and 4096 (got {})", a.size);
    }
    let vae = vae_dir(&a.vae);
    let fsize = vae_frame_size(&vae)?;
    let mut renderer = Renderer::new()?;
    // The goal: the user's file, or the expert's video on this seed written to a temporary file.
    let tmp = tempfile::tempdir().context("cannot make a temporary folder")?;
    let goal_path = match &a.goal {
        Some(p) => p.clone(),
        None => {
            let view = ViewSpec::parse("corner2", &format!("{fsize}x{fsize}"))
                .map_err(anyhow::Error::msg)?;
            let g = crate::goal::expert_goal(task, a.seed, view, 0, &mut renderer)?;
            let p = tmp.path().join("goal.npy");
            genreward_record::save_frames(&p, g.video.width, g.video.height, 20, &g.video.frames)?;
            p
        }
    };
    let spec = GenRewardSpec {
        vae: vae.clone(),
        vae_is_default: a.vae.is_none(),
        fb: match &a.fb {
            Some(p) => FbChoice::Path(p.clone()),
            None => FbChoice::Default,
        },
        every: genreward_reward::DEFAULT_EVERY,
        goal_frame: a.goal_frame,
        clip: a.clip.clone().map(|d| (d, task.goal_text().to_string())),
        dino: a.dino.clone(),
        device,
    };
    let mut terms = load_genreward(&goal_path, &spec)?;
    let Some(fb) = terms.fb.as_mut() else {
        bail!(
            "{}",
            terms
                .fb_note
                .clone()
                .unwrap_or_else(|| "no FB representation".into())
        );
    };

    let mut env = Env::new(task, a.seed, PhysicsConfig::default());
    env.set_max_path_length(a.at_step + 2);
    let mut expert = Policy::new(PolicyKind::Expert, task, 0.0, a.seed as u64);
    expert.reset(task, a.seed, 0);
    let mut action = [0.0; 4];
    for step in 0..=a.at_step {
        let obs = *env.last_obs();
        action = Actor::act(
            &mut expert,
            &Observation {
                state: &obs,
                pixels: None,
            },
        );
        if step < a.at_step {
            env.step(action)?;
        }
    }
    let obs = *env.last_obs();
    let grid = FieldGrid::over_hand_box(task, a.grid);
    let t_render = std::time::Instant::now();
    let field = match fb.state_kind() {
        StateKind::Obs39 => reward_field(fb.as_mut(), &obs, &action, subject, &grid)?,
        // `load_terms` refuses such a model outside a live agent's run.
        StateKind::Model => bail!("the reward field needs an FB on the 39-d state or frames"),
        StateKind::Frame => {
            // Re-rendered per cell from the FB model's camera, at the VAE's frame size.
            let world = env.world();
            let (shapes, hand) = (world.shapes(), world.hand_pos());
            let object = [obs[4], obs[5], obs[6]];
            let now = match subject {
                FieldSubject::Hand => hand,
                FieldSubject::Object => object,
            };
            let sets: Vec<(Vec<_>, [f64; 3])> = field_positions(now, &grid)
                .into_iter()
                .map(|p| match subject {
                    FieldSubject::Hand => (moved_shapes(&shapes, hand, Some(p), None), p),
                    FieldSubject::Object => {
                        let d = [p[0] - object[0], p[1] - object[1], 0.0];
                        (moved_shapes(&shapes, hand, None, Some(d)), hand)
                    }
                })
                .collect();
            let cam = ViewSpec::parse(&a.camera, &format!("{fsize}x{fsize}"))
                .map_err(anyhow::Error::msg)?;
            let views: Vec<View> = sets
                .iter()
                .map(|(s, h)| View {
                    shapes: s,
                    camera: cam.camera.pose(*h),
                })
                .collect();
            let frames = renderer.render(&views, cam.width, cam.height)?;
            let refs: Vec<&[u8]> = frames.iter().map(|f| f.rgb.as_slice()).collect();
            reward_field_frames(
                fb.as_mut(),
                &refs,
                cam.width,
                cam.height,
                &action,
                subject,
                &grid,
            )?
        }
    };
    let ms_total = t_render.elapsed().as_secs_f64() * 1e3;

    let view = ViewSpec {
        camera: CameraName::Topview,
        width: a.size,
        height: a.size,
    };
    let top = render_envs(&mut renderer, &[env.world()], view)?.remove(0);
    let hand = [obs[0], obs[1], obs[2]];
    let object = [obs[4], obs[5], obs[6]];
    let target = [obs[36], obs[37], obs[38]];
    let pose = CameraName::Topview.pose(hand);
    let pic = draw_field(
        Picture::from_rgb(top.width, top.height, top.rgb),
        &pose.view_proj(1.0),
        &field,
        &[
            (hand, [255, 255, 255]),
            (object, [255, 140, 0]),
            (target, [255, 40, 40]),
        ],
    );
    let title = format!(
        "r_fb field ({}) {} seed {} step {} goal frame {}",
        match subject {
            FieldSubject::Hand => "hand",
            FieldSubject::Object => "object",
        },
        task.name(),
        a.seed,
        a.at_step,
        terms.goal_frame.frame
    );
    let mut pic = pic;
    pic.text(4, 4, &title, 1, [240, 240, 240]);
    pic.text(
        4,
        18,
        "white: hand  orange: object  red: target",
        1,
        [200, 200, 200],
    );
    pic.save_png(&a.out)?;
    let (min, max) = field.range();
    let summary = HeatmapSummary {
        task: task.name().into(),
        seed: a.seed,
        at_step: a.at_step,
        subject,
        grid,
        goal_frame: terms.goal_frame.frame,
        min,
        max,
        mean: field.values.iter().sum::<f64>() / field.values.len() as f64,
        argmax: field.argmax(),
        at_target: field.sample(target[0], target[1]),
        hand,
        object,
        target,
        ms_field: field.ms,
        ms_field_total: ms_total,
        state: fb.state_kind(),
        out: a.out.display().to_string(),
    };
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

/// Pixel of world point `p` in an image seen through `view_proj` (NDC y up, row 0 at the top).
fn project(view_proj: &glam::Mat4, p: Vec3, w: u32, h: u32) -> Option<(f64, f64)> {
    let c = *view_proj * Vec4::new(p.x, p.y, p.z, 1.0);
    if c.w <= 0.0 {
        return None;
    }
    let (x, y) = (c.x / c.w, c.y / c.w);
    Some((
        (x as f64 + 1.0) * 0.5 * w as f64,
        (1.0 - y as f64) * 0.5 * h as f64,
    ))
}

/// Draws `field` on the table plane (z = 0) of `top` (an image seen through `view_proj`) as a
/// translucent colour map, marks `points` (world position, colour) with crosses, and adds a
/// colour bar with the field's range on the right.
pub fn draw_field(
    top: Picture,
    view_proj: &glam::Mat4,
    field: &RewardField,
    points: &[([f64; 3], [u8; 3])],
) -> Picture {
    const BAR: u32 = 90;
    let (w, h) = (top.width, top.height);
    let (lo, hi) = field.range();
    let span = (hi - lo).max(1e-12);
    let inv = view_proj.inverse();
    let mut pic = Picture::new(w + BAR, h, [24, 24, 28]);
    pic.blit(&top.rgb, w, h, 0, 0, 1);
    const OPACITY: f64 = 0.6;
    for py in 0..h {
        for px in 0..w {
            // The pixel's ray, met with the table plane.
            let nx = (px as f32 + 0.5) / w as f32 * 2.0 - 1.0;
            let ny = 1.0 - (py as f32 + 0.5) / h as f32 * 2.0;
            let a = inv * Vec4::new(nx, ny, 0.0, 1.0);
            let b = inv * Vec4::new(nx, ny, 1.0, 1.0);
            let (a, b) = (a.truncate() / a.w, b.truncate() / b.w);
            if (b.z - a.z).abs() < 1e-9 {
                continue;
            }
            let t = -a.z / (b.z - a.z);
            let q = a + (b - a) * t;
            if let Some(v) = field.sample(q.x as f64, q.y as f64) {
                let c = colormap((v - lo) / span);
                let under = pic.get(px, py);
                let mixed = [0, 1, 2].map(|k| {
                    (OPACITY * c[k] as f64 + (1.0 - OPACITY) * under[k] as f64).round() as u8
                });
                pic.put(px as i64, py as i64, mixed);
            }
        }
    }
    for (p, color) in points {
        let world = Vec3::new(p[0] as f32, p[1] as f32, 0.0);
        if let Some((x, y)) = project(view_proj, world, w, h) {
            let (x, y) = (x.round() as i64, y.round() as i64);
            for d in -7..=7i64 {
                for t in -1..=1i64 {
                    pic.put(x + d, y + t, *color);
                    pic.put(x + t, y + d, *color);
                }
            }
        }
    }
    // The colour bar: high at the top.
    let (x0, y0, bh) = (w as i64 + 12, 40i64, h as i64 - 80);
    for y in 0..bh {
        let c = colormap(1.0 - y as f64 / (bh - 1).max(1) as f64);
        pic.fill(x0, y0 + y, 20, 1, c);
    }
    pic.text(x0 - 4, y0 - 22, &format!("{hi:.0}"), 1, [230, 230, 230]);
    pic.text(x0 - 4, y0 + bh + 6, &format!("{lo:.0}"), 1, [230, 230, 230]);
    pic.text(x0 - 4, y0 + bh / 2, "r_fb", 1, [230, 230, 230]);
    pic
}
