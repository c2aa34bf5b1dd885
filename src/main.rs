//! `genreward`: the command line. Every user mistake ends in a one-line error
//! and a non-zero exit; results go to stdout as JSON on the last line.

mod cli;
mod common;
mod eval_cmd;
mod train_cmd;
mod view;

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
    // Our crates' notes (what a training run reads, what it trains on) at info, everything
    // else at warn; RUST_LOG overrides.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,genreward=info")),
        )
        .without_time()
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = cli::run() {
        // One line: the error and its causes joined.
        let msg = format!("{e:#}").replace('\n', " ");
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}
