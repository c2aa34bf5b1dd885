//! Render throughput: `cargo run --release -p genreward-render --example throughput -- [batch] [size] [batches]`.
use genreward_render::{render_envs, CameraName, Renderer, ViewSpec};
use genreward_sim::{Env, PhysicsConfig, TaskKind};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let batch: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(64);
    let size: u32 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(64);
    let batches: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(20);
    let envs: Vec<Env> = (0..batch)
        .map(|i| Env::new(TaskKind::PickPlace, i as u32, PhysicsConfig::default()))
        .collect();
    let mut r = Renderer::new().unwrap();
    let worlds: Vec<_> = envs.iter().map(|e| e.world()).collect();
    let spec = ViewSpec {
        camera: CameraName::Corner2,
        width: size,
        height: size,
    };
    render_envs(&mut r, &worlds, spec).unwrap();
    let t = std::time::Instant::now();
    for _ in 0..batches {
        render_envs(&mut r, &worlds, spec).unwrap();
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "{}: batch {batch} {size}x{size}: {:.0} obs/s",
        r.adapter_name(),
        (batch * batches) as f64 / dt
    );
}
