//! What goes wrong when loading `ptc-ops.toml`: all problems at once, each with its key path.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    key_path: String,
    context: Option<String>,
    message: String,
}

impl ConfigProblem {
    pub(crate) fn new(key_path: String, context: Option<String>, message: String) -> ConfigProblem {
        ConfigProblem {
            key_path,
            context,
            message,
        }
    }

    /// The TOML key the problem is about (`credentials.warn_days`,
    /// `hardening.profiles."docker-hub".lifecycle_policy`); empty for the file as a whole.
    pub fn key_path(&self) -> &str {
        &self.key_path
    }

    /// What the key points to, when the problem lies there: the policy file as written
    /// (`lifecycle/default.json`) or the environment variable that supplied the value.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// What was expected and what was found.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.key_path.is_empty(), &self.context) {
            (true, None) => f.write_str(&self.message),
            (true, Some(context)) => write!(f, "({context}): {}", self.message),
            (false, None) => write!(f, "{}: {}", self.key_path, self.message),
            (false, Some(context)) => write!(f, "{} ({context}): {}", self.key_path, self.message),
        }
    }
}

/// Loading the configuration failed; Lambdas report this at init, before any event.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file itself could not be read.
    #[error("cannot read configuration file `{}`", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read and is wrong; every problem is listed.
    #[error("{}", render_problems(source_name, problems))]
    Invalid {
        source_name: String,
        problems: Vec<ConfigProblem>,
    },
}

impl ConfigError {
    /// Every problem found (empty when the file could not be read at all).
    pub fn problems(&self) -> &[ConfigProblem] {
        match self {
            ConfigError::Unreadable { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

fn render_problems(source_name: &str, problems: &[ConfigProblem]) -> String {
    let count = match problems.len() {
        1 => "1 problem".to_owned(),
        n => format!("{n} problems"),
    };
    let mut text = format!("invalid configuration `{source_name}`, {count}:");
    for problem in problems {
        text.push_str("\n  - ");
        text.push_str(&problem.to_string());
    }
    text
}
