//! Signed, expiring links: the credential of every confirm and unsubscribe
//! action.
//!
//! A link carries `{purpose}.{subscriber id}.{expiry}.{tag}`, e.g.
//! `u.42.1798761600.mfrggzdfmztwq2lknnwg23tpoa`. The tag is the first 128
//! bits of HMAC-SHA256, under the region's link secret, over the region, the
//! purpose, the subscriber id, the subscriber's address and the expiry,
//! written in lower-case base32. The address is in the MAC but not in the
//! link, so links in logs, proxies and browser histories do not carry it,
//! and a link stops working when the subscriber's row is erased. Lower-case
//! base32 survives mail systems that fold the case of local parts, which
//! matters for the `mailto:unsubscribe+TOKEN@…` form; at most 62 characters
//! of local part for ids below 10¹⁰, under SMTP's 64.
//!
//! There is no session and no CSRF token: the signed link *is* the
//! credential (RFC 8058 one-click unsubscribe relies on exactly that).

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use hmac::{Hmac, Mac as _};
use meridian_config::{RegionConfig, StorageBackend};
use meridian_core::{RegionId, SubscriberEmail};
use sha2::Sha256;

/// Bytes of the tag kept from the HMAC: 128 bits.
const TAG_BYTES: usize = 16;

/// What a link may be used for; a link for one purpose never works for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Confirms a subscription (double opt-in).
    Confirm,
    /// Unsubscribes (one-click, RFC 8058).
    Unsubscribe,
}

impl LinkPurpose {
    fn code(self) -> &'static str {
        match self {
            Self::Confirm => "c",
            Self::Unsubscribe => "u",
        }
    }
}

/// Why a link was not accepted. Shown to the person who clicked it, so it
/// says what to do, and never whether an address is subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a link of this kind at all (cut short, mistyped, wrong purpose).
    #[error("the link is incomplete or not a link of this kind")]
    Malformed,
    /// Signed correctly, but past its expiry.
    #[error("the link has expired")]
    Expired,
    /// The signature does not match (forged, or the subscriber was erased).
    #[error("the link is not valid")]
    Invalid,
    /// A confirm link older than the address's later unsubscription: it no
    /// longer expresses the person's wish.
    #[error("the link was sent before a later unsubscription and no longer applies")]
    Superseded,
}

/// A link parsed, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLink {
    /// The subscriber's row id.
    pub subscriber_id: i64,
    /// Unix seconds after which it no longer works.
    pub expires_at: i64,
    tag: [u8; TAG_BYTES],
}

impl ParsedLink {
    /// Parses a link token for `purpose`.
    ///
    /// # Errors
    /// [`LinkError::Malformed`].
    pub fn parse(token: &str, purpose: LinkPurpose) -> Result<Self, LinkError> {
        let mut parts = token.trim().split('.');
        let (Some(p), Some(id), Some(exp), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(LinkError::Malformed);
        };
        if p != purpose.code() {
            return Err(LinkError::Malformed);
        }
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(id) || !digits(exp) {
            return Err(LinkError::Malformed);
        }
        let subscriber_id = id.parse().map_err(|_| LinkError::Malformed)?;
        let expires_at = exp.parse().map_err(|_| LinkError::Malformed)?;
        let tag = base32_decode(tag).ok_or(LinkError::Malformed)?;
        Ok(Self {
            subscriber_id,
            expires_at,
            tag,
        })
    }
}

/// Signs and checks one region's links, and makes the keyed hashes that
/// stand for addresses in logs.
pub struct LinkSigner {
    region: RegionId,
    /// The region's link secret.
    key: Vec<u8>,
}

