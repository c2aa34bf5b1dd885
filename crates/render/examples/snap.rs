//! Renders every camera of a task to PPM files: `cargo run -p genreward-render --example snap -- pick-place 128 /tmp/snap`.
use genreward_render::{render_specs, CameraName, Renderer, ViewSpec};
use genreward_sim::{Env, PhysicsConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let task = args
        .get(1)
        .map(|s| s.as_str())
        .unwrap_or("pick-place")
        .parse()
        .unwrap();
    let size: u32 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(128);
    let dir = std::path::PathBuf::from(args.get(3).cloned().unwrap_or("/tmp/snap".into()));
    std::fs::create_dir_all(&dir).unwrap();
    let env = Env::new(task, 0, PhysicsConfig::default());
    let mut r = Renderer::new().unwrap();
    println!("adapter: {}", r.adapter_name());
    let specs: Vec<ViewSpec> = CameraName::ALL
        .iter()
        .map(|&camera| ViewSpec {
            camera,
            width: size,
            height: size,
        })
        .collect();
    let frames = render_specs(&mut r, env.world(), &specs).unwrap();
    for (c, f) in CameraName::ALL.iter().zip(frames) {
        let mut out = format!("P6\n{} {}\n255\n", f.width, f.height).into_bytes();
        out.extend_from_slice(&f.rgb);
        std::fs::write(dir.join(format!("{}.ppm", c.name())), out).unwrap();
    }
}
