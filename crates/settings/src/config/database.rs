//! `[database]`: where the practice's data lives.

use serde::Deserialize;
use toml::Spanned;

use super::read::Reader;
use super::{Overrides, Secret};

/// Where the practice's data lives.
#[derive(Clone, Debug, Default)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host/db`: PostgreSQL, shared by several servers. `None`: SQLite
    /// in the data directory (one server, no setup).
    pub url: Option<Secret>,
}

/// `[database]` as the file writes it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDatabase {
    url: Option<Spanned<String>>,
}

impl Reader<'_> {
    /// Reads `[database]`; `DATABASE_URL` wins.
    pub(super) fn database(&mut self, d: FileDatabase, overrides: &Overrides) -> DatabaseConfig {
        let url = self.setting(&overrides.database_url, "DATABASE_URL", d.url);
        if let Some((url, file, line)) = &url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            self.error_in(file.clone(), *line, "database.url must start with postgres:// (e.g. \"postgres://kap@localhost/kap\"); leave it out to keep the data in SQLite in the data directory");
        }
        DatabaseConfig {
            url: url.map(|(url, _, _)| Secret(url)),
        }
    }
}
