//! `genreward`: the command line. Every user mistake ends in a one-line error
//! and a non-zero exit; results go to stdout as JSON on the last line.

mod agent_policy;
mod app;
mod cli;
mod dataset;
mod dreamer_cli;
mod dreamer_fb;
mod eval;
mod eval_agent;
mod eval_fb;
mod fb_cli;
mod goal;
mod goal_frame_cli;
mod heatmap;
mod record;
mod score;
mod stats;
mod train_loop;
mod vae_cli;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Set by the first Ctrl-C: long commands finish the step in hand, complete
/// their files (the video stays playable) and stop. A second Ctrl-C exits at once.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let installed = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("stopping after this step (Ctrl-C again to quit at once)");
        });
        if let Err(e) = installed {
            tracing::warn!("Ctrl-C handler not installed: {e}");
        }
        flag
    })
    .clone()
}

/// Refuses an output path that is not a .png file name, before any work is done.
pub fn check_png(path: &std::path::Path) -> anyhow::Result<()> {
    let png = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !png {
        anyhow::bail!("'{}' is not a .png file name", path.display());
    }
    Ok(())
}

/// Mesa's Vulkan drivers print "XDG_RUNTIME_DIR is invalid or not set" on
/// stderr when they probe for Wayland and the variable is missing (containers,
/// CI, ssh). We do not use Wayland sockets headless; point the variable at a
/// private folder so errors stay one line. Runs first, before any thread starts.
fn quiet_wayland_probe() {
    let valid = std::env::var_os("XDG_RUNTIME_DIR")
        .map(std::path::PathBuf::from)
        .is_some_and(|p| p.is_absolute() && p.is_dir());
    if valid {
        return;
    }
    let dir = std::env::temp_dir().join("genreward-runtime");
    if std::fs::create_dir_all(&dir).is_ok() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        std::env::set_var("XDG_RUNTIME_DIR", &dir);
    }
}

fn main() {
    quiet_wayland_probe();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = cli::run() {
        // One line: the error and its causes joined.
        let msg = format!("{e:#}").replace('\n', " ");
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}
