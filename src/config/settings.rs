//! Where each setting comes from: the environment first, then the optional TOML file.
//!
//! Every setting has one name, its environment variable (`OCOP_SCANS_PER_MINUTE`,
//! `DATABASE_URL`, `MEILI_URL`…). In the file the same setting is the variable's name in lower
//! case without the `OCOP_` prefix (`scans_per_minute = 120`, `database_url = "…"`), so the
//! README's one table documents both. A key in the file that no setting reads is refused at
//! start-up (a misspelt key would otherwise be silently ignored).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{ConfigError, Secret};

/// The layered sources of one configuration load.
pub(super) struct Settings<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    file: toml::Table,
    file_path: Option<PathBuf>,
    /// File keys that some setting read, to refuse the others.
    read: RefCell<BTreeSet<String>>,
}

impl<'a> Settings<'a> {
    pub(super) fn new(env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            env,
            file: toml::Table::new(),
            file_path: None,
            read: RefCell::new(BTreeSet::new()),
        }
    }

    /// Adds the TOML file at `path` below the environment.
    pub(super) fn with_file(mut self, path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.file = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        self.file_path = Some(path.to_owned());
        Ok(self)
    }

    /// The setting's text, from the environment or the file; `None` when set in neither.
    pub(super) fn raw(&self, name: &'static str) -> Option<String> {
        let key = file_key(name);
        self.read.borrow_mut().insert(key.clone());
        (self.env)(name).or_else(|| self.file.get(&key).map(value_text))
    }

    /// The setting's text, or `None` when unset or blank.
    pub(super) fn text(&self, name: &'static str) -> Option<String> {
        self.raw(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The setting's text, or `default`.
    pub(super) fn text_or(&self, name: &'static str, default: &str) -> String {
        self.text(name).unwrap_or_else(|| default.to_owned())
    }

    /// A secret setting; `None` when unset or blank.
    pub(super) fn secret(&self, name: &'static str) -> Option<Secret> {
        self.text(name).map(Secret::new)
    }

    /// The setting parsed as `T`, or `default` when unset or blank.
    pub(super) fn parse_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.text(name) {
            Some(value) => parse(name, &value),
            None => Ok(default),
        }
    }

    /// The setting parsed as `T`, if set.
    pub(super) fn parse_opt<T>(&self, name: &'static str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.text(name).map(|value| parse(name, &value)).transpose()
    }

    /// A true/false setting (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`).
    pub(super) fn flag_or(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.text(name) {
            None => Ok(default),
            Some(value) => match value.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                other => Err(ConfigError::Env {
                    name,
                    reason: format!("expected true or false, got {other:?}"),
                }),
            },
        }
    }

    /// A comma-separated list; empty items are dropped.
    pub(super) fn list(&self, name: &'static str) -> Vec<String> {
        self.raw(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Refuses file keys that no setting read. Call after every setting was read.
    pub(super) fn refuse_unknown_file_keys(&self) -> Result<(), ConfigError> {
        let read = self.read.borrow();
        let unknown: Vec<&String> = self.file.keys().filter(|k| !read.contains(*k)).collect();
        match (unknown.is_empty(), &self.file_path) {
            (false, Some(path)) => Err(ConfigError::UnknownKeys {
                path: path.clone(),
                keys: unknown
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
            _ => Ok(()),
        }
    }
}

/// A file value as the text an environment variable would carry (arrays as comma-separated
/// lists; tables, which no setting takes, as nothing).
fn value_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(at) => at.to_string(),
        toml::Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(","),
        toml::Value::Table(_) => String::new(),
    }
}

/// The file key of a setting: its variable in lower case, without the `OCOP_` prefix.
fn file_key(name: &str) -> String {
    name.strip_prefix("OCOP_")
        .unwrap_or(name)
        .to_ascii_lowercase()
}

fn parse<T>(name: &'static str, value: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    value.trim().parse().map_err(|e: T::Err| ConfigError::Env {
        name,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_are_variables_without_the_prefix() {
        assert_eq!(file_key("OCOP_SCANS_PER_MINUTE"), "scans_per_minute");
        assert_eq!(file_key("DATABASE_URL"), "database_url");
        assert_eq!(file_key("MEILI_API_KEY"), "meili_api_key");
    }

    #[test]
    fn the_environment_wins_over_the_file_and_unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ocop-market.toml");
        std::fs::write(
            &path,
            "scans_per_minute = 90\nreports_per_hour = 5\nscan_per_minute = 1\n",
        )
        .unwrap();
        let env = |name: &str| (name == "OCOP_REPORTS_PER_HOUR").then(|| "7".to_owned());
        let settings = Settings::new(&env).with_file(&path).unwrap();
        assert_eq!(
            settings.parse_or("OCOP_SCANS_PER_MINUTE", 60u32).unwrap(),
            90
        );
        assert_eq!(
            settings.parse_or("OCOP_REPORTS_PER_HOUR", 20u32).unwrap(),
            7
        );
        let err = settings.refuse_unknown_file_keys().unwrap_err();
        assert!(err.to_string().contains("scan_per_minute"), "{err}");
    }
}
