//! Log set-up. Lambdas log to stdout in the format Lambda's advanced logging controls ask for
//! (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`); the CLI logs to stderr. Every line goes
//! through [`ScrubbingWriter`], so a secret value formatted into a log line by mistake is
//! replaced by `***` before it leaves the process. The crates that log HTTP traffic are capped
//! at `INFO` whatever level is asked for ([`wire_cap`]), and a panic's message is scrubbed
//! before it is printed ([`install_panic_hook`]).

use std::io::{self, Write};

use tracing::Subscriber;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

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

/// Crates whose `DEBUG` and `TRACE` lines carry HTTP requests and responses (bodies, signed
/// headers, a `GetSecretValue` answer when `LOG_SENSITIVE_BODIES` is set) or credentials: the
/// AWS SDK's runtime, signing and credential providers, and the HTTP stacks under them.
/// Prefixes: `hyper` covers `hyper_util` and `hyper_rustls`, `aws_smithy` every smithy crate.
pub const WIRE_TARGETS: [&str; 12] = [
    "aws_smithy",
    "aws_sigv4",
    "aws_runtime",
    "aws_config",
    "aws_credential_types",
    "aws_sdk",
    "hyper",
    "h2",
    "reqwest",
    "rustls",
    "tower",
    "http_body",
];

/// The most these crates may log, whatever the level asked for: their `INFO` lines name
/// operations and failures, never payloads.
pub const WIRE_MAX_LEVEL: LevelFilter = LevelFilter::INFO;

/// A filter that caps [`WIRE_TARGETS`] at [`WIRE_MAX_LEVEL`] and lets everything else through
/// to the level filter. It is a layer of its own, not a directive of the level filter, so no
/// directive (`RUST_LOG=aws_smithy_runtime::client::orchestrator=trace`, however specific)
/// can lift it.
pub fn wire_cap() -> Targets {
    WIRE_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |targets, target| targets.with_target(*target, WIRE_MAX_LEVEL),
    )
}

/// The level filter: `directives` as `RUST_LOG` takes them (`debug`, `ptc_ops=trace,info`),
/// `default_level` for whatever they do not name. Unparseable directives are skipped.
pub fn level_filter(directives: Option<&str>, default_level: LevelFilter) -> EnvFilter {
    EnvFilter::builder()
        .with_default_directive(default_level.into())
        .parse_lossy(directives.unwrap_or_default())
}

/// How lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Lambda's JSON log format (`AWS_LAMBDA_LOG_FORMAT=JSON`); Lambda stamps the time.
    LambdaJson,
    /// Lambda's text format; Lambda stamps the time.
    LambdaText,
    /// Human lines with their time (the CLI, on stderr).
    Terminal,
}

/// The one subscriber of a process: `filter` for levels, [`wire_cap`] over it, every line
/// through [`ScrubbingWriter`].
pub fn subscriber<W>(
    filter: EnvFilter,
    format: LogFormat,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(ScrubbingWriter::new(writer));
    match format {
        LogFormat::LambdaJson => Box::new(builder.without_time().json().finish().with(wire_cap())),
        LogFormat::LambdaText => Box::new(builder.without_time().finish().with(wire_cap())),
        LogFormat::Terminal => Box::new(builder.finish().with(wire_cap())),
    }
}

/// Lambda logging: stdout, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, level from
/// `AWS_LAMBDA_LOG_LEVEL` (then `RUST_LOG` directives, then `INFO`), as Lambda's advanced
/// logging controls ask, with [`wire_cap`] on top; a panic message is scrubbed too.
pub fn init_lambda() {
    let format = match std::env::var("AWS_LAMBDA_LOG_FORMAT") {
        Ok(format) if format.eq_ignore_ascii_case("json") => LogFormat::LambdaJson,
        _ => LogFormat::LambdaText,
    };
    let directives = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let filter = level_filter(directives.as_deref(), LevelFilter::INFO);
    let _ = tracing::subscriber::set_global_default(subscriber(filter, format, io::stdout));
    install_panic_hook();
}

/// CLI logging: human lines on stderr, quiet unless asked (`-v` or `RUST_LOG`), with
/// [`wire_cap`] on top; a panic message is scrubbed too.
pub fn init_cli(default_level: tracing::Level) {
    let directives = std::env::var("RUST_LOG").ok();
    let filter = level_filter(
        directives.as_deref(),
        LevelFilter::from_level(default_level),
    );
    // A second init (tests calling twice) is harmless; keep the first.
    let _ = tracing::subscriber::set_global_default(subscriber(
        filter,
        LogFormat::Terminal,
        io::stderr,
    ));
    install_panic_hook();
}

/// Replaces the panic hook with one that scrubs the message before it is printed (a panic
/// formatted from a value holding a token, `expect` on a result whose error quotes one). It
/// prints what the standard hook prints: thread, location, message, and the backtrace when
/// `RUST_BACKTRACE` asks for it.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let report = panic_report(
            thread.name().unwrap_or("<unnamed>"),
            info.location(),
            panic_message(info.payload()),
        );
        let backtrace = std::backtrace::Backtrace::capture();
        let backtrace = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("\nstack backtrace:\n{backtrace}"),
            _ => String::new(),
        };
        let _ = writeln!(io::stderr().lock(), "{report}{backtrace}");
    }));
}

/// The text of a panic payload: `panic!("…")` gives a `&str` or a `String`.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>")
}

