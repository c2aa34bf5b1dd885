//! The crate's one error type: what went wrong, in the library's words.

/// A training run that could not start, go on or be saved.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Episodes(#[from] genreward_episodes::EpisodesError),
    #[error(transparent)]
    Reward(#[from] genreward_reward::RewardError),
    #[error(transparent)]
    Checkpoint(#[from] genreward_models::CheckpointError),
    #[error(transparent)]
    Record(#[from] genreward_record::RecordError),
    #[error(transparent)]
    Render(#[from] genreward_render::RenderError),
    #[error(transparent)]
    Env(#[from] genreward_sim::EnvError),
    #[error(transparent)]
    Run(#[from] genreward_run::RunError),
    #[error(transparent)]
    Eval(#[from] genreward_eval::EvalError),
    #[error(transparent)]
    Frames(#[from] genreward_models::frames::FrameSizeError),
    #[error(transparent)]
    Replay(#[from] genreward_models::dreamer::replay::ReplayError),
    #[error(transparent)]
    Camera(#[from] genreward_render::UnknownCamera),
    /// JSON that could not be written or read (metadata, metrics).
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A file-system call that failed; the callers say which file with [`TrainError::during`].
    #[error("{0}")]
    FileSystem(#[from] std::io::Error),
    /// A step of the run failed: what it was doing, then why.
    #[error("{what}: {source}")]
    During {
        what: String,
        source: Box<TrainError>,
    },
    #[error("{0}")]
    Invalid(String),
}

impl TrainError {
    /// This error as the cause of `what` failing.
    pub fn during(self, what: impl Into<String>) -> TrainError {
        TrainError::During {
            what: what.into(),
            source: Box::new(self),
        }
    }
}

/// Adds what was being done to an error on its way up.
pub(crate) trait During<T> {
    fn during(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<TrainError>> During<T> for std::result::Result<T, E> {
    fn during(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| e.into().during(what()))
    }
}

/// The crate's result.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// Returns a [`TrainError::Invalid`] with a formatted message.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err($crate::TrainError::Invalid(format!($($t)*)))
    };
}
pub(crate) use bail;
