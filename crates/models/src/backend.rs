//! Backends. The CPU default is burn's `flex` (im2col + gemm convolutions, SIMD, rayon): measured
//! here 30-50x faster than `ndarray` on the VAE's convolutions (README, "Models"). The GPU backend
//! is burn's `wgpu` on the same wgpu 29 as the renderer and the app.
//!
//! Model code is generic over `Backend`; a command picks the concrete one at run time through
//! [`BackendJob`] and [`run_on`].

use burn::backend::wgpu::{WgpuDevice, WgpuSetup};
use burn::backend::{Autodiff, Flex, Wgpu};
use burn::tensor::backend::AutodiffBackend;
use std::fmt;
use std::str::FromStr;

/// The CPU backend.
pub type Cpu = Flex;
/// The GPU backend.
pub type Gpu = Wgpu;

/// Which backend a model command runs on (`--device cpu|wgpu`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// burn-flex on the CPU (all cores through rayon).
    #[default]
    Cpu,
    /// burn-wgpu on the best adapter wgpu finds (Vulkan, Metal or DX12).
    Wgpu,
}

/// A device name we do not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown device '{0}' (known: cpu, wgpu)")]
pub struct UnknownDevice(pub String);

impl FromStr for DeviceKind {
    type Err = UnknownDevice;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" | "flex" => Ok(DeviceKind::Cpu),
            "wgpu" | "gpu" => Ok(DeviceKind::Wgpu),
            other => Err(UnknownDevice(other.to_string())),
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Wgpu => "wgpu",
        })
    }
}

/// Work generic over a backend, run by [`run_on`] on the one the user picked. The backend is
/// an autodiff one so training can use it; inference uses `B::InnerBackend` or `module.valid()`.
pub trait BackendJob {
    type Output;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output;
}

/// Runs `job` on the backend `kind` names.
pub fn run_on<J: BackendJob>(kind: DeviceKind, job: J) -> J::Output {
    match kind {
        DeviceKind::Cpu => job.run::<Autodiff<Cpu>>(Default::default()),
        DeviceKind::Wgpu => job.run::<Autodiff<Gpu>>(gpu_device()),
    }
}

/// The wgpu device registered by [`share_gpu_device`], if any.
static SHARED_GPU: std::sync::OnceLock<(WgpuDevice, String)> = std::sync::OnceLock::new();

/// Makes `--device wgpu` run the models on an existing wgpu device (the app's, so that Bevy, the
/// agent-view renderer and the models share one device) instead of a device of burn's own.
/// Call before loading a model; only the first call counts. Returns the device burn will use.
pub fn share_gpu_device(setup: WgpuSetup, name: &str) -> WgpuDevice {
    SHARED_GPU
        .get_or_init(|| {
            (
                burn::backend::wgpu::init_device(setup, Default::default()),
                name.to_string(),
            )
        })
        .0
        .clone()
}

/// The device `--device wgpu` runs on: the shared one ([`share_gpu_device`]) or burn's default.
pub fn gpu_device() -> WgpuDevice {
    SHARED_GPU
        .get()
        .map_or_else(WgpuDevice::default, |(d, _)| d.clone())
}

/// Where the `wgpu` backend runs, in words (for logs and the app's panel).
pub fn gpu_device_name() -> String {
    match SHARED_GPU.get() {
        Some((_, name)) => format!("wgpu, shared device ({name})"),
        None => "wgpu, its own device".into(),
    }
}
