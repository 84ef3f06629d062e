//! [`PolicyError`]: why a region's policy bundle did not load.

use std::fmt;
use std::path::PathBuf;

/// Why a region's policy bundle (schema plus `global/` and `<region>/`) did not
/// load. Every variant names the file, and where the engine reports one, the
/// line and column (1-based), so the `Display` alone says what and where.
///
/// A bundle that does not load means the region does not start: Meridian
/// fails closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A file or folder could not be read.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error, or what is missing.
        reason: String,
    },
    /// `schema.cedarschema` does not parse or declares something invalid.
    #[error("{}: {reason}", Location(file, *line, *col))]
    Schema {
        /// The schema file.
        file: PathBuf,
        /// Line of the problem (1-based; 0 when the engine gives no position).
        line: usize,
        /// Column of the problem (1-based, in characters; 0 when unknown).
        col: usize,
        /// The engine's message.
        reason: String,
    },
    /// A policy file has a syntax error.
    #[error("{}: syntax error: {reason}", Location(file, *line, *col))]
    Parse {
        /// The policy file.
        file: PathBuf,
        /// Line of the error (1-based; 0 when unknown).
        line: usize,
        /// Column of the error (1-based; 0 when unknown).
        col: usize,
        /// The parser's message.
        reason: String,
    },
    /// A policy parses but does not fit the schema (unknown attribute, entity
    /// type or action, wrong type), or can never apply.
    #[error("{}: policy `{policy_id}` does not match the schema: {reason}", Location(file, *line, *col))]
    Validation {
        /// The policy file.
        file: PathBuf,
        /// The policy's `@id`.
        policy_id: String,
        /// Line of the offending expression (1-based; 0 when unknown).
        line: usize,
        /// Column of the offending expression (1-based; 0 when unknown).
        col: usize,
        /// The validator's message.
        reason: String,
    },
    /// A policy lacks its `@id("…")` annotation, or two policies share one.
    /// Decisions name policies by `@id` in the audit log, so every policy
    /// needs a unique one.
    #[error("{}: {reason}", Location(file, *line, *col))]
    Annotation {
        /// The policy file.
        file: PathBuf,
        /// Line of the policy (1-based).
        line: usize,
        /// Column of the policy (1-based).
        col: usize,
        /// What is wrong.
        reason: String,
    },
    /// Several of the above, in file order: every problem is reported at once.
    #[error("{}", render(.0))]
    Several(Vec<PolicyError>),
}

impl PolicyError {
    /// The individual problems (one, unless this is [`PolicyError::Several`]).
    #[must_use]
    pub fn problems(&self) -> Vec<&PolicyError> {
        match self {
            Self::Several(all) => all.iter().flat_map(PolicyError::problems).collect(),
            one => vec![one],
        }
    }

    /// One error from many: the single error itself, or [`PolicyError::Several`].
    pub(crate) fn from_many(mut errors: Vec<PolicyError>) -> Option<Self> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(Self::Several(errors)),
        }
    }
}

fn render(all: &[PolicyError]) -> String {
    all.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `file:line:col`, leaving out what is unknown.
struct Location<'a>(&'a PathBuf, usize, usize);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(file, line, col) = self;
        write!(f, "{}", file.display())?;
        if *line > 0 {
            write!(f, ":{line}")?;
            if *col > 0 {
                write!(f, ":{col}")?;
            }
        }
        Ok(())
    }
}
