//! Errors of the benchmark harness, classified by what the person running it must do.

/// Why the benchmark stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BenchError {
    /// Something the person running the harness must fix first: an argument, a missing tool
    /// (the broker, Python, the peer's package), a topic that cannot be created.
    #[error("setup: {0}")]
    Setup(String),
    /// A measured run did not complete (a child exited, stalled or timed out): its figures
    /// would be meaningless, so the harness stops and names the run and its log.
    #[error("run {run}: {message}")]
    Run {
        /// Which run.
        run: String,
        /// What went wrong, with the child's log path when there is one.
        message: String,
    },
    /// Reading or writing a file, a pipe or `/proc`.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl BenchError {
    /// A failed run.
    pub(crate) fn run(run: &str, message: impl Into<String>) -> Self {
        Self::Run { run: run.to_owned(), message: message.into() }
    }

    /// An I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

impl From<BenchError> for crate::Failure {
    fn from(e: BenchError) -> Self {
        match e {
            BenchError::Setup(_) => Self::Input(e.into()),
            other => Self::Runtime(other.into()),
        }
    }
}
