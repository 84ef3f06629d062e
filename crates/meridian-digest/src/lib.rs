//! Turning the day's insights into a region's digest: ranking (top 5 by
//! scores comparable across episodes, one per episode and show, novelty
//! against what was sent recently, the region's reading languages, a quality
//! floor) and rendering (per-locale HTML and plain-text templates). Pure: no
//! I/O.
//!
//! - [`rank`]: candidates → the day's picks with their score components, and
//!   what was left out and why.
//! - [`render`]: a [`meridian_core::Digest`] → subject, HTML and text.
//! - [`confirmation`]: the double opt-in email asking a new subscriber to confirm.

pub mod confirmation;
pub mod rank;
pub mod render;
