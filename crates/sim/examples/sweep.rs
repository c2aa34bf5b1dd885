//! Expert success sweep: `cargo run --release -p genreward-sim --example sweep -- [task] [seeds] [steps]`.
use genreward_sim::{expert, Env, PhysicsConfig, TaskKind};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let tasks: Vec<TaskKind> = match args.get(1).map(|s| s.as_str()) {
        None | Some("all") => TaskKind::ALL.to_vec(),
        Some(t) => vec![t.parse().expect("task")],
    };
    let seeds: u32 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(10);
    let steps: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(500);
    let verbose = std::env::var("VERBOSE").is_ok();
    let mut physics = PhysicsConfig::default();
    if let Ok(v) = std::env::var("SUBSTEPS") {
        physics.substeps = v.parse().expect("SUBSTEPS");
    }
    if let Ok(v) = std::env::var("ITERS") {
        physics.solver_iterations = v.parse().expect("ITERS");
    }
    for task in tasks {
        let t0 = std::time::Instant::now();
        let mut ok = 0;
        let mut first = Vec::new();
        let mut total_steps = 0;
        for seed in 0..seeds {
            let mut env = Env::new(task, seed, physics);
            let mut obs = *env.last_obs();
            let mut succ = None;
            for t in 0..steps {
                let a = expert::expert_action(task, &obs);
                let a = [a[0] as f64, a[1] as f64, a[2] as f64, a[3] as f64];
                let r = env.step(a).unwrap();
                total_steps += 1;
                obs = r.obs;
                if verbose && t % 5 == 0 {
                    println!(
                        "{t:3} hand {:.3?} grip {:.3} obj {:.3?} a {:.2?} r {:.3} touch {}",
                        &obs[0..3],
                        obs[3],
                        &obs[4..7],
                        a,
                        r.reward,
                        env.world().touching_main_object()
                    );
                }
                if r.info.is_success() && succ.is_none() {
                    succ = Some(t + 1);
                }
            }
            if let Some(s) = succ {
                ok += 1;
                first.push(s);
            } else {
                println!(
                    "  {task} seed {seed} failed: obj {:.3?} target {:.3?}",
                    &obs[4..7],
                    env.placement().target_pos
                );
            }
        }
        let mean = first.iter().sum::<usize>() as f64 / first.len().max(1) as f64;
        let dt = t0.elapsed().as_secs_f64();
        println!(
            "{task}: {ok}/{seeds} mean first success {mean:.1}  {:.0} steps/s",
            total_steps as f64 / dt
        );
    }
}
