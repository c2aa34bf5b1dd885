//! The batched headless renderer.
//!
//! A batch of views (any worlds, any cameras, one image size) is laid out as
//! tiles of one atlas texture and drawn in one render pass: per view, one
//! viewport and one instanced draw per unit mesh. One copy brings the whole
//! atlas back; each tile becomes an upright RGB frame.

use crate::camera::CameraPose;
use crate::mesh::{MeshSet, Vertex, MESH_COUNT};
use crate::scene::{push_instances, GpuInstance};
use genreward_sim::world::ShapeInstance;
use std::sync::mpsc;
use wgpu::util::DeviceExt;

/// Largest width or height we render (a guard against absurd requests).
pub const MAX_SIZE: u32 = 4096;
/// Largest atlas side we allocate; bigger batches are split.
const MAX_ATLAS: u32 = 4096;
/// Background (sky) colour.
pub const BACKGROUND: [f64; 3] = [0.55, 0.62, 0.72];

const COLOR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;

/// What went wrong while rendering.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no graphics adapter found (install a Vulkan driver, e.g. Mesa's lavapipe: apt install mesa-vulkan-drivers): {0}")]
    NoAdapter(String),
    #[error("could not open the graphics device: {0}")]
    Device(String),
    #[error("image size {0}x{1} is out of range (1..={max} per side)", max = MAX_SIZE)]
    BadSize(u32, u32),
    #[error("reading the rendered images back failed: {0}")]
    Readback(String),
}

/// An RGB image, 8 bits per channel, row 0 at the top.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// `height * width * 3` bytes, row-major.
    pub rgb: Vec<u8>,
}

impl Frame {
    /// The pixel at column `x`, row `y` (row 0 at the top).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// One view to render: a scene and a camera.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub shapes: &'a [ShapeInstance],
    pub camera: CameraPose,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ViewUniform {
    view_proj: [[f32; 4]; 4],
    eye: [f32; 4],
}

struct Atlas {
    width: u32,
    height: u32,
    cols: u32,
    rows: u32,
    color: wgpu::TextureView,
    color_tex: wgpu::Texture,
    depth: wgpu::TextureView,
    readback: wgpu::Buffer,
    bytes_per_row: u32,
}

/// Headless renderer owning its wgpu device.
pub struct Renderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: wgpu::AdapterInfo,
    pipeline: wgpu::RenderPipeline,
    bind_layout: wgpu::BindGroupLayout,
    vertices: wgpu::Buffer,
    indices: wgpu::Buffer,
    ranges: [std::ops::Range<u32>; MESH_COUNT],
    instances: Option<(wgpu::Buffer, u64)>,
    uniforms: Option<(wgpu::Buffer, wgpu::BindGroup, u64)>,
    uniform_stride: u64,
    atlas: Option<Atlas>,
    // Scratch lists reused between batches.
    scratch: Vec<[Vec<GpuInstance>; MESH_COUNT]>,
}

