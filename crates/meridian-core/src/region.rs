use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a region id, jurisdiction or locale was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionIdError {
    /// The region id does not match `[a-z][a-z0-9-]{0,15}`.
    #[error(
        "region id `{0}` must be 1-16 characters of lowercase letters, digits and `-`, starting with a letter"
    )]
    InvalidRegionId(String),
    /// The jurisdiction is not an ISO 3166-1 alpha-2 code nor `EU`.
    #[error(
        "jurisdiction `{0}` must be an ISO 3166-1 alpha-2 country code (`US`, `CN`, `DE`) or `EU`"
    )]
    InvalidJurisdiction(String),
    /// The locale is not of the form `ll-RR`.
    #[error("locale `{0}` must look like `en-US`, `zh-CN` or `de-DE`")]
    InvalidLocale(String),
}

/// A region's id: `us`, `cn`, `eu`… It names the config file (`regions/<id>.toml`),
/// the policy folder and the environment prefix (`MERIDIAN_<ID>__`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionId(String);

impl RegionId {
    /// Parses a region id.
    ///
    /// # Errors
    /// [`RegionIdError::InvalidRegionId`] unless the id is 1–16 characters of
    /// lowercase ASCII letters, digits and `-`, starting with a letter.
    pub fn parse(s: &str) -> Result<Self, RegionIdError> {
        let ok = !s.is_empty()
            && s.len() <= 16
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(RegionIdError::InvalidRegionId(s.to_owned()))
        }
    }

    /// The id as written in file names and URLs.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as it appears in environment variable names: `eu-west` → `EU_WEST`.
    #[must_use]
    pub fn as_env(&self) -> String {
        self.0.to_ascii_uppercase().replace('-', "_")
    }
}

impl fmt::Display for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RegionId {
    type Err = RegionIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for RegionId {
    type Error = RegionIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RegionId> for String {
    fn from(id: RegionId) -> Self {
        id.0
    }
}

/// A legal jurisdiction: an ISO 3166-1 alpha-2 country code, or `EU`.
///
/// Used for a region's own jurisdiction and for the facts of a model
/// (`hosted_in`, `origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Jurisdiction([u8; 2]);

/// EU member states (ISO 3166-1 alpha-2), for "hosted in the EU" checks.
const EU_MEMBERS: [&str; 27] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

impl Jurisdiction {
    /// `ZZ`, the ISO 3166 user-assigned code for "unknown".
    pub const UNKNOWN: Self = Self(*b"ZZ");

    /// Parses `US`, `cn`, `EU`… (case-insensitive, stored upper-case).
    ///
    /// # Errors
    /// [`RegionIdError::InvalidJurisdiction`] unless it is two ASCII letters.
    pub fn parse(s: &str) -> Result<Self, RegionIdError> {
        let b = s.as_bytes();
        if b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Self([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()]))
        } else {
            Err(RegionIdError::InvalidJurisdiction(s.to_owned()))
        }
    }

    /// The code, upper-case.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// Whether this is the EU itself or one of its member states.
    #[must_use]
    pub fn is_in_eu(&self) -> bool {
        self.as_str() == "EU" || EU_MEMBERS.contains(&self.as_str())
    }

    /// Whether a thing placed in `self` is inside `region` (`DE` is inside `EU`).
    #[must_use]
    pub fn is_within(&self, region: Jurisdiction) -> bool {
        *self == region || (region.as_str() == "EU" && self.is_in_eu())
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Jurisdiction {
    type Err = RegionIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Jurisdiction {
    type Error = RegionIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Jurisdiction> for String {
    fn from(j: Jurisdiction) -> Self {
        j.as_str().to_owned()
    }
}

/// A locale of the form `ll-RR` (`en-US`, `zh-CN`, `de-DE`): the language of
/// a region's emails and pages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Locale(String);

impl Locale {
    /// Parses and normalises a locale (`de_de` → `de-DE`).
    ///
    /// # Errors
    /// [`RegionIdError::InvalidLocale`] unless it is a 2–3 letter language and
    /// a 2 letter region.
    pub fn parse(s: &str) -> Result<Self, RegionIdError> {
        let mut parts = s.split(['-', '_']);
        let (Some(lang), Some(reg), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(RegionIdError::InvalidLocale(s.to_owned()));
        };
        let ok = (2..=3).contains(&lang.len())
            && lang.chars().all(|c| c.is_ascii_alphabetic())
            && reg.len() == 2
            && reg.chars().all(|c| c.is_ascii_alphabetic());
        if ok {
            Ok(Self(format!(
                "{}-{}",
                lang.to_ascii_lowercase(),
                reg.to_ascii_uppercase()
            )))
        } else {
            Err(RegionIdError::InvalidLocale(s.to_owned()))
        }
    }

    /// The locale tag, e.g. `zh-CN`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The language part, e.g. `zh`.
    #[must_use]
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Locale {
    type Error = RegionIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Locale> for String {
    fn from(l: Locale) -> Self {
        l.0
    }
}

/// What kind of data a payload carries; policies decide per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataClass {
    /// Feed metadata, public transcripts, show notes.
    Public,
    /// What Meridian made from public data: insights, digests.
    Derived,
    /// Subscriber addresses and names. Never sent to a model.
    Personal,
}

impl DataClass {
    /// The class as written in policies and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Derived => "derived",
            Self::Personal => "personal",
        }
    }
}

impl fmt::Display for DataClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "public" => Ok(Self::Public),
            "derived" => Ok(Self::Derived),
            "personal" => Ok(Self::Personal),
            other => Err(format!(
                "data class `{other}` must be one of public, derived, personal"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_ids() {
        assert_eq!(
            RegionId::parse("eu-west").map(|r| r.as_env()),
            Ok("EU_WEST".to_owned())
        );
        for bad in ["", "US", "1us", "us_west", "a-very-long-region-id", "u s"] {
            assert!(RegionId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn jurisdictions_know_the_eu() {
        let de = Jurisdiction::parse("de").unwrap();
        let eu = Jurisdiction::parse("EU").unwrap();
        let us = Jurisdiction::parse("US").unwrap();
        assert!(de.is_within(eu));
        assert!(eu.is_within(eu));
        assert!(!us.is_within(eu));
        assert!(!eu.is_within(de));
        assert!(Jurisdiction::parse("USA").is_err());
    }

    #[test]
    fn locales_normalise() {
        assert_eq!(Locale::parse("de_de").unwrap().as_str(), "de-DE");
        assert_eq!(Locale::parse("zh-CN").unwrap().language(), "zh");
        assert!(Locale::parse("english").is_err());
    }
}
