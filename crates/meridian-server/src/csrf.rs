//! CSRF protection of the HTML form posts: a signed double-submit token.
//!
//! `GET /subscribe` puts a fresh token in a hidden form field *and* in a
//! cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind https). `POST
//! /subscribe` is accepted only when the form field equals the cookie and the
//! token's signature and expiry check out. Another site can make a browser
//! post the form, but it can neither read nor set the cookie, and it cannot
//! forge a signature, so the post is refused with `403`.
//!
//! The token is `<expires>.<nonce>.<hmac>`: HMAC-SHA256 under a key derived
//! from the region's link secret under its own label, so every replica of a
//! region accepts the tokens of the others, no server-side session is
//! needed, and no value the admin API shows (keyed hashes of addresses,
//! made under another label) helps to forge one.
//!
//! The RFC 8058 one-click `POST /unsubscribe?token=…` is not a form of ours
//! and takes no CSRF token: its signed link token is the credential, and
//! mail providers post it with no cookie.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac as _};
use meridian_runtime::Region;
use sha2::Sha256;

/// The form field and the cookie that carry the token.
pub const CSRF_FIELD: &str = "csrf";
/// The cookie's name.
pub const CSRF_COOKIE: &str = "meridian_csrf";
/// The label under which the CSRF key is derived from the region's link secret.
pub const CSRF_KEY_LABEL: &str = "meridian-csrf-v1";
/// How long a form stays usable, seconds.
pub const CSRF_VALID_SECS: i64 = 2 * 3600;

/// Signs and checks CSRF tokens of one region.
#[derive(Clone)]
pub struct CsrfSigner {
    key: Vec<u8>,
    secure: bool,
}

impl std::fmt::Debug for CsrfSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrfSigner").finish_non_exhaustive()
    }
}

impl CsrfSigner {
    /// The signer of `region`: its key is derived from the region's link
    /// secret under its own label ([`CSRF_KEY_LABEL`]), so it is as secret as
    /// the link secret, the same on every replica, and equal to nothing an
    /// API token can read (keyed hashes of addresses are made under another
    /// label).
    #[must_use]
    pub fn of(region: &Region) -> Self {
        Self {
            key: region.links().derived_key(CSRF_KEY_LABEL).to_vec(),
            secure: region.config().server.base_url.starts_with("https://"),
        }
    }

    fn mac(&self, expires: i64, nonce: &str) -> String {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.key)
            .unwrap_or_else(|_| <Hmac<Sha256> as hmac::digest::KeyInit>::new(&Default::default()));
        mac.update(b"meridian-csrf-v1\0");
        mac.update(expires.to_string().as_bytes());
        mac.update(b"\0");
        mac.update(nonce.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A fresh token, valid for [`CSRF_VALID_SECS`] from `now`.
    #[must_use]
    pub fn issue(&self, now: i64) -> String {
        let mut nonce = [0u8; 16];
        // Without OS randomness the nonce is fixed; the signature and
        // expiry still bind the token to this region and time.
        let _ = getrandom::fill(&mut nonce);
        let nonce = hex::encode(nonce);
        let expires = now + CSRF_VALID_SECS;
        format!("{expires}.{nonce}.{}", self.mac(expires, &nonce))
    }

    /// The `Set-Cookie` value that carries `token`.
    #[must_use]
    pub fn cookie(&self, token: &str) -> String {
        format!(
            "{CSRF_COOKIE}={token}; Path=/; Max-Age={CSRF_VALID_SECS}; HttpOnly; SameSite=Strict{}",
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// Whether `form_token` is a valid, unexpired token equal to the one in
    /// the request's cookie.
    #[must_use]
    pub fn check(&self, headers: &HeaderMap, form_token: &str, now: i64) -> bool {
        let Some(cookie) = cookie_value(headers, CSRF_COOKIE) else {
            return false;
        };
        if cookie != form_token {
            return false;
        }
        let mut parts = form_token.splitn(3, '.');
        let (Some(expires), Some(nonce), Some(sig)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let Ok(expires) = expires.parse::<i64>() else {
            return false;
        };
        let expected = self.mac(expires, nonce);
        // Constant-time comparison of equal-length hex strings.
        let same = expected.len() == sig.len()
            && expected
                .bytes()
                .zip(sig.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        same && now < expires
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
