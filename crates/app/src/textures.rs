//! The pictures the panel shows, as Bevy images egui draws: the agent view, the imagination
//! view, the goal's sampled frames, the goal video playing and the reward field's picture.
//! Refreshed before the panel is drawn, each only when what it shows changed (updated in
//! place when the size stays, so its egui texture id stays).

use crate::reward::{FieldView, Goal};
use crate::sim::{Shown, SimRead, IMAGINE_AHEAD};
use bevy::ecs::system::SystemParam;
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy_egui::{egui, EguiContexts, EguiTextureHandle};

/// A Bevy image shown by egui: its handle, egui id and size.
pub type Uploaded = (Handle<Image>, egui::TextureId, u32, u32);

/// Frames per second the goal video plays at in the panel (goal videos are recorded at the
/// 80 Hz control rate: this is a quarter of real time, slow enough to follow).
pub const GOAL_PLAY_FPS: f64 = 20.0;

/// The agent view at the timeline's step.
#[derive(Resource, Default)]
pub struct AgentTexture {
    pub image: Option<Uploaded>,
    /// The frame shown: the live frame's serial and the timeline's cursor.
    serial: (u64, Option<usize>),
}

/// The imagination view's pictures: the frame the agent saw, its model state decoded, the
/// frame it imagined `IMAGINE_AHEAD` steps on, and the frame that came then (when it has).
#[derive(Resource, Default)]
pub struct ImaginationTextures {
    /// (episode, step shown, whether the later real frame exists) of the pictures held.
    key: Option<(u64, usize, bool)>,
    pub slots: [Option<Uploaded>; 4],
    /// The pictures to show now: slot and caption.
    pub shown: Vec<(usize, String)>,
}

/// The goal's 16 sampled frames (made once per goal), the goal video playing and the reward
/// field's picture.
#[derive(Resource, Default)]
pub struct GoalTextures {
    pub ids: Vec<(egui::TextureId, u32, u32)>,
    /// The goal serial the strip shows.
    goal_serial: u64,
    /// The goal video playing: its image, texture, size and the frame it shows.
    pub player: Option<(Handle<Image>, egui::TextureId, u32, u32, usize)>,
    /// The reward field's picture: its image, texture, size and the serial it shows.
    pub field: Option<(Handle<Image>, egui::TextureId, u32, u32, u64)>,
    /// The last generated samples' last frames, and the generation they show.
    pub samples: Vec<(egui::TextureId, u32, u32)>,
    samples_serial: u64,
}

/// The panel's textures and where they are made.
#[derive(SystemParam)]
pub struct Textures<'w, 's> {
    contexts: EguiContexts<'w, 's>,
    images: ResMut<'w, Assets<Image>>,
    agent: ResMut<'w, AgentTexture>,
    imagination: ResMut<'w, ImaginationTextures>,
    goal: ResMut<'w, GoalTextures>,
}

pub struct TexturesPlugin;

impl Plugin for TexturesPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<AgentTexture>()
            .init_resource::<ImaginationTextures>()
            .init_resource::<GoalTextures>();
    }
}

/// Brings every picture up to date with what the panel is about to show.
pub(crate) fn refresh(
    mut tex: Textures,
    sim: SimRead,
    goal: Res<Goal>,
    field: Res<FieldView>,
    time: Res<Time>,
) {
    let Textures {
        contexts,
        images,
        agent,
        imagination,
        goal: goal_tex,
    } = &mut tex;
    agent.update(sim.shown(), images, contexts);
    goal_tex.ensure(&goal, &field, images, contexts, time.elapsed_secs_f64());
    imagination.update(sim.shown(), images, contexts);
}

/// An RGB picture (`w x h`, display-ready bytes) as a Bevy image egui shows with the very same
/// values (sRGB), sampled with `sampler`.
pub fn rgb_image(rgb: &[u8], w: u32, h: u32, sampler: ImageSampler) -> Image {
    let rgba: Vec<u8> = rgb
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    let mut img = Image::new(
        bevy::render::render_resource::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        bevy::render::render_resource::TextureDimension::D2,
        rgba,
        bevy::render::render_resource::TextureFormat::Rgba8UnormSrgb,
        bevy::asset::RenderAssetUsages::default(),
    );
    img.sampler = sampler;
    img
}

/// Puts `rgb` (`w x h`) into `slot`: in place when the size is the same (the egui texture id
/// stays), else as a new image.
fn upload(
    slot: &mut Option<Uploaded>,
    rgb: &[u8],
    (w, h): (u32, u32),
    images: &mut Assets<Image>,
    contexts: &mut EguiContexts,
) {
    if let Some((handle, _, sw, sh)) = slot {
        if (*sw, *sh) == (w, h) {
            if let Some(mut img) = images.get_mut(handle) {
                img.data = Some(
                    rgb.chunks_exact(3)
                        .flat_map(|p| [p[0], p[1], p[2], 255])
                        .collect(),
                );
                return;
            }
        }
    }
    let img = rgb_image(rgb, w, h, ImageSampler::nearest());
    let handle = images.add(img);
    let id = contexts.add_image(EguiTextureHandle::Strong(handle.clone()));
    *slot = Some((handle, id, w, h));
}

impl AgentTexture {
    fn update(&mut self, sim: Shown, images: &mut Assets<Image>, contexts: &mut EguiContexts) {
        let now = (sim.view.serial, sim.timeline.cursor);
        if self.serial == now {
            return;
        }
        self.serial = now;
        let Some(f) = sim.frame() else { return };
        upload(
            &mut self.image,
            &f.rgb,
            (f.width, f.height),
            images,
            contexts,
        );
    }
}

