//! Named crash points for the crash tests of the real binary.
//!
//! `MERIDIAN_FAULT_ABORT=<point>:<n>` makes the process abort (as a crash
//! would: no destructor, no flush, no commit) the `n`-th time it reaches
//! `<point>`. Unset, or naming another point, it does nothing but one
//! comparison. The points of delivery, in the order one email passes them:
//!
//! | point | where |
//! |---|---|
//! | `deliver_job` | the deliver job claimed, its digest's stale claims released, nothing sent yet |
//! | `claimed` | an email's (digest, subscriber) key claimed, before the policy decision |
//! | `decided` | the send decided and recorded, before the relay is asked |
//! | `accepted` | the relay accepted the email, before it is marked sent |
//! | `marked` | marked sent, before its `email_send` outcome record |
//! | `recorded` | its outcome recorded, before the next subscriber |
//!
//! A crash at `accepted` is the one window where a rerun sends the email a
//! second time (with the same `Message-ID`, so receivers can tell): the relay
//! has it, the store does not know. Every other point ends with exactly one
//! email per subscriber after a rerun (`docs/security.md`, "Delivery").
//!
//! Whoever can set a process's environment already controls the process, so
//! the hook gives nobody anything new; it exists so that tests crash the
//! shipped binary at exact places instead of racing a `SIGKILL`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable read once per process.
pub const FAULT_ENV: &str = "MERIDIAN_FAULT_ABORT";

struct Spec {
    point: String,
    nth: u64,
    seen: AtomicU64,
}

fn spec() -> Option<&'static Spec> {
    static SPEC: OnceLock<Option<Spec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let value = std::env::var(FAULT_ENV).ok()?;
        let (point, nth) = value.rsplit_once(':').unwrap_or((value.as_str(), "1"));
        Some(Spec {
            point: point.to_owned(),
            nth: nth.parse().ok()?,
            seen: AtomicU64::new(0),
        })
    })
    .as_ref()
}

/// Aborts the process when `MERIDIAN_FAULT_ABORT` names `point` and this is
/// its `n`-th passage.
pub(crate) fn point(point: &str) {
    let Some(spec) = spec() else { return };
    if spec.point != point {
        return;
    }
    if spec.seen.fetch_add(1, Ordering::SeqCst) + 1 == spec.nth {
        eprintln!("{FAULT_ENV}: aborting at `{point}` (passage {})", spec.nth);
        std::process::abort();
    }
}