impl Renderer {
    /// Opens a headless device: a real GPU when there is one, otherwise a
    /// software adapter (Mesa's lavapipe).
    pub fn new() -> Result<Renderer, RenderError> {
        // Vulkan (Metal, DX12) unless WGPU_BACKEND says otherwise: probing GL
        // headless only prints EGL noise; GL is the last resort.
        let chosen = wgpu::Backends::from_env();
        let mut tries = vec![chosen.unwrap_or(wgpu::Backends::PRIMARY)];
        if chosen.is_none() {
            tries.push(wgpu::Backends::all());
        }
        let mut last_err = String::new();
        let mut found = None;
        for backends in tries {
            let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
            desc.backends = backends;
            let instance = wgpu::Instance::new(desc);
            match pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
            })) {
                Ok(a) => {
                    found = Some(a);
                    break;
                }
                Err(e) => last_err = e.to_string(),
            }
        }
        let adapter = found.ok_or(RenderError::NoAdapter(last_err))?;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("genreward-render"),
            required_features: wgpu::Features::empty(),
            required_limits: wgpu::Limits::downlevel_defaults().using_resolution(adapter.limits()),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| RenderError::Device(e.to_string()))?;
        Ok(Renderer::with_device(device, queue, adapter.get_info()))
    }

    /// Builds the renderer on an existing device (for example the app's).
    pub fn with_device(
        device: wgpu::Device,
        queue: wgpu::Queue,
        adapter: wgpu::AdapterInfo,
    ) -> Renderer {
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("scene.wgsl"),
            source: wgpu::ShaderSource::Wgsl(crate::SCENE_WGSL.into()),
        });
        let bind_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("view"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(
                        std::mem::size_of::<ViewUniform>() as u64
                    ),
                },
                count: None,
            }],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("scene"),
            bind_group_layouts: &[Some(&bind_layout)],
            immediate_size: 0,
        });
        let vertex_attrs = wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x3];
        let instance_attrs = wgpu::vertex_attr_array![2 => Float32x4, 3 => Float32x4, 4 => Float32x4, 5 => Float32x4];
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("scene"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[
                    wgpu::VertexBufferLayout {
                        array_stride: std::mem::size_of::<Vertex>() as u64,
                        step_mode: wgpu::VertexStepMode::Vertex,
                        attributes: &vertex_attrs,
                    },
                    wgpu::VertexBufferLayout {
                        array_stride: std::mem::size_of::<GpuInstance>() as u64,
                        step_mode: wgpu::VertexStepMode::Instance,
                        attributes: &instance_attrs,
                    },
                ],
            },
            primitive: wgpu::PrimitiveState {
                topology: wgpu::PrimitiveTopology::TriangleList,
                front_face: wgpu::FrontFace::Ccw,
                cull_mode: Some(wgpu::Face::Back),
                ..Default::default()
            },
            depth_stencil: Some(wgpu::DepthStencilState {
                format: DEPTH_FORMAT,
                depth_write_enabled: Some(true),
                depth_compare: Some(wgpu::CompareFunction::Less),
                stencil: Default::default(),
                bias: Default::default(),
            }),
            multisample: Default::default(),
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: COLOR_FORMAT,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let meshes = MeshSet::build();
        let vertices = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("mesh vertices"),
            contents: bytemuck::cast_slice(&meshes.vertices),
            usage: wgpu::BufferUsages::VERTEX,
        });
        let indices = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("mesh indices"),
            contents: bytemuck::cast_slice(&meshes.indices),
            usage: wgpu::BufferUsages::INDEX,
        });
        let align = device.limits().min_uniform_buffer_offset_alignment as u64;
        let size = std::mem::size_of::<ViewUniform>() as u64;
        let uniform_stride = size.div_ceil(align) * align;
        Renderer {
            device,
            queue,
            adapter,
            pipeline,
            bind_layout,
            vertices,
            indices,
            ranges: meshes.ranges,
            instances: None,
            uniforms: None,
            uniform_stride,
            atlas: None,
            scratch: Vec::new(),
        }
    }

    /// The adapter in use, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)".
    pub fn adapter_name(&self) -> String {
        format!("{} ({:?})", self.adapter.name, self.adapter.backend)
    }

    /// Renders every view at `width` x `height`; frames come back in order.
    pub fn render(
        &mut self,
        views: &[View<'_>],
        width: u32,
        height: u32,
    ) -> Result<Vec<Frame>, RenderError> {
        check_size(width, height)?;
        let per_atlas = ((MAX_ATLAS / width) * (MAX_ATLAS / height)).max(1) as usize;
        let mut frames = Vec::with_capacity(views.len());
        for chunk in views.chunks(per_atlas) {
            self.render_chunk(chunk, width, height, &mut frames)?;
        }
        Ok(frames)
    }

    fn render_chunk(
        &mut self,
        views: &[View<'_>],
        width: u32,
        height: u32,
        frames: &mut Vec<Frame>,
    ) -> Result<(), RenderError> {
        let n = views.len() as u32;
        // Lay tiles out roughly square.
        let max_cols = (MAX_ATLAS / width).max(1);
        let cols = ((n as f64).sqrt().ceil() as u32).clamp(1, max_cols);
        let rows = n.div_ceil(cols);
        self.ensure_atlas(width, height, cols, rows);
        let draws = self.upload(views, width, height);
        let used_rows = self.draw_and_copy(&draws, cols, rows, width, height)?;
        self.read_tiles(n, cols, width, height, used_rows, frames)
    }

    /// Writes every view's instances (grouped per view and mesh) and camera uniforms to the
    /// GPU; returns each view's instance ranges per mesh.
    fn upload(
        &mut self,
        views: &[View<'_>],
        width: u32,
        height: u32,
    ) -> Vec<[std::ops::Range<u32>; MESH_COUNT]> {
        // Instances of all views, grouped per view and mesh.
        if self.scratch.len() < views.len() {
            self.scratch.resize_with(views.len(), Default::default);
        }
        let mut all: Vec<GpuInstance> = Vec::new();
        let mut draws: Vec<[std::ops::Range<u32>; MESH_COUNT]> = Vec::with_capacity(views.len());
        for (v, lists) in views.iter().zip(self.scratch.iter_mut()) {
            for l in lists.iter_mut() {
                l.clear();
            }
            push_instances(v.shapes, lists);
            let mut r: [std::ops::Range<u32>; MESH_COUNT] = Default::default();
            for (k, l) in lists.iter().enumerate() {
                let start = all.len() as u32;
                all.extend_from_slice(l);
                r[k] = start..all.len() as u32;
            }
            draws.push(r);
        }
        let aspect = width as f32 / height as f32;
        let stride = self.uniform_stride as usize;
        let mut uniform_bytes = vec![0u8; stride * views.len()];
        for (k, v) in views.iter().enumerate() {
            let u = ViewUniform {
                view_proj: v.camera.view_proj(aspect).to_cols_array_2d(),
                eye: [v.camera.eye.x, v.camera.eye.y, v.camera.eye.z, 1.0],
            };
            uniform_bytes[k * stride..k * stride + std::mem::size_of::<ViewUniform>()]
                .copy_from_slice(bytemuck::bytes_of(&u));
        }
        self.ensure_instances(std::mem::size_of_val(all.as_slice()) as u64);
        self.ensure_uniforms(uniform_bytes.len() as u64);
        let (Some((instance_buf, _)), Some((uniform_buf, _, _))) =
            (self.instances.as_ref(), self.uniforms.as_ref())
        else {
            // `ensure_instances` and `ensure_uniforms` just made both.
            return draws;
        };
        if !all.is_empty() {
            self.queue
                .write_buffer(instance_buf, 0, bytemuck::cast_slice(&all));
        }
        self.queue.write_buffer(uniform_buf, 0, &uniform_bytes);

        draws
    }

    /// Draws every view into its tile of the atlas and copies the used rows to the readback
    /// buffer; returns how many rows were copied.
    fn draw_and_copy(
        &mut self,
        draws: &[[std::ops::Range<u32>; MESH_COUNT]],
        cols: u32,
        rows: u32,
        width: u32,
        height: u32,
    ) -> Result<u32, RenderError> {
        let (Some(atlas), Some((instance_buf, _)), Some((_, bind_group, _))) = (
            self.atlas.as_ref(),
            self.instances.as_ref(),
            self.uniforms.as_ref(),
        ) else {
            return Err(RenderError::Readback("the atlas was not set up".into()));
        };
        let stride = self.uniform_stride as usize;
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("batch"),
            });
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("views"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &atlas.color,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color {
                            r: BACKGROUND[0],
                            g: BACKGROUND[1],
                            b: BACKGROUND[2],
                            a: 1.0,
                        }),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &atlas.depth,
                    depth_ops: Some(wgpu::Operations {
                        load: wgpu::LoadOp::Clear(1.0),
                        store: wgpu::StoreOp::Discard,
                    }),
                    stencil_ops: None,
                }),
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_vertex_buffer(0, self.vertices.slice(..));
            pass.set_vertex_buffer(1, instance_buf.slice(..));
            pass.set_index_buffer(self.indices.slice(..), wgpu::IndexFormat::Uint32);
            for (k, r) in draws.iter().enumerate() {
                let (x, y) = ((k as u32 % cols) * width, (k as u32 / cols) * height);
                pass.set_viewport(x as f32, y as f32, width as f32, height as f32, 0.0, 1.0);
                pass.set_scissor_rect(x, y, width, height);
                pass.set_bind_group(0, bind_group, &[(k * stride) as u32]);
                for (mesh, inst) in r.iter().enumerate() {
                    if !inst.is_empty() {
                        pass.draw_indexed(self.ranges[mesh].clone(), 0, inst.clone());
                    }
                }
            }
        }
        let used_rows = rows * height;
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &atlas.color_tex,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &atlas.readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(atlas.bytes_per_row),
                    rows_per_image: Some(used_rows),
                },
            },
            wgpu::Extent3d {
                width: cols * width,
                height: used_rows,
                depth_or_array_layers: 1,
            },
        );
        self.queue.submit([encoder.finish()]);

        Ok(used_rows)
    }

    /// Maps the readback buffer and cuts the atlas into one frame per view.
    fn read_tiles(
        &mut self,
        n: u32,
        cols: u32,
        width: u32,
        height: u32,
        used_rows: u32,
        frames: &mut Vec<Frame>,
    ) -> Result<(), RenderError> {
        let Some(atlas) = self.atlas.as_ref() else {
            return Err(RenderError::Readback("the atlas was not set up".into()));
        };
        let bytes = (atlas.bytes_per_row * used_rows) as u64;
        let slice = atlas.readback.slice(..bytes);
        let (tx, rx) = mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| RenderError::Readback(e.to_string()))?;
        rx.recv()
            .map_err(|e| RenderError::Readback(e.to_string()))?
            .map_err(|e| RenderError::Readback(e.to_string()))?;
        {
            let data = slice.get_mapped_range();
            let bpr = atlas.bytes_per_row as usize;
            for k in 0..n {
                let (x0, y0) = ((k % cols) * width, (k / cols) * height);
                let mut rgb = Vec::with_capacity((width * height * 3) as usize);
                for y in 0..height {
                    let row = (y0 + y) as usize * bpr + x0 as usize * 4;
                    for px in data[row..row + width as usize * 4].chunks_exact(4) {
                        rgb.extend_from_slice(&px[..3]);
                    }
                }
                frames.push(Frame { width, height, rgb });
            }
        }
        atlas.readback.unmap();
        Ok(())
    }

    fn ensure_atlas(&mut self, width: u32, height: u32, cols: u32, rows: u32) {
        if let Some(a) = &self.atlas {
            if a.width == width && a.height == height && a.cols >= cols && a.rows >= rows {
                return;
            }
        }
        let (cols, rows) = match &self.atlas {
            Some(a) if a.width == width && a.height == height => {
                (cols.max(a.cols), rows.max(a.rows))
            }
            _ => (cols, rows),
        };
        let size = wgpu::Extent3d {
            width: cols * width,
            height: rows * height,
            depth_or_array_layers: 1,
        };
        let color_tex = self.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("atlas colour"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: COLOR_FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let depth_tex = self.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("atlas depth"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: DEPTH_FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            view_formats: &[],
        });
        let bytes_per_row = (cols * width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
            * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("atlas readback"),
            size: (bytes_per_row * rows * height) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.atlas = Some(Atlas {
            width,
            height,
            cols,
            rows,
            color: color_tex.create_view(&Default::default()),
            color_tex,
            depth: depth_tex.create_view(&Default::default()),
            readback,
            bytes_per_row,
        });
    }

    fn ensure_instances(&mut self, bytes: u64) {
        let bytes = bytes.max(256);
        if self
            .instances
            .as_ref()
            .is_some_and(|(_, cap)| *cap >= bytes)
        {
            return;
        }
        let cap = bytes.next_power_of_two();
        let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("instances"),
            size: cap,
            usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.instances = Some((buf, cap));
    }

    fn ensure_uniforms(&mut self, bytes: u64) {
        if self
            .uniforms
            .as_ref()
            .is_some_and(|(_, _, cap)| *cap >= bytes)
        {
            return;
        }
        let cap = bytes.next_power_of_two().max(self.uniform_stride);
        let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("view uniforms"),
            size: cap,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("view"),
            layout: &self.bind_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &buf,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<ViewUniform>() as u64),
                }),
            }],
        });
        self.uniforms = Some((buf, bind_group, cap));
    }
}

/// Checks an image size before any work is done.
pub fn check_size(width: u32, height: u32) -> Result<(), RenderError> {
    if width == 0 || height == 0 || width > MAX_SIZE || height > MAX_SIZE {
        return Err(RenderError::BadSize(width, height));
    }
    Ok(())
}