/// What the panic hook prints, scrubbed.
fn panic_report(
    thread: &str,
    location: Option<&std::panic::Location<'_>>,
    message: &str,
) -> String {
    let at = location
        .map(|location| {
            format!(
                " at {}:{}:{}",
                location.file(),
                location.line(),
                location.column()
            )
        })
        .unwrap_or_default();
    scrub(&format!("thread '{thread}' panicked{at}:\n{message}"))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::domain::SecretValue;
    use crate::test_cases::named_cases;

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

    fn captured(buffer: &Buffer) -> String {
        String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf8")
    }

    #[test]
    fn log_lines_never_carry_secret_values() {
        let token = SecretValue::new("dckr_pat_LoggedByMistake42");
        let hostile = SecretValue::new("tok\"en\\wïth-ünïcode-logged");
        let buffer = Buffer::default();
        let filter = level_filter(Some("trace"), LevelFilter::INFO);
        let subscriber = subscriber(filter, LogFormat::LambdaJson, buffer.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(secret = ?token, "debug formatting is redacted");
            tracing::info!(raw = token.expose(), "a careless field is scrubbed");
            tracing::warn!("and so is a careless message: {}", token.expose());
            tracing::info!(field = ?hostile.expose(), "a debug-escaped field in a json line");
            tracing::info!("a json-escaped message: {}", hostile.expose());
        });
        let logged = captured(&buffer);
        assert_eq!(logged.lines().count(), 5, "{logged}");
        assert!(!logged.contains(token.expose()), "{logged}");
        assert!(!logged.contains("wïth-ünïcode"), "{logged}");
        assert_eq!(logged.matches("***").count(), 5, "{logged}");
    }

    /// Whatever level is asked for, the HTTP and SDK crates never log below `INFO`, where they
    /// print requests and responses with their bodies: directives, whether the product's own TRACE
    /// lines are asked for.
    fn check_wire_cap(case: &str, directives: &str, product_trace: bool) {
        let buffer = Buffer::default();
        let filter = level_filter(Some(directives), LevelFilter::TRACE);
        tracing::subscriber::with_default(
            subscriber(filter, LogFormat::LambdaText, buffer.clone()),
            || {
                tracing::trace!(target: "aws_smithy_runtime::client::orchestrator::http", "wire-body-1");
                tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "wire-error-2");
                tracing::trace!(target: "aws_sigv4::http_request::sign", "wire-signing-3");
                tracing::trace!(target: "hyper_util::client::legacy", "wire-hyper-4");
                tracing::trace!(target: "h2::codec::framed_read", "wire-frame-5");
                tracing::debug!(target: "reqwest::connect", "wire-connect-6");
                tracing::debug!(target: "aws_config::imds", "wire-credentials-7");
                tracing::info!(target: "aws_smithy_runtime::client::orchestrator", "wire-info-stays");
                tracing::trace!(target: "ptc_ops::check_credentials", "product-trace-stays");
            },
        );
        let logged = captured(&buffer);
        for line in logged.lines().filter(|line| line.contains("wire-")) {
            assert!(line.contains("wire-info-stays"), "{case}: {line}");
        }
        assert!(logged.contains("wire-info-stays"), "{case}: {logged}");
        assert_eq!(
            logged.contains("product-trace-stays"),
            product_trace,
            "{case}: {logged}"
        );
    }

    named_cases! {
        /// Whatever level is asked for, the HTTP and SDK crates never log below `INFO`, where they
        /// print requests and responses with their bodies: directives, whether the product's own TRACE
        /// lines are asked for.
        mod wire_logging_is_capped_whatever_the_directives => check_wire_cap;
        everything_at_trace("trace", true),
        the_sdk_runtime_at_trace("info,aws_smithy_runtime=trace", false),
        a_more_specific_directive_than_the_cap(
            "info,aws_smithy_runtime::client::orchestrator=trace,aws_smithy_runtime::client::orchestrator::http=trace",
            false,
        ),
        http_stacks_at_trace(
            "ptc_ops=trace,hyper_util=trace,h2=trace,reqwest=trace,info",
            true,
        ),
        lambda_s_upper_case_level("TRACE", true),
    }

    /// Level filter defaults and directives: directives, default, the level it lets through.
    fn check_level_filter(
        case: &str,
        directives: Option<&str>,
        default: LevelFilter,
        expected: Option<LevelFilter>,
    ) {
        assert_eq!(
            level_filter(directives, default).max_level_hint(),
            expected,
            "{case}"
        );
    }

    named_cases! {
        /// Level filter defaults and directives: directives, default, the level it lets through.
        mod level_filter_defaults_and_directives => check_level_filter;
    nothing_asked(
        None,
        LevelFilter::INFO,
        Some(LevelFilter::INFO),
    ),
    a_level(
        Some("debug"),
        LevelFilter::INFO,
        Some(LevelFilter::DEBUG),
    ),
    lambda_s_upper_case(
        Some("WARN"),
        LevelFilter::INFO,
        Some(LevelFilter::WARN),
    ),
    garbage_is_skipped(
        Some("=%%"),
        LevelFilter::ERROR,
        Some(LevelFilter::ERROR),
    ),
    }

    #[test]
    fn panic_reports_are_scrubbed() {
        let token = SecretValue::new("tok\"en\\wïth-ünïcode-panicked");
        for (case, message) in [
            (
                "raw",
                format!("called `Result::unwrap()` on {}", token.expose()),
            ),
            (
                "debug",
                format!("called `Option::expect()`: {:?}", token.expose()),
            ),
        ] {
            let report = panic_report("main", None, &message);
            assert!(
                report.starts_with("thread 'main' panicked:\n"),
                "{case}: {report}"
            );
            assert!(!report.contains("wïth-ünïcode"), "{case}: {report}");
            assert!(report.contains("***"), "{case}: {report}");
        }
        assert_eq!(panic_message(&"static text"), "static text");
        assert_eq!(panic_message(&String::from("owned text")), "owned text");
        assert_eq!(panic_message(&42_u8), "Box<dyn Any>");
    }
}
