use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::repo_root;

/// How long a cold start (first image generation, registries, moto import) may take.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// What the emulator wrote to its ready file.
#[derive(Debug, Clone, Deserialize)]
pub struct ReadyInfo {
    pub endpoint: String,
    pub account_id: String,
    /// `anonymous` / `authenticated` → `127.0.0.1:port`.
    pub upstreams: std::collections::BTreeMap<String, String>,
    pub upstream_credentials: UpstreamCredentials,
    /// Real upstream host → `anonymous` / `authenticated`.
    pub upstream_map: std::collections::BTreeMap<String, String>,
    pub images: Vec<UpstreamImage>,
    #[serde(default)]
    pub startup_seconds: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamCredentials {
    pub username: String,
    pub access_token: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamImage {
    pub upstream: String,
    pub repository: String,
    pub tag: String,
    pub media_type: String,
    pub digest: String,
}

/// The running emulator of this test process.
pub struct Emulator {
    pub info: ReadyInfo,
    pub log_path: PathBuf,
    // Held, never written: closing it (process exit) tells the emulator to stop.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
    _state_dir: tempfile::TempDir,
}

static EMULATOR: OnceLock<Emulator> = OnceLock::new();

impl Emulator {
    /// The emulator of this process, started on first use.
    pub fn shared() -> &'static Emulator {
        EMULATOR.get_or_init(|| Emulator::start().unwrap_or_else(|problem| panic!("{problem}")))
    }

    fn start() -> Result<Emulator, String> {
        let root = repo_root();
        let python = root.join(".venv/bin/python");
        if !python.exists() {
            return Err(format!(
                "the emulator's virtualenv is missing ({}): run `make setup` (scripts/setup-emulator.sh) first",
                python.display()
            ));
        }
        let state_dir = tempfile::Builder::new()
            .prefix("ptc-emulator-")
            .tempdir()
            .map_err(|error| format!("cannot create the emulator state folder: {error}"))?;
        let ready_file = state_dir.path().join("ready.json");
        let log_path = state_dir.path().join("emulator.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|error| format!("cannot create {}: {error}", log_path.display()))?;
        let log_for_stderr = log
            .try_clone()
            .map_err(|error| format!("cannot share the emulator log: {error}"))?;
        let mut child = Command::new(&python)
            .args([
                "-m",
                "ptc_emulator",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ])
            .arg("--state-dir")
            .arg(state_dir.path())
            .arg("--ready-file")
            .arg(&ready_file)
            .arg("--exit-on-stdin-eof")
            .current_dir(root.join("tests/emulator"))
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log_for_stderr)
            .spawn()
            .map_err(|error| {
                format!(
                    "cannot start the emulator with {}: {error}",
                    python.display()
                )
            })?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| "the emulator's stdin was not piped".to_owned())?;
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready_file) {
                let info: ReadyInfo = serde_json::from_str(&text).map_err(|error| {
                    format!("the emulator's ready file is not what was expected: {error}: {text}")
                })?;
                return Ok(Emulator {
                    info,
                    log_path,
                    _stdin: Mutex::new(stdin),
                    _child: Mutex::new(child),
                    _state_dir: state_dir,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "the emulator exited with {status} before it was ready; its log:\n{}",
                    read_log(&log_path)
                ));
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                let _ = child.kill();
                return Err(format!(
                    "the emulator was not ready after {STARTUP_TIMEOUT:?}; its log:\n{}",
                    read_log(&log_path)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.info.endpoint
    }

    /// The loopback address (`127.0.0.1:port`) of an upstream registry.
    pub fn upstream(&self, name: &str) -> &str {
        self.info
            .upstreams
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("the emulator has no upstream named `{name}`"))
    }

    /// The emulator's log so far (for failure messages).
    pub fn log(&self) -> String {
        read_log(&self.log_path)
    }
}

fn read_log(path: &PathBuf) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}
