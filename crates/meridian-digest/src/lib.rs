//! Turning the day's insights into a region's digest: ranking (top 5, one per
//! episode, novelty against what was sent recently) and rendering (per-locale
//! HTML and plain-text templates). Pure: no I/O.
//!
//! - [`rank`]: candidates → the day's picks with their score components.
//! - [`render`]: a [`meridian_core::Digest`] → subject, HTML and text.
//! - [`confirmation`]: the double opt-in email asking a new subscriber to confirm.

pub mod confirmation;
pub mod rank;
pub mod render;
