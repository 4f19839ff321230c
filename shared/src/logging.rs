//! Log set-up. Lambdas log to stdout in the format Lambda's advanced logging controls ask for
//! (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`); the CLI logs to stderr. Every line goes
//! through [`ScrubbingWriter`], so a secret value formatted into a log line by mistake is
//! replaced by `***` before it leaves the process.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

use crate::domain::secret::scrub;

/// Wraps a writer and scrubs known secret values from every line written through it.
#[derive(Clone, Debug)]
pub struct ScrubbingWriter<M> {
    inner: M,
}

impl<M> ScrubbingWriter<M> {
    pub fn new(inner: M) -> Self {
        ScrubbingWriter { inner }
    }
}

/// One log event: the formatter writes each event in one call.
pub struct ScrubbingLine<W: Write> {
    inner: W,
}

impl<W: Write> Write for ScrubbingLine<W> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buffer);
        self.inner.write_all(scrub(&text).as_bytes())?;
        Ok(buffer.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<'a, M> MakeWriter<'a> for ScrubbingWriter<M>
where
    M: MakeWriter<'a>,
{
    type Writer = ScrubbingLine<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbingLine {
            inner: self.inner.make_writer(),
        }
    }
}

/// Lambda logging: stdout, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, level from
/// `AWS_LAMBDA_LOG_LEVEL` (then `RUST_LOG`, then `INFO`).
pub fn init_lambda() {
    lambda_runtime::tracing::init_default_subscriber_with_writer(ScrubbingWriter::new(io::stdout));
}

/// CLI logging: human lines on stderr, quiet unless asked (`-v` or `RUST_LOG`).
pub fn init_cli(default_level: tracing::Level) {
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(
            tracing_subscriber::filter::LevelFilter::from_level(default_level).into(),
        )
        .from_env_lossy();
    // A second init (tests calling twice) is harmless; keep the first.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(ScrubbingWriter::new(io::stderr))
        .try_init();
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::domain::SecretValue;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    #[test]
    fn log_lines_never_carry_secret_values() {
        let token = SecretValue::new("dckr_pat_LoggedByMistake42");
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(ScrubbingWriter::new(buffer.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(secret = ?token, "debug formatting is redacted");
            tracing::info!(raw = token.expose(), "a careless field is scrubbed");
            tracing::warn!("and so is a careless message: {}", token.expose());
        });
        let logged = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf8");
        assert_eq!(logged.lines().count(), 3, "{logged}");
        assert!(!logged.contains(token.expose()), "{logged}");
        assert_eq!(logged.matches("***").count(), 3, "{logged}");
    }
}
