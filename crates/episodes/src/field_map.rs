//! The reward field as a picture (`genreward heatmap`): r_fb with the hand or the object at
//! each cell of a grid over the table (see `genreward_reward::field`), drawn over a top view
//! of the scene the expert reached, with a colour bar ([`field_map`]). The app draws the same
//! field on its table with [`draw_field`].

use crate::error::bail;
use crate::Result;
use genreward_record::picture::{colormap, Picture};
use genreward_render::{render_envs, CameraName, Renderer, View, ViewSpec};
use genreward_reward::features::StateKind;
use genreward_reward::field::{
    field_positions, reward_field, reward_field_frames, FieldGrid, FieldSubject, RewardField,
};
use genreward_reward::load::vae_frame_size;
use genreward_reward::{load_terms, RewardSettings};
use genreward_sim::obs;
use genreward_sim::world::moved_shapes;
use genreward_sim::{Actor, Env, Observation, PhysicsConfig, Policy, PolicyKind, TaskKind};
use glam::{Vec3, Vec4};
use std::path::PathBuf;

/// What [`field_map`] draws.
#[derive(Clone, Debug)]
pub struct FieldMapConfig {
    pub task: TaskKind,
    /// Placement seed of the scene.
    pub seed: u32,
    /// The expert runs this many steps first.
    pub at_step: usize,
    /// Whose position the field moves.
    pub subject: FieldSubject,
    /// Cells per side of the grid (2-256).
    pub grid: usize,
    /// Side of the top view in pixels (64-4096).
    pub size: u32,
    /// The goal video (`None`: the expert's on this seed).
    pub goal: Option<PathBuf>,
    /// The models (VAE, FB, goal frame, CLIP, DINO, device); r_fb must be on.
    pub reward: RewardSettings,
    /// The FB model's camera, for an FB reading frames.
    pub camera: CameraName,
}

/// What [`field_map`] found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FieldMapReport {
    pub task: String,
    pub seed: u32,
    pub at_step: usize,
    pub subject: FieldSubject,
    pub grid: FieldGrid,
    pub goal_frame: usize,
    pub min: f64,
    pub max: f64,
    /// Mean over the grid.
    pub mean: f64,
    /// Cell centre (x, y) with the largest r_fb.
    pub argmax: (f64, f64),
    /// The field at the task's goal position (x, y), null outside the grid.
    pub at_target: Option<f64>,
    /// Where the hand and the object are (x, y, z).
    pub hand: [f64; 3],
    pub object: [f64; 3],
    /// The task's goal position (x, y, z).
    pub target: [f64; 3],
    /// Milliseconds to score the whole grid (one batch).
    pub ms_field: f64,
    /// Rendering (frame-state models), encoding and scoring, in milliseconds.
    pub ms_field_total: f64,
    /// What F reads: obs39 or frame.
    pub state: StateKind,
}