impl ImaginationTextures {
    fn update(&mut self, sim: Shown, images: &mut Assets<Image>, contexts: &mut EguiContexts) {
        let history = &sim.episode.history;
        let Some(t) = sim.timeline.cursor.or(history.len().checked_sub(1)) else {
            self.key = None;
            self.shown.clear();
            return;
        };
        let frames = &sim.view.frames;
        let later = frames.get(t + IMAGINE_AHEAD);
        let key = (sim.episode.serial, t, later.is_some());
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        self.shown.clear();
        let Some(Some((now, ahead))) = sim.episode.imagined.get(t) else {
            return;
        };
        let side = genreward_models::dreamer::world::IMAGE as u32;
        let t2 = t + IMAGINE_AHEAD;
        let pictures = [
            frames.get(t).map(|f| {
                (
                    f.rgb.as_slice(),
                    f.width,
                    f.height,
                    format!("seen, step {t}"),
                )
            }),
            Some((now.as_slice(), side, side, format!("model, step {t}"))),
            Some((ahead.as_slice(), side, side, format!("imagined, step {t2}"))),
            later.map(|f| {
                (
                    f.rgb.as_slice(),
                    f.width,
                    f.height,
                    format!("seen, step {t2}"),
                )
            }),
        ];
        for (i, p) in pictures.into_iter().enumerate() {
            let Some((rgb, w, h, caption)) = p else {
                continue;
            };
            if rgb.len() == (w * h * 3) as usize {
                upload(&mut self.slots[i], rgb, (w, h), images, contexts);
                self.shown.push((i, caption));
            }
        }
    }
}

impl GoalTextures {
    /// Shows the goal video's frame for `seconds` since start, looping.
    fn play(
        &mut self,
        goal: &Goal,
        images: &mut Assets<Image>,
        contexts: &mut EguiContexts,
        seconds: f64,
    ) {
        let Some(Some((k, w, h, rgb))) = goal.loaded().map(|s| {
            let v = &s.goal.video;
            let k = (seconds * GOAL_PLAY_FPS) as usize % v.len().max(1);
            let stale = self.player.as_ref().is_none_or(|p| p.4 != k);
            stale.then(|| (k, v.width, v.height, v.frames[k].clone()))
        }) else {
            return;
        };
        let img = rgb_image(&rgb, w, h, ImageSampler::linear());
        if let Some(p) = &mut self.player {
            if (p.2, p.3) == (w, h) {
                if let Some(mut i) = images.get_mut(&p.0) {
                    *i = img;
                    p.4 = k;
                    return;
                }
            }
        }
        let handle = images.add(img);
        let id = contexts.add_image(EguiTextureHandle::Strong(handle.clone()));
        self.player = Some((handle, id, w, h, k));
    }

    /// The reward field's picture, when it changed.
    fn field_picture(
        &mut self,
        field: &FieldView,
        images: &mut Assets<Image>,
        contexts: &mut EguiContexts,
    ) {
        let Some(p) = &field.picture else { return };
        let stale = self
            .field
            .as_ref()
            .is_none_or(|f| f.4 != field.picture_serial);
        if !stale {
            return;
        }
        let img = rgb_image(&p.rgb, p.width, p.height, ImageSampler::linear());
        let reuse = self
            .field
            .as_ref()
            .and_then(|f| ((f.2, f.3) == (p.width, p.height)).then(|| (f.0.clone(), f.1)));
        let (handle, id) = match reuse.and_then(|(h, id)| {
            images.get_mut(&h).map(|mut i| {
                *i = img.clone();
                (h.clone(), id)
            })
        }) {
            Some(x) => x,
            None => {
                let h = images.add(img);
                let id = contexts.add_image(EguiTextureHandle::Strong(h.clone()));
                (h, id)
            }
        };
        self.field = Some((handle, id, p.width, p.height, field.picture_serial));
    }

    /// Plays the goal video, follows the field's picture, and uploads the sampled goal frames
    /// the first time there is a goal (again for another goal).
    fn ensure(
        &mut self,
        goal: &Goal,
        field: &FieldView,
        images: &mut Assets<Image>,
        contexts: &mut EguiContexts,
        seconds: f64,
    ) {
        self.play(goal, images, contexts, seconds);
        self.field_picture(field, images, contexts);
        if self.samples_serial != goal.generated.serial {
            self.samples_serial = goal.generated.serial;
            self.samples.clear();
            for s in &goal.generated.made {
                if s.last.len() == (s.size * s.size * 3) as usize {
                    let img = rgb_image(&s.last, s.size, s.size, ImageSampler::nearest());
                    let handle = images.add(img);
                    let id = contexts.add_image(EguiTextureHandle::Strong(handle));
                    self.samples.push((id, s.size, s.size));
                }
            }
        }
        if self.goal_serial != goal.serial {
            self.goal_serial = goal.serial;
            self.ids.clear();
            self.player = None;
        }
        if !self.ids.is_empty() {
            return;
        }
        let Some((frames, w, h)) = goal.loaded().map(|s| {
            let g = &s.goal;
            (g.window.clone(), g.size, g.size)
        }) else {
            return;
        };
        for f in frames {
            let img = rgb_image(&f, w, h, ImageSampler::nearest());
            let handle = images.add(img);
            let id = contexts.add_image(EguiTextureHandle::Strong(handle));
            self.ids.push((id, w, h));
        }
    }
}
