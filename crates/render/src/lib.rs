//! Headless, batched observation renderer for the Sawyer scenes.
//!
//! [`Renderer::render`] draws many (world, camera) views in one GPU
//! submission and returns upright RGB frames. The same renderer makes the
//! agent's observations in headless runs and in the app, so both see the same
//! pixels. The WGSL source lives in the repository's `shaders/` folder.

pub mod camera;
pub mod mesh;
pub mod renderer;
pub mod scene;
pub mod spec;

pub use camera::{CameraName, CameraPose, UnknownCamera};
pub use renderer::{check_size, Frame, RenderError, Renderer, View, MAX_SIZE};
pub use spec::{render_envs, render_specs, ViewSpec};

/// The scene shader (`shaders/scene.wgsl`).
pub const SCENE_WGSL: &str = include_str!("../../../shaders/scene.wgsl");

/// Parses an image size written `WxH` (e.g. `64x64`) or a single side (`64`).
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let bad =
        || format!("bad image size '{s}': expected WxH such as 64x64 (each side 1..={MAX_SIZE})");
    let (w, h) = match s.split_once(['x', 'X']) {
        Some((w, h)) => (w.trim(), h.trim()),
        None => (s.trim(), s.trim()),
    };
    let w: u32 = w.parse().map_err(|_| bad())?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    check_size(w, h).map_err(|_| bad())?;
    Ok((w, h))
}

/// An image size as a user writes it (`WxH`, or one number for a square).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl std::str::FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_size(s).map(|(width, height)| Size { width, height })
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl ViewSpec {
    /// A camera at a size.
    pub fn new(camera: CameraName, size: Size) -> ViewSpec {
        ViewSpec {
            camera,
            width: size.width,
            height: size.height,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_absurd_ones_are_refused() {
        assert_eq!(parse_size("64x64"), Ok((64, 64)));
        assert_eq!(parse_size("480X320"), Ok((480, 320)));
        assert_eq!(parse_size("128"), Ok((128, 128)));
        for bad in ["0x64", "64x0", "100000x64", "axb", "", "-1x4", "64x"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