/// Runs the expert `at_step` steps from the seed's scene, scores r_fb over the grid, and draws
/// it over a top view; returns the picture and the figures.
pub fn field_map(a: &FieldMapConfig) -> Result<(Picture, FieldMapReport)> {
    let (task, subject) = (a.task, a.subject);
    if a.grid < 2 || a.grid > 256 {
        bail!("the grid must have 2 to 256 cells a side (got {})", a.grid);
    }
    if !(64..=4096).contains(&a.size) {
        bail!(
            "the picture must be 64 to 4096 pixels a side (got {})",
            a.size
        );
    }
    let fsize = vae_frame_size(&a.reward.vae_dir())?;
    let mut renderer = Renderer::new()?;
    // The goal: the user's file, or the expert's video on this seed.
    let mut terms = match &a.goal {
        Some(p) => load_terms(p, &a.reward, task)?,
        None => {
            let size = genreward_render::Size {
                width: fsize,
                height: fsize,
            };
            let view = ViewSpec::new(CameraName::Corner2, size);
            let g = crate::goal::expert_goal(task, a.seed, view, 0, &mut renderer)?;
            genreward_reward::load_terms_video(g, &a.reward, task)?
        }
    };
    let goal_frame = terms.goal_frame.frame;
    let Some(fb) = terms.fb.as_mut() else {
        let note = terms.fb_note.clone();
        bail!("{}", note.unwrap_or_else(|| "no FB representation".into()));
    };
    let (env, action) = expert_at(task, a.seed, a.at_step)?;
    let obs = *env.last_obs();
    let grid = FieldGrid::over_hand_box(task, a.grid);
    let t_render = std::time::Instant::now();
    let field = match fb.state_kind() {
        StateKind::Obs39 => reward_field(fb.as_mut(), &obs, &action, subject, &grid)?,
        // `load_terms` refuses such a model outside a live agent's run.
        StateKind::Model => bail!("the reward field needs an FB on the 39-d state or frames"),
        StateKind::Frame => {
            let cam = ViewSpec {
                camera: a.camera,
                width: fsize,
                height: fsize,
            };
            let frames = cell_frames(&env, subject, &grid, cam, &mut renderer)?;
            let refs: Vec<&[u8]> = frames.iter().map(|f| f.rgb.as_slice()).collect();
            let (w, h) = (cam.width, cam.height);
            reward_field_frames(fb.as_mut(), &refs, w, h, &action, subject, &grid)?
        }
    };
    let ms_total = t_render.elapsed().as_secs_f64() * 1e3;
    let (hand, object, target) = (obs::hand(&obs), obs::object(&obs), obs::goal(&obs));
    let view = ViewSpec {
        camera: CameraName::Topview,
        width: a.size,
        height: a.size,
    };
    let top = render_envs(&mut renderer, &[env.world()], view)?.remove(0);
    let pose = CameraName::Topview.pose(hand);
    let picture = Picture::from_rgb(top.width, top.height, top.rgb).ok_or_else(|| {
        crate::EpisodesError::Invalid("the renderer returned a frame of the wrong size".into())
    })?;
    let mut pic = draw_field(
        picture,
        &pose.view_proj(1.0),
        &field,
        &[
            (hand, [255, 255, 255]),
            (object, [255, 140, 0]),
            (target, [255, 40, 40]),
        ],
    );
    let title = format!(
        "r_fb field ({subject}) {} seed {} step {} goal frame {goal_frame}",
        task.name(),
        a.seed,
        a.at_step,
    );
    pic.text(4, 4, &title, 1, [240, 240, 240]);
    let legend = "white: hand  orange: object  red: target";
    pic.text(4, 18, legend, 1, [200, 200, 200]);
    let (min, max) = field.range();
    let report = FieldMapReport {
        task: task.name().into(),
        seed: a.seed,
        at_step: a.at_step,
        subject,
        grid,
        goal_frame,
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
    };
    Ok((pic, report))
}

/// The scene after the expert's first `at_step` steps from the seed's, and the action it takes
/// there.
fn expert_at(task: TaskKind, seed: u32, at_step: usize) -> Result<(Env, [f64; 4])> {
    let mut env = Env::new(task, seed, PhysicsConfig::default());
    env.set_max_path_length(at_step + 2);
    let mut expert = Policy::new(PolicyKind::Expert, task, 0.0, seed as u64);
    expert.reset(task, seed, 0);
    let mut action = [0.0; 4];
    for step in 0..=at_step {
        let state = *env.last_obs();
        let seen = Observation {
            state: &state,
            pixels: None,
        };
        action = Actor::act(&mut expert, &seen);
        if step < at_step {
            env.step(action)?;
        }
    }
    Ok((env, action))
}

/// The scene re-rendered from `cam` once per grid cell, with the subject moved to the cell.
fn cell_frames(
    env: &Env,
    subject: FieldSubject,
    grid: &FieldGrid,
    cam: ViewSpec,
    renderer: &mut Renderer,
) -> Result<Vec<genreward_render::Frame>> {
    let world = env.world();
    let (shapes, hand) = (world.shapes(), world.hand_pos());
    let object = obs::object(env.last_obs());
    let now = match subject {
        FieldSubject::Hand => hand,
        FieldSubject::Object => object,
    };
    let sets: Vec<(Vec<_>, [f64; 3])> = field_positions(now, grid)
        .into_iter()
        .map(|p| match subject {
            FieldSubject::Hand => (moved_shapes(&shapes, hand, Some(p), None), p),
            FieldSubject::Object => {
                let d = [p[0] - object[0], p[1] - object[1], 0.0];
                (moved_shapes(&shapes, hand, None, Some(d)), hand)
            }
        })
        .collect();
    let views: Vec<View> = sets
        .iter()
        .map(|(s, h)| View {
            shapes: s,
            camera: cam.camera.pose(*h),
        })
        .collect();
    Ok(renderer.render(&views, cam.width, cam.height)?)
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
