//! Bearer tokens of the admin API, stored as SHA-256 hashes only.
//!
//! The caller (the server crate) mints a token, shows it once and passes its
//! hash here; a request's token is hashed the same way and looked up. The
//! token itself is never stored, so a copy of the database grants nothing.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{RegionStore, StoreError};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenScope {
    /// Everything: reads, changes, runs, subscriber addresses.
    Admin,
    /// Reads only; subscriber addresses appear as keyed hashes.
    Read,
}

impl TokenScope {
    /// Stored value, and the word of `--scope`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Read => "read",
        }
    }

    /// The scope named `s` (`admin`, `read`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "read" => Some(Self::Read),
            _ => None,
        }
    }
}

/// A token as stored (its hash, never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRow {
    /// Row id.
    pub id: i64,
    /// The name the operator gave it.
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// `sha256:<hex>` of the token.
    pub token_hash: String,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When a request last presented it.
    pub last_used_at: Option<i64>,
    /// When it was revoked; a revoked token is refused.
    pub revoked_at: Option<i64>,
}

/// A statement with the token columns between `$pre` and `$post`, assembled at
/// compile time (no SQL is built at run time).
macro_rules! token_sql {
    ($pre:literal, $post:literal) => {
        concat!(
            $pre,
            "id, name, scope, token_hash, created_at, last_used_at, revoked_at",
            $post
        )
    };
}

impl RegionStore {
    fn token_from_row(&self, r: &AnyRow) -> Result<ApiTokenRow, StoreError> {
        let get = |e: sqlx::Error| self.corrupt("API token row", e);
        let scope: String = r.try_get("scope").map_err(get)?;
        Ok(ApiTokenRow {
            id: r.try_get("id").map_err(get)?,
            name: r.try_get("name").map_err(get)?,
            scope: TokenScope::parse(&scope)
                .ok_or_else(|| self.corrupt("API token scope", &scope))?,
            token_hash: r.try_get("token_hash").map_err(get)?,
            created_at: r.try_get("created_at").map_err(get)?,
            last_used_at: r.try_get("last_used_at").map_err(get)?,
            revoked_at: r.try_get("revoked_at").map_err(get)?,
        })
    }

    /// Stores a new token by its hash.
    ///
    /// # Errors
    /// [`StoreError::Query`] (also when the hash is already stored).
    pub async fn create_api_token(
        &self,
        name: &str,
        scope: TokenScope,
        token_hash: &str,
        now: i64,
    ) -> Result<ApiTokenRow, StoreError> {
        let row = sqlx::query(token_sql!(
            "INSERT INTO api_tokens (name, scope, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING ",
            ""
        ))
        .bind(name)
        .bind(scope.as_str())
        .bind(token_hash)
        .bind(now)
        .fetch_one(self.pool())
        .await
        .map_err(|e| self.query_err(format!("creating API token `{name}`"), e))?;
        self.token_from_row(&row)
    }

    /// The token with hash `token_hash`, revoked or not.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn api_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ApiTokenRow>, StoreError> {
        let row = sqlx::query(token_sql!(
            "SELECT ",
            " FROM api_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.query_err("looking up an API token", e))?;
        row.map(|r| self.token_from_row(&r)).transpose()
    }

    /// Every token, by id.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn list_api_tokens(&self) -> Result<Vec<ApiTokenRow>, StoreError> {
        let rows = sqlx::query(token_sql!("SELECT ", " FROM api_tokens ORDER BY id"))
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.query_err("listing API tokens", e))?;
        rows.iter().map(|r| self.token_from_row(r)).collect()
    }

    /// Revokes token `id`; false when there is no such token or it was
    /// already revoked (the first revocation time is kept).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn revoke_api_token(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(format!("revoking API token {id}"), e))?;
        Ok(done.rows_affected() > 0)
    }

    /// Notes that token `id` was used at `now`.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn touch_api_token(&self, id: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| self.query_err(format!("noting the use of API token {id}"), e))?;
        Ok(())
    }
}
