use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use ptc_ops::logging::ScrubbingWriter;
use tracing_subscriber::fmt::MakeWriter;

/// Everything the product logged in this test process, through the same scrubbing writer the
/// Lambdas use. One global subscriber: a per-test `set_default` races with tracing's global
/// callsite cache when tests run in parallel, and silently drops lines.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

static CAPTURED: OnceLock<CapturedLogs> = OnceLock::new();

impl CapturedLogs {
    /// Installs the process-wide capture on first use.
    pub fn install() -> CapturedLogs {
        CAPTURED
            .get_or_init(|| {
                let logs = CapturedLogs::default();
                let subscriber = tracing_subscriber::fmt()
                    .json()
                    .with_max_level(tracing::Level::DEBUG)
                    .with_writer(ScrubbingWriter::new(logs.clone()))
                    .finish();
                // Another global subscriber (none is installed by the product in tests) would
                // make this fail; the capture then stays empty and assertions say so.
                let _ = tracing::subscriber::set_global_default(subscriber);
                logs
            })
            .clone()
    }

    /// The lines that mention `needle` (tests pass something unique to themselves).
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
        .into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> CapturedLogs {
        self.clone()
    }
}
