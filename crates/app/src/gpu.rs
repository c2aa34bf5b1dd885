//! `view --device wgpu`: one wgpu device for everything the app runs on a GPU. The device is
//! opened here before the window, the way Bevy opens its own (`initialize_renderer`, Bevy's
//! features and limits), and then handed to Bevy (`RenderCreation::Manual`), to the agent-view
//! renderer (`Renderer::with_device`) and to burn's wgpu backend (`share_gpu_device`), so the
//! models, the scene and the agent's camera share one device and one queue.
//!
//! The agent's frames still reach the models through the CPU: the app keeps every frame in
//! memory anyway (timeline, recordings, the panel's image), and burn 0.21 has no public way to
//! wrap a wgpu texture or buffer of ours as a tensor, so a frame is read back once (12 KiB at
//! 64x64) and uploaded to the models as a tensor.

use anyhow::{anyhow, Result};
use bevy::render::renderer::initialize_renderer;
use bevy::render::settings::{RenderCreation, RenderResources, WgpuSettings};
use genreward_render::Renderer;
use std::sync::OnceLock;

/// The shared device, once opened.
static SHARED: OnceLock<RenderResources> = OnceLock::new();

/// Opens the shared device and registers it with burn. Call before loading the models; later
/// calls return the same device. Returns the adapter's name.
pub fn open() -> Result<String> {
    if SHARED.get().is_none() {
        let settings = WgpuSettings::default();
        let backends = settings
            .backends
            .ok_or_else(|| anyhow!("no wgpu backend is enabled (WGPU_BACKEND)"))?;
        // Bevy panics when it finds no adapter: make that one line of error instead.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let opened = std::panic::catch_unwind(|| {
            bevy::tasks::block_on(initialize_renderer(backends, None, &settings))
        });
        std::panic::set_hook(hook);
        let resources = opened.map_err(|_| anyhow!("--device wgpu: no GPU adapter found"))?;
        let _ = SHARED.set(resources);
    }
    let r = SHARED.get().expect("set above");
    let RenderResources(device, queue, info, adapter, instance, ..) = r;
    let name = format!("{} ({:?})", info.0.name, info.0.backend);
    genreward_models::backend::share_gpu_device(
        burn::backend::wgpu::WgpuSetup {
            instance: (**instance.0).clone(),
            adapter: (**adapter.0).clone(),
            device: device.wgpu_device().clone(),
            queue: (**queue.0).clone(),
            backend: info.0.backend,
        },
        &name,
    );
    Ok(name)
}

/// How Bevy gets its device: the shared one when [`open`] was called, else its own.
pub fn render_creation() -> Option<RenderCreation> {
    SHARED.get().map(|r| RenderCreation::Manual(r.clone()))
}

/// The agent-view renderer: on the shared device when there is one, else on a device of its
/// own (a real GPU or Mesa's lavapipe).
pub fn renderer() -> Result<Renderer, genreward_render::RenderError> {
    match SHARED.get() {
        Some(RenderResources(device, queue, info, ..)) => Ok(Renderer::with_device(
            device.wgpu_device().clone(),
            (**queue.0).clone(),
            (*info.0).clone(),
        )),
        None => Renderer::new(),
    }
}
