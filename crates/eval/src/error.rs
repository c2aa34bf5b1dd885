//! The crate's one error type: what went wrong, in the library's words.

use std::path::{Path, PathBuf};

/// An evaluation that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Episodes(#[from] genreward_episodes::EpisodesError),
    #[error(transparent)]
    Reward(#[from] genreward_reward::RewardError),
    #[error(transparent)]
    Render(#[from] genreward_render::RenderError),
    #[error(transparent)]
    Env(#[from] genreward_sim::EnvError),
    #[error(transparent)]
    Agent(#[from] genreward_agent::AgentError),
    /// A step of the evaluation failed: what it was doing, then why.
    #[error("{what}: {source}")]
    During {
        what: &'static str,
        source: Box<EvalError>,
    },
    #[error("cannot write '{}': {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl EvalError {
    /// This error as the cause of `what` failing.
    pub fn during(self, what: &'static str) -> EvalError {
        EvalError::During {
            what,
            source: Box::new(self),
        }
    }

    pub(crate) fn write(path: &Path, e: impl std::fmt::Display) -> EvalError {
        EvalError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}

/// The crate's result.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;

/// Returns an [`EvalError::Invalid`] with a formatted message.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err($crate::EvalError::Invalid(format!($($t)*)))
    };
}
pub(crate) use bail;
