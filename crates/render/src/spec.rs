//! The one place that turns simulated worlds into views: a camera at a size ([`ViewSpec`]) and
//! the batch calls every caller uses ([`render_envs`], [`render_specs`]).

use crate::{CameraName, Frame, RenderError, Renderer, View};
use genreward_sim::SawyerWorld;

/// A camera view at a size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ViewSpec {
    #[serde(with = "camera_name")]
    pub camera: CameraName,
    pub width: u32,
    pub height: u32,
}

mod camera_name {
    use crate::CameraName;
    pub fn serialize<S: serde::Serializer>(c: &CameraName, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(c.name())
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<CameraName, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl ViewSpec {
    /// Parses a camera name and a `WxH` size.
    pub fn parse(camera: &str, size: &str) -> Result<ViewSpec, String> {
        let camera: CameraName = camera.parse().map_err(|e| format!("{e}"))?;
        let (width, height) = crate::parse_size(size)?;
        Ok(ViewSpec {
            camera,
            width,
            height,
        })
    }
}

/// Renders `spec` for every world, all in one batch (one GPU submission per atlas): frame `i`
/// shows `worlds[i]`.
pub fn render_envs(
    renderer: &mut Renderer,
    worlds: &[&SawyerWorld],
    spec: ViewSpec,
) -> Result<Vec<Frame>, RenderError> {
    let scenes: Vec<_> = worlds.iter().map(|w| (w.shapes(), w.hand_pos())).collect();
    let views: Vec<View> = scenes
        .iter()
        .map(|(shapes, hand)| View {
            shapes,
            camera: spec.camera.pose(*hand),
        })
        .collect();
    renderer.render(&views, spec.width, spec.height)
}

/// Renders several specs of one world: all views of one size go in one batch. Frame `k` is
/// `specs[k]`.
pub fn render_specs(
    renderer: &mut Renderer,
    world: &SawyerWorld,
    specs: &[ViewSpec],
) -> Result<Vec<Frame>, RenderError> {
    let shapes = world.shapes();
    let hand = world.hand_pos();
    let mut out: Vec<Option<Frame>> = vec![None; specs.len()];
    for k in 0..specs.len() {
        if out[k].is_some() {
            continue;
        }
        let same: Vec<usize> = (k..specs.len())
            .filter(|&j| (specs[j].width, specs[j].height) == (specs[k].width, specs[k].height))
            .collect();
        let views: Vec<View> = same
            .iter()
            .map(|&j| View {
                shapes: &shapes,
                camera: specs[j].camera.pose(hand),
            })
            .collect();
        let frames = renderer.render(&views, specs[k].width, specs[k].height)?;
        for (j, f) in same.into_iter().zip(frames) {
            out[j] = Some(f);
        }
    }
    Ok(out
        .into_iter()
        .map(|f| f.expect("every view rendered"))
        .collect())
}
