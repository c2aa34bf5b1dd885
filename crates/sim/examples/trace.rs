//! Per-step trace of an expert episode: `cargo run --release -p genreward-sim --example trace -- push 26 200`.
use genreward_sim::{expert, Env, PhysicsConfig, TaskKind};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let task: TaskKind = a[1].parse().expect("task");
    let seed: u32 = a[2].parse().expect("seed");
    let steps: usize = a[3].parse().expect("steps");
    let mut env = Env::new(task, seed, PhysicsConfig::default());
    for t in 0..steps {
        let act = expert::expert_action(task, env.last_obs()).map(f64::from);
        let r = env.step(act).expect("step");
        let o = r.obs;
        let (qr, ql) = env.world().finger_joints();
        println!(
            "{t:3} hand {:.4?} grip {:.3} obj {:.4?} q {:.4} {:.4} a {:.2?} r {:.3} touch {}",
            &o[0..3],
            o[3],
            &o[4..7],
            qr,
            ql,
            act,
            r.reward,
            env.world().touching_main_object()
        );
    }
}
