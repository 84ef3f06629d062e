//! Where a region's data lives (`[storage] url`), parsed once.

use std::fmt;

use url::Url;

/// Where a region's data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageBackend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// The default port of a PostgreSQL server.
pub const POSTGRES_PORT: u16 = 5432;

/// A region's database URL (`sqlite:…` or `postgres://…`), which may carry
/// a password: `Display` and `Debug` replace it with `***`; only
/// [`StorageUrl::expose`] gives the URL to the code that connects.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StorageUrl {
    url: String,
    backend: StorageBackend,
}

/// Why `[storage] url` was refused; never shows a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageUrlError {
    /// No URL.
    #[error("missing; use `sqlite://{{data_dir}}/<id>.db` or `postgres://…`")]
    Missing,
    /// Neither SQLite nor PostgreSQL.
    #[error("`{redacted}` must start with sqlite: or postgres://")]
    Scheme {
        /// The URL with its password replaced by `***`.
        redacted: String,
    },
}

impl StorageUrl {
    /// Parses a database URL (placeholders such as `{data_dir}` already
    /// substituted): `sqlite:…`, `postgres://…` or `postgresql://…`.
    ///
    /// # Errors
    /// [`StorageUrlError`] naming the URL without its password.
    pub fn parse(url: &str) -> Result<Self, StorageUrlError> {
        let backend = if url.starts_with("sqlite:") {
            StorageBackend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            StorageBackend::Postgres
        } else if url.is_empty() {
            return Err(StorageUrlError::Missing);
        } else {
            return Err(StorageUrlError::Scheme {
                redacted: redact(url),
            });
        };
        Ok(Self {
            url: url.to_owned(),
            backend,
        })
    }

    /// The backend the URL names.
    #[must_use]
    pub fn backend(&self) -> StorageBackend {
        self.backend
    }

    /// The URL with its password, for the code that connects (and nothing
    /// that prints or stores it).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// Host and port of a PostgreSQL URL (default port 5432); `None` for
    /// SQLite and for a URL without a host (a Unix socket).
    #[must_use]
    pub fn host_port(&self) -> Option<(String, u16)> {
        if self.backend != StorageBackend::Postgres {
            return None;
        }
        let url = Url::parse(&self.url).ok()?;
        let host = url.host_str().filter(|h| !h.is_empty())?.to_owned();
        Some((host, url.port().unwrap_or(POSTGRES_PORT)))
    }
}

impl fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.url))
    }
}

impl fmt::Debug for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StorageUrl")
            .field(&redact(&self.url))
            .finish()
    }
}

/// The URL with its password replaced by `***`.
fn redact(s: &str) -> String {
    match Url::parse(s) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend_and_hide_their_password() {
        let pg = StorageUrl::parse("postgres://meridian:s3cret@db-us:6543/us").unwrap();
        assert_eq!(pg.backend(), StorageBackend::Postgres);
        assert_eq!(pg.host_port(), Some(("db-us".to_owned(), 6543)));
        assert!(!pg.to_string().contains("s3cret"), "{pg}");
        assert!(!format!("{pg:?}").contains("s3cret"), "{pg:?}");
        assert!(pg.expose().contains("s3cret"));
        let lite = StorageUrl::parse("sqlite:///data/us.db").unwrap();
        assert_eq!(lite.backend(), StorageBackend::Sqlite);
        assert_eq!(lite.host_port(), None);
        assert_eq!(
            StorageUrl::parse("postgresql://u@10.1.2.3/m")
                .unwrap()
                .host_port(),
            Some(("10.1.2.3".to_owned(), POSTGRES_PORT))
        );
        assert_eq!(StorageUrl::parse(""), Err(StorageUrlError::Missing));
        let err = StorageUrl::parse("mysql://u:s3cret@db/us").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
