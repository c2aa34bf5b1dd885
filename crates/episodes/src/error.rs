//! The crate's one error type: what went wrong, in the library's words.

use std::path::{Path, PathBuf};

/// Making or reading episodes failed.
#[derive(Debug, thiserror::Error)]
pub enum EpisodesError {
    #[error(transparent)]
    Render(#[from] genreward_render::RenderError),
    #[error(transparent)]
    Record(#[from] genreward_record::RecordError),
    #[error(transparent)]
    Env(#[from] genreward_sim::EnvError),
    #[error(transparent)]
    Reward(#[from] genreward_reward::RewardError),
    #[error("cannot {action} '{}': {reason}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
}

impl EpisodesError {
    /// A file-system failure: `action` ("read", "write", "create") on `path`.
    pub fn io(action: &'static str, path: &Path, e: impl std::fmt::Display) -> Self {
        EpisodesError::Io {
            action,
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}

/// The crate's result.
pub type Result<T, E = EpisodesError> = std::result::Result<T, E>;

/// Returns an [`EpisodesError::Invalid`] with a formatted message.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err($crate::EpisodesError::Invalid(format!($($t)*)))
    };
}
pub(crate) use bail;
