//! The raw layer: walks a parsed `toml::Table` and reads typed values out of it, reporting every
//! problem with its key path instead of stopping at the first (which is all serde's
//! `deny_unknown_fields` can do).

use std::fmt;
use std::ops::RangeInclusive;

use toml::{Table, Value};

use super::error::ConfigProblem;

/// Where a value sits in the file, spelled as TOML would: `hardening.profiles."docker-hub".tags`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct KeyPath(String);

impl KeyPath {
    /// A key written by the user: bare when TOML allows it, quoted otherwise.
    pub(crate) fn key(&self, key: &str) -> KeyPath {
        let is_bare = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if is_bare {
            self.join(key)
        } else {
            self.quoted_key(key)
        }
    }

    /// A name the user chose (a profile prefix, a tag key): always quoted so it stands out.
    pub(crate) fn quoted_key(&self, key: &str) -> KeyPath {
        let escaped = key.replace('\\', "\\\\").replace('"', "\\\"");
        self.join(&format!("\"{escaped}\""))
    }

    pub(crate) fn index(&self, index: usize) -> KeyPath {
        KeyPath(format!("{}[{index}]", self.0))
    }

    fn join(&self, segment: &str) -> KeyPath {
        if self.0.is_empty() {
            KeyPath(segment.to_owned())
        } else {
            KeyPath(format!("{}.{segment}", self.0))
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every problem found so far, in the order found.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<ConfigProblem>);

impl Problems {
    pub(crate) fn report(&mut self, at: &KeyPath, message: impl Into<String>) {
        self.0
            .push(ConfigProblem::new(at.to_string(), None, message.into()));
    }

    /// A problem inside something the key points to (a policy file, an environment variable).
    pub(crate) fn report_in(
        &mut self,
        at: &KeyPath,
        context: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.0.push(ConfigProblem::new(
            at.to_string(),
            Some(context.into()),
            message.into(),
        ));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_vec(self) -> Vec<ConfigProblem> {
        self.0
    }
}

/// The outcome of reading one key. `Invalid` means a problem was already reported.
#[derive(Debug)]
pub(crate) enum Field<T> {
    Absent,
    Invalid,
    Present(T),
}

impl<T> Field<T> {
    /// The value, or `default` when the key is absent; `None` when it was invalid.
    pub(crate) fn or(self, default: T) -> Option<T> {
        match self {
            Field::Absent => Some(default),
            Field::Invalid => None,
            Field::Present(value) => Some(value),
        }
    }

    /// For settings whose absence means something: `Some(None)` when absent,
    /// `None` when invalid.
    pub(crate) fn optional(self) -> Option<Option<T>> {
        match self {
            Field::Absent => Some(None),
            Field::Invalid => None,
            Field::Present(value) => Some(Some(value)),
        }
    }
}

/// One TOML table being read. Remembers which keys the code asked for, so that
/// [`Section::finish`] can report every other key as unknown.
pub(crate) struct Section<'t> {
    /// `None` for a section the file leaves out: every key reads as absent.
    table: Option<&'t Table>,
    path: KeyPath,
    known_keys: Vec<&'static str>,
}

impl<'t> Section<'t> {
    pub(crate) fn new(table: Option<&'t Table>, path: KeyPath) -> Section<'t> {
        Section {
            table,
            path,
            known_keys: Vec::new(),
        }
    }

    pub(crate) fn path(&self) -> &KeyPath {
        &self.path
    }

    pub(crate) fn path_of(&self, key: &str) -> KeyPath {
        self.path.key(key)
    }

    fn take(&mut self, key: &'static str) -> Option<&'t Value> {
        self.known_keys.push(key);
        self.table.and_then(|table| table.get(key))
    }

    /// Reads a value and converts it; `convert` returns the "expected …" text on failure.
    pub(crate) fn read<T>(
        &mut self,
        key: &'static str,
        problems: &mut Problems,
        convert: impl FnOnce(&'t Value) -> Result<T, String>,
    ) -> Field<T> {
        let Some(value) = self.take(key) else {
            return Field::Absent;
        };
        match convert(value) {
            Ok(converted) => Field::Present(converted),
            Err(expected) => {
                problems.report(&self.path_of(key), expected);
                Field::Invalid
            }
        }
    }

    pub(crate) fn bool(&mut self, key: &'static str, problems: &mut Problems) -> Field<bool> {
        self.read(key, problems, |value| {
            value
                .as_bool()
                .ok_or_else(|| format!("expected `true` or `false`, found {}", describe(value)))
        })
    }

    /// An integer within `range`, converted to the type the setting uses.
    pub(crate) fn integer_in<T: TryFrom<i64>>(
        &mut self,
        key: &'static str,
        range: RangeInclusive<i64>,
        problems: &mut Problems,
    ) -> Field<T> {
        self.read(key, problems, |value| {
            value
                .as_integer()
                .filter(|number| range.contains(number))
                .and_then(|number| T::try_from(number).ok())
                .ok_or_else(|| {
                    format!(
                        "expected an integer from {} to {}, found {}",
                        range.start(),
                        range.end(),
                        describe(value)
                    )
                })
        })
    }

    /// A string checked (and possibly converted) by `parse`, which returns what was expected.
    pub(crate) fn string<T>(
        &mut self,
        key: &'static str,
        problems: &mut Problems,
        parse: impl FnOnce(&'t str) -> Result<T, String>,
    ) -> Field<T> {
        self.read(key, problems, |value| match value.as_str() {
            Some(text) => {
                parse(text).map_err(|expected| format!("{expected}, found {}", describe(value)))
            }
            None => Err(format!("expected a string, found {}", describe(value))),
        })
    }

    /// One of a fixed set of spellings.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        key: &'static str,
        choices: &[(&'static str, T)],
        problems: &mut Problems,
    ) -> Field<T> {
        self.string(key, problems, |text| {
            choices
                .iter()
                .find(|(name, _)| *name == text)
                .map(|(_, choice)| *choice)
                .ok_or_else(|| {
                    format!(
                        "expected one of {}",
                        backticked(choices.iter().map(|(name, _)| *name))
                    )
                })
        })
    }

    /// A list of strings, each checked by `parse_item`; problems name the item (`prefixes[2]`).
    pub(crate) fn list<T>(
        &mut self,
        key: &'static str,
        problems: &mut Problems,
        mut parse_item: impl FnMut(&'t str) -> Result<T, String>,
    ) -> Field<Vec<T>> {
        let Some(value) = self.take(key) else {
            return Field::Absent;
        };
        let path = self.path_of(key);
        let Some(items) = value.as_array() else {
            problems.report(
                &path,
                format!("expected a list of strings, found {}", describe(value)),
            );
            return Field::Invalid;
        };
        let mut parsed = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let outcome = match item.as_str() {
                Some(text) => parse_item(text)
                    .map_err(|expected| format!("{expected}, found {}", describe(item))),
                None => Err(format!("expected a string, found {}", describe(item))),
            };
            match outcome {
                Ok(converted) => parsed.push(converted),
                Err(message) => problems.report(&path.index(index), message),
            }
        }
        if parsed.len() == items.len() {
            Field::Present(parsed)
        } else {
            Field::Invalid
        }
    }

    /// A nested table, read as its own section.
    pub(crate) fn table(
        &mut self,
        key: &'static str,
        problems: &mut Problems,
    ) -> Field<Section<'t>> {
        let path = self.path_of(key);
        self.read(key, problems, |value| match value {
            Value::Table(table) => Ok(Section::new(Some(table), path)),
            other => Err(format!("expected a table, found {}", describe(other))),
        })
    }

    /// A nested table whose absence means "all defaults": an absent table reads as empty.
    pub(crate) fn table_or_empty(
        &mut self,
        key: &'static str,
        problems: &mut Problems,
    ) -> Option<Section<'t>> {
        let path = self.path_of(key);
        self.table(key, problems).or(Section::new(None, path))
    }

    /// The entries of a table whose keys are names the user chooses (profiles, tags):
    /// no key is unknown.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (&'t String, &'t Value)> {
        self.table.into_iter().flatten()
    }

    /// Reports every key the code did not ask for.
    pub(crate) fn finish(self, problems: &mut Problems) {
        let Some(table) = self.table else {
            return;
        };
        for key in table.keys() {
            if !self.known_keys.contains(&key.as_str()) {
                problems.report(
                    &self.path.key(key),
                    format!(
                        "unknown key, expected one of {}",
                        backticked(self.known_keys.iter().copied())
                    ),
                );
            }
        }
    }
}

/// How a value looks in "found …": strings quoted, containers by kind.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => {
            let shown: String = text.chars().take(60).collect();
            if shown.len() < text.len() {
                format!("{shown:?}…")
            } else {
                format!("{text:?}")
            }
        }
        Value::Integer(number) => number.to_string(),
        Value::Float(number) => number.to_string(),
        Value::Boolean(flag) => flag.to_string(),
        Value::Datetime(datetime) => format!("the date-time {datetime}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Table(_) => "a table".to_owned(),
    }
}

/// `a`, `b`, `c`: how messages list the accepted literals.
pub(crate) fn backticked<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
