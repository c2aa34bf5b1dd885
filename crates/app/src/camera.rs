//! The 3D view's camera: orbit (left drag), pan (right or middle drag), zoom
//! (wheel), or one of Meta-World's named cameras (the tracking ones follow
//! the hand). Dragging from a preset continues as orbit from where it was.

use crate::sim::Episode;
use crate::AppSet;
use bevy::camera::PerspectiveProjection;
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll};
use bevy::prelude::*;
use bevy_egui::EguiContexts;
use genreward_render::CameraName;

pub struct CameraPlugin;

impl Plugin for CameraPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(ViewCamera::default())
            .add_systems(Startup, spawn.in_set(AppSet::Present))
            .add_systems(Update, (control, place).chain().in_set(AppSet::Present));
    }
}

/// How the 3D view is looked at.
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct ViewCamera {
    pub mode: CamMode,
    /// Orbit: the point looked at, angles (radians) and distance (metres).
    pub target: Vec3,
    pub yaw: f32,
    pub pitch: f32,
    pub distance: f32,
    pub fovy_deg: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CamMode {
    Orbit,
    Preset(CameraName),
}

impl Default for ViewCamera {
    fn default() -> Self {
        // Looking at the table from the front right, a little above.
        ViewCamera {
            mode: CamMode::Orbit,
            target: Vec3::new(0.0, 0.6, 0.05),
            yaw: -0.75,
            pitch: 0.55,
            distance: 2.7,
            fovy_deg: 45.0,
        }
    }
}

impl ViewCamera {
    fn orbit_eye(&self) -> Vec3 {
        let dir = Vec3::new(
            self.pitch.cos() * self.yaw.cos(),
            self.pitch.cos() * self.yaw.sin(),
            self.pitch.sin(),
        );
        self.target + dir * self.distance
    }

    /// Switches to orbiting around the point `distance` ahead of a preset's eye.
    fn orbit_from(&mut self, eye: Vec3, forward: Vec3) {
        let d = 1.0;
        self.target = eye + forward * d;
        let back = -forward;
        self.pitch = back.z.clamp(-1.0, 1.0).asin();
        self.yaw = back.y.atan2(back.x);
        self.distance = d;
        self.mode = CamMode::Orbit;
    }
}

#[derive(Component)]
struct MainCamera;

fn spawn(mut commands: Commands) {
    commands.spawn((
        Camera3d::default(),
        MainCamera,
        Projection::from(PerspectiveProjection {
            fov: 45f32.to_radians(),
            near: 0.01,
            ..default()
        }),
        Transform::default(),
    ));
}

fn preset_pose(name: CameraName, episode: &Episode) -> (Vec3, Vec3, Vec3, f32) {
    let p = name.pose(episode.env.world().hand_pos());
    let v = |a: [f32; 3]| Vec3::from_array(a);
    (
        v(p.eye.to_array()),
        v(p.forward.to_array()),
        v(p.up.to_array()),
        p.fovy_deg,
    )
}

fn control(
    mut cam: ResMut<ViewCamera>,
    episode: Res<Episode>,
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    mut egui: EguiContexts,
) {
    let over_ui = egui
        .ctx_mut()
        .map(|c| c.egui_wants_pointer_input() || c.is_pointer_over_egui())
        .unwrap_or(false);
    if over_ui {
        return;
    }
    let drag = motion.delta;
    let rotating = buttons.pressed(MouseButton::Left) && drag != Vec2::ZERO;
    let panning = (buttons.pressed(MouseButton::Right) || buttons.pressed(MouseButton::Middle))
        && drag != Vec2::ZERO;
    if (rotating || panning || scroll.delta.y != 0.0) && matches!(cam.mode, CamMode::Preset(_)) {
        if let CamMode::Preset(name) = cam.mode {
            let (eye, fwd, _, fovy) = preset_pose(name, &episode);
            cam.orbit_from(eye, fwd);
            cam.fovy_deg = fovy;
        }
    }
    if rotating {
        cam.yaw -= drag.x * 0.006;
        cam.pitch = (cam.pitch + drag.y * 0.006).clamp(-1.5, 1.5);
    }
    if panning {
        let eye = cam.orbit_eye();
        let fwd = (cam.target - eye).normalize();
        let right = fwd.cross(Vec3::Z).normalize_or_zero();
        let up = right.cross(fwd);
        let k = cam.distance * 0.0015;
        cam.target += (-right * drag.x + up * drag.y) * k;
    }
    if scroll.delta.y != 0.0 {
        cam.distance = (cam.distance * (1.0 - scroll.delta.y * 0.1)).clamp(0.1, 10.0);
    }
}

fn place(
    cam: Res<ViewCamera>,
    episode: Res<Episode>,
    mut q: Query<(&mut Transform, &mut Projection), With<MainCamera>>,
) {
    let Ok((mut t, mut proj)) = q.single_mut() else {
        return;
    };
    let (eye, fwd, up, fovy) = match cam.mode {
        CamMode::Orbit => {
            let eye = cam.orbit_eye();
            (eye, (cam.target - eye).normalize(), Vec3::Z, cam.fovy_deg)
        }
        CamMode::Preset(name) => preset_pose(name, &episode),
    };
    *t = Transform::from_translation(eye).looking_to(fwd, up);
    if let Projection::Perspective(p) = &mut *proj {
        p.fov = fovy.to_radians();
    }
}
