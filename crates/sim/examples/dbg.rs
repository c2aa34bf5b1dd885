use genreward_sim::{Env, PhysicsConfig, TaskKind};
fn main() {
    let task: TaskKind = std::env::args()
        .nth(1)
        .unwrap_or("pick-place".into())
        .parse()
        .unwrap();
    let mut env = Env::new(task, 0, PhysicsConfig::default());
    let obs = *env.last_obs();
    let obj = [obs[4], obs[5], obs[6]];
    // go above, descend, close, lift
    let mut t = 0;
    let mut run = |env: &mut Env, target: [f64; 3], g: f64, n: usize| {
        for _ in 0..n {
            let o = *env.last_obs();
            let a = [
                10.0 * (target[0] - o[0]),
                10.0 * (target[1] - o[1]),
                10.0 * (target[2] - o[2]),
                g,
            ];
            let r = env.step(a).unwrap();
            if t % 4 == 0 {
                let (qr, ql) = env.world().finger_joints();
                println!(
                    "{t:3} hand {:.4?} grip {:.3} obj {:.4?} q {:.4} {:.4} touch {}",
                    &r.obs[0..3],
                    r.obs[3],
                    &r.obs[4..7],
                    qr,
                    ql,
                    env.world().touching_main_object()
                );
            }
            t += 1;
        }
    };
    run(&mut env, [obj[0], obj[1], obj[2] + 0.1], -1.0, 30);
    run(&mut env, [obj[0], obj[1], obj[2] + 0.03], -1.0, 30);
    run(&mut env, [obj[0], obj[1], obj[2] + 0.03], 1.0, 20);
    run(&mut env, [obj[0], obj[1] + 0.1, obj[2] + 0.2], 1.0, 60);
}