impl fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkSigner")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl LinkSigner {
    /// A signer for `region` with `key` (at least 32 bytes). A region's own
    /// signer, [`crate::Region::links`], takes its key from the environment
    /// variable named by `server.token_secret_env`, or, for a region on
    /// SQLite without it, from `server.token_secret_file` (generated once).
    #[must_use]
    pub fn new(region: RegionId, key: Vec<u8>) -> Self {
        Self { region, key }
    }

    /// The signer of a region: its secret from the environment variable named
    /// by `server.token_secret_env`; when that is unset and the region runs on
    /// SQLite, a secret generated once into `server.token_secret_file`
    /// (mode 0600). A region on PostgreSQL requires the variable, because
    /// every replica must sign with the same secret.
    ///
    /// # Errors
    /// What is wrong, naming the variable or the file (the caller wraps it
    /// in [`RuntimeError::LinkSecret`]).
    pub(crate) fn for_region(config: &RegionConfig) -> Result<Self, String> {
        let server = &config.server;
        let key = match (&server.token_secret, config.storage_backend) {
            (Some(secret), _) => secret.expose().as_bytes().to_vec(),
            (None, StorageBackend::Sqlite) => load_or_create(&server.token_secret_file)?,
            (None, StorageBackend::Postgres) => {
                return Err(format!(
                    "environment variable {} is not set; a region on PostgreSQL needs it, so that every replica \
                     signs confirm and unsubscribe links with the same secret (at least 32 characters)",
                    server.token_secret_env
                ));
            }
        };
        Ok(Self::new(config.id.clone(), key))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length; this cannot fail.
        <Hmac<Sha256>>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable_mac())
    }

    fn tag_mac(
        &self,
        purpose: LinkPurpose,
        subscriber_id: i64,
        email: &SubscriberEmail,
        expires_at: i64,
    ) -> Hmac<Sha256> {
        let mut mac = self.mac();
        // Fields separated by NUL, which none of them can contain.
        for field in [
            b"meridian-link-v1".as_slice(),
            self.region.as_str().as_bytes(),
            purpose.code().as_bytes(),
            subscriber_id.to_string().as_bytes(),
            email.as_str().as_bytes(),
            expires_at.to_string().as_bytes(),
        ] {
            mac.update(field);
            mac.update(&[0]);
        }
        mac
    }

    /// The token of a link for `purpose` to subscriber `subscriber_id` with
    /// address `email`, working until `expires_at` (Unix seconds).
    #[must_use]
    pub fn sign(
        &self,
        purpose: LinkPurpose,
        subscriber_id: i64,
        email: &SubscriberEmail,
        expires_at: i64,
    ) -> String {
        let full = self
            .tag_mac(purpose, subscriber_id, email, expires_at)
            .finalize()
            .into_bytes();
        let tag = full.get(..TAG_BYTES).unwrap_or(&full[..]);
        format!(
            "{}.{subscriber_id}.{expires_at}.{}",
            purpose.code(),
            base32_encode(tag)
        )
    }

    /// Checks a parsed link against the subscriber's stored address, then
    /// its expiry at `now`. The tag comparison takes constant time.
    ///
    /// # Errors
    /// [`LinkError::Invalid`] or [`LinkError::Expired`].
    pub fn verify(
        &self,
        purpose: LinkPurpose,
        link: &ParsedLink,
        email: &SubscriberEmail,
        now: i64,
    ) -> Result<(), LinkError> {
        self.tag_mac(purpose, link.subscriber_id, email, link.expires_at)
            .verify_truncated_left(&link.tag)
            .map_err(|_| LinkError::Invalid)?;
        if now > link.expires_at {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    /// A key for another use of the region's link secret (e.g. signing the
    /// subscribe form's CSRF tokens): HMAC-SHA256 under the secret over
    /// `meridian-key-v1`, NUL, `label`. Every other MAC under the secret
    /// starts with a different prefix (`meridian-link-v1`,
    /// `meridian-recipient-v1`), so no link tag or keyed hash of an address,
    /// both of which tokens of the admin API can see, ever equals a derived
    /// key, and keys of different labels are unrelated.
    #[must_use]
    pub fn derived_key(&self, label: &str) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(b"meridian-key-v1\0");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The keyed hash that stands for an address in logs:
    /// `hmac-sha256:` + hex of HMAC-SHA256 under a key derived from the
    /// region's link secret. Stable per region, useless without the secret.
    #[must_use]
    pub fn recipient_hash(&self, email: &SubscriberEmail) -> String {
        let mut mac = self.mac();
        mac.update(b"meridian-recipient-v1\0");
        mac.update(email.as_str().as_bytes());
        format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
    }
}

#[cold]
fn unreachable_mac() -> Hmac<Sha256> {
    // `Hmac::new_from_slice` only fails for fixed-size-key MACs; keep a
    // defined value rather than a panic path.
    <Hmac<Sha256> as hmac::digest::KeyInit>::new(&Default::default())
}

/// Reads the 64-hex-digit secret in `path`, or writes a fresh one there.
fn load_or_create(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let line = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .unwrap_or("");
            let key = hex::decode(line).map_err(|e| format!("{shown}: not hex: {e}"))?;
            if key.len() < 32 {
                return Err(format!("{shown}: the secret is shorter than 32 bytes"));
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
            }
            let mut key = vec![0u8; 32];
            getrandom::fill(&mut key).map_err(|e| format!("the OS random generator: {e}"))?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(mut file) => {
                    let body = format!(
                        "# Meridian link-signing secret, generated because no environment variable held one.\n{}\n",
                        hex::encode(&key)
                    );
                    file.write_all(body.as_bytes())
                        .map_err(|e| format!("writing {shown}: {e}"))?;
                    tracing::info!(file = %shown, "Generated the region's link-signing secret.");
                    Ok(key)
                }
                // Another process made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
                Err(e) => Err(format!("creating {shown}: {e}")),
            }
        }
        Err(e) => Err(format!("reading {shown}: {e}")),
    }
}

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// RFC 4648 base32, lower case, no padding.
fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The inverse of [`base32_encode`] for exactly [`TAG_BYTES`] bytes; any
/// case is accepted (some mail systems fold local parts).
fn base32_decode(s: &str) -> Option<[u8; TAG_BYTES]> {
    if s.len() != (TAG_BYTES * 8).div_ceil(5) {
        return None;
    }
    let mut out = [0u8; TAG_BYTES];
    let (mut buffer, mut bits, mut n) = (0u32, 0u32, 0usize);
    for c in s.bytes() {
        let v = BASE32.iter().position(|&a| a == c.to_ascii_lowercase())?;
        buffer = (buffer << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = ((buffer >> bits) & 0xff) as u8;
            n += 1;
        }
    }
    // The leftover bits must be zero, so that each tag has one spelling.
    (n == TAG_BYTES && buffer & ((1 << bits) - 1) == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(region: &str, key: &[u8]) -> LinkSigner {
        LinkSigner::new(RegionId::parse(region).unwrap(), key.to_vec())
    }

    fn ada() -> SubscriberEmail {
        SubscriberEmail::parse("ada@us.example.com").unwrap()
    }

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_derived_key_is_no_keyed_hash_and_depends_on_its_label_and_the_secret() {
        let s = signer("us", KEY);
        let csrf = s.derived_key("meridian-csrf-v1");
        assert_eq!(csrf, s.derived_key("meridian-csrf-v1"), "stable");
        assert_ne!(csrf, s.derived_key("other"));
        assert_ne!(
            csrf,
            signer("us", b"another secret of 32 characters!").derived_key("meridian-csrf-v1")
        );
        // Neither the keyed hash of any address (tried: the old fixed one),
        // as text or as bytes.
        let hash = s
            .recipient_hash(&SubscriberEmail::parse_existing("csrf-key@meridian.example").unwrap());
        assert_ne!(hash.as_bytes(), csrf.as_slice());
        assert_ne!(hex::encode(csrf), hash.trim_start_matches("hmac-sha256:"));
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let s = signer("us", KEY);
        let token = s.sign(LinkPurpose::Unsubscribe, 42, &ada(), 1_000);
        assert!(token.starts_with("u.42.1000."), "{token}");
        let link = ParsedLink::parse(&token, LinkPurpose::Unsubscribe).unwrap();
        assert_eq!((link.subscriber_id, link.expires_at), (42, 1_000));
        assert_eq!(
            s.verify(LinkPurpose::Unsubscribe, &link, &ada(), 1_000),
            Ok(())
        );
        assert_eq!(
            s.verify(LinkPurpose::Unsubscribe, &link, &ada(), 1_001),
            Err(LinkError::Expired)
        );
        let upper = ParsedLink::parse(
            &token.to_ascii_uppercase().replacen('U', "u", 1),
            LinkPurpose::Unsubscribe,
        )
        .unwrap();
        assert_eq!(
            s.verify(LinkPurpose::Unsubscribe, &upper, &ada(), 0),
            Ok(()),
            "case-folded by a mail system"
        );
    }

    #[test]
    fn a_link_is_bound_to_its_purpose_region_subscriber_address_and_expiry() {
        let s = signer("us", KEY);
        let token = s.sign(LinkPurpose::Confirm, 7, &ada(), 5_000);
        assert_eq!(
            ParsedLink::parse(&token, LinkPurpose::Unsubscribe),
            Err(LinkError::Malformed),
            "wrong purpose"
        );
        let link = ParsedLink::parse(&token, LinkPurpose::Confirm).unwrap();
        let bob = SubscriberEmail::parse("bob@us.example.com").unwrap();
        assert_eq!(
            s.verify(LinkPurpose::Confirm, &link, &bob, 0),
            Err(LinkError::Invalid),
            "another address"
        );
        assert_eq!(
            signer("eu", KEY).verify(LinkPurpose::Confirm, &link, &ada(), 0),
            Err(LinkError::Invalid),
            "another region"
        );
        assert_eq!(
            signer("us", b"another key, 32 bytes or longer!").verify(
                LinkPurpose::Confirm,
                &link,
                &ada(),
                0
            ),
            Err(LinkError::Invalid),
            "another secret"
        );
        for forged in [
            token.replacen(".7.", ".8.", 1),
            token.replacen(".5000.", ".9000.", 1),
        ] {
            let link = ParsedLink::parse(&forged, LinkPurpose::Confirm).unwrap();
            assert_eq!(
                s.verify(LinkPurpose::Confirm, &link, &ada(), 0),
                Err(LinkError::Invalid),
                "{forged}"
            );
        }
    }

    #[test]
    fn broken_tokens_are_malformed() {
        for bad in [
            "",
            "c",
            "c.1.2",
            "c.1.2.abc",
            "c.x.2.aaaaaaaaaaaaaaaaaaaaaaaaaa",
            "c.1.2.aaaaaaaaaaaaaaaaaaaaaaaaaa.x",
            "c.-1.2.aaaaaaaaaaaaaaaaaaaaaaaaaa",
            "c.1.2.aaaaaaaaaaaaaaaaaaaaaaaaa1",
        ] {
            assert_eq!(
                ParsedLink::parse(bad, LinkPurpose::Confirm),
                Err(LinkError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn base32_round_trips_and_fits_a_mailto_local_part() {
        for bytes in [[0u8; TAG_BYTES], [0xff; TAG_BYTES], *b"0123456789abcdef"] {
            let text = base32_encode(&bytes);
            assert_eq!(text.len(), 26);
            assert_eq!(base32_decode(&text), Some(bytes));
        }
        let token = signer("us", KEY).sign(
            LinkPurpose::Unsubscribe,
            9_999_999_999,
            &ada(),
            9_999_999_999,
        );
        assert!(format!("unsubscribe+{token}").len() <= 64, "{token}");
    }

    #[test]
    fn recipient_hashes_are_stable_keyed_and_hide_the_address() {
        let h = signer("us", KEY).recipient_hash(&ada());
        assert_eq!(h, signer("us", KEY).recipient_hash(&ada()));
        assert_ne!(
            h,
            signer("us", b"another key, 32 bytes or longer!").recipient_hash(&ada())
        );
        assert!(h.starts_with("hmac-sha256:") && !h.contains("ada"));
    }

    #[test]
    fn a_generated_secret_is_kept_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/us.token-secret");
        let first = load_or_create(&path).unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(
            load_or_create(&path).unwrap(),
            first,
            "read back, not made again"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
