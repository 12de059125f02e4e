//! Keyed pseudonyms of borrower ids, for files sent outside the lender (a
//! collection agency).
//!
//! The pseudonym of a borrower id is the lowercase hexadecimal HMAC-SHA256,
//! under a secret key, of the id's canonical text: an integer id as its
//! decimal digits (`1042`, `-7`), a string id as its UTF-8 bytes exactly as
//! stored (no trimming, no case folding). The same key gives the same
//! pseudonym every night, on every machine and in every partition; without
//! the key, a pseudonym cannot be computed from an id nor turned back into
//! one.
//!
//! The key is bytes, taken from the environment variable [`KEY_ENV`] or from
//! a key file (never from a command-line value, which other users of the
//! machine can read in the process list). It must have at least
//! [`MIN_KEY_BYTES`] bytes. The key itself never appears in a message, a log
//! line or a file: [`PseudonymKey::fingerprint`] identifies it instead.
//!
//! This module only hashes; writing pseudonymized files is
//! [`crate::output::pseudonymize`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The environment variable holding the pseudonym key.
pub const KEY_ENV: &str = "DUNNING_PSEUDONYM_KEY";

/// The shortest key accepted, in bytes: 128 bits, so the pseudonyms of a
/// known id space (say, ids 1 to 10 million) cannot be recomputed by trying
/// keys.
pub const MIN_KEY_BYTES: usize = 16;

/// The message whose HMAC under the key is the key's fingerprint.
const FINGERPRINT_MESSAGE: &[u8] = b"dunning key fingerprint";

/// Why no usable key was found. None of these messages contains the key.
#[derive(Debug, thiserror::Error)]
pub enum PseudonymError {
    /// Neither the environment variable nor a key file was given.
    #[error("--pseudonymize-ids needs a key: set the environment variable {KEY_ENV} or give --pseudonym-key-file PATH")]
    NoKey,
    /// Both were given: which one was meant cannot be told.
    #[error("the pseudonym key is given twice ({KEY_ENV} is set and --pseudonym-key-file is given): use one")]
    TwoKeys,
    /// The key is empty.
    #[error("{origin}: the pseudonym key is empty")]
    Empty {
        /// Where the key came from (the variable's name or the file).
        origin: String,
    },
    /// The key is too short.
    #[error("{origin}: the pseudonym key has {len} bytes; at least {MIN_KEY_BYTES} are needed")]
    TooShort {
        /// Where the key came from.
        origin: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The key file could not be read.
    #[error("{}: cannot read the pseudonym key file: {source}", path.display())]
    Read {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, PseudonymError>;

/// A checked pseudonym key, ready to hash. Its `Debug` shows the fingerprint,
/// never the key.
#[derive(Clone)]
pub struct PseudonymKey {
    /// The HMAC state after absorbing the key, cloned for each id.
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PseudonymKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl PseudonymKey {
    /// A key from its bytes; `origin` names where they came from, for messages.
    pub fn new(key: &[u8], origin: &str) -> Result<Self> {
        if key.is_empty() {
            return Err(PseudonymError::Empty {
                origin: origin.into(),
            });
        }
        if key.len() < MIN_KEY_BYTES {
            return Err(PseudonymError::TooShort {
                origin: origin.into(),
                len: key.len(),
            });
        }
        Ok(Self { mac: mac(key) })
    }

    /// The key from the value of [`KEY_ENV`] (`env`, as the process got it)
    /// or from `file`, whichever is given; both or neither is an error. A
    /// key file's contents are the key, less one trailing line ending (`\n`
    /// or `\r\n`), so `echo KEY > file` and `KEY` in the variable are the
    /// same key. A variable that is set but empty counts as given (and is
    /// refused as empty).
    pub fn resolve(env: Option<OsString>, file: Option<&Path>) -> Result<Self> {
        match (env, file) {
            (Some(_), Some(_)) => Err(PseudonymError::TwoKeys),
            (None, None) => Err(PseudonymError::NoKey),
            (Some(value), None) => Self::new(&value.into_encoded_bytes(), KEY_ENV),
            (None, Some(path)) => {
                let bytes = std::fs::read(path).map_err(|source| PseudonymError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                let key = bytes
                    .strip_suffix(b"\r\n")
                    .or_else(|| bytes.strip_suffix(b"\n"))
                    .unwrap_or(&bytes);
                Self::new(key, &path.display().to_string())
            }
        }
    }

    /// The pseudonym of an id given as its canonical text: 64 lowercase hex
    /// digits.
    pub fn pseudonym(&self, canonical_id: &str) -> String {
        let mut m = self.mac.clone();
        m.update(canonical_id.as_bytes());
        format!("{:x}", m.finalize().into_bytes())
    }

    /// The pseudonym of an integer id (of its decimal text).
    pub fn pseudonym_of_int(&self, id: i64) -> String {
        self.pseudonym(&id.to_string())
    }

    /// Identifies the key without revealing it: the first 16 hex digits of
    /// HMAC-SHA256(key, "dunning key fingerprint"). Two runs with the same
    /// fingerprint used the same key.
    pub fn fingerprint(&self) -> String {
        let mut m = self.mac.clone();
        m.update(FINGERPRINT_MESSAGE);
        format!("{:x}", m.finalize().into_bytes())[..16].to_string()
    }
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn hmac_hex(key: &[u8], message: &[u8]) -> String {
        let mut m = mac(key);
        m.update(message);
        hex(&m.finalize().into_bytes())
    }

    #[test]
    fn matches_the_rfc_4231_test_vectors() {
        // RFC 4231, section 4.2 (test case 1): key 0x0b x 20, "Hi There".
        let key = PseudonymKey::new(&[0x0b; 20], "test").unwrap();
        assert_eq!(
            key.pseudonym("Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2 (a key shorter than dunning accepts, so through the
        // MAC directly): key "Jefe".
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block (131 bytes of 0xaa).
        let key = PseudonymKey::new(&[0xaa; 131], "test").unwrap();
        assert_eq!(
            key.pseudonym("Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn integer_ids_hash_their_decimal_text() {
        let key = PseudonymKey::new(b"0123456789abcdef", "test").unwrap();
        assert_eq!(key.pseudonym_of_int(1042), key.pseudonym("1042"));
        assert_eq!(key.pseudonym_of_int(-7), key.pseudonym("-7"));
        assert_ne!(key.pseudonym("1042"), key.pseudonym(" 1042"));
        let p = key.pseudonym("1042");
        assert_eq!(p.len(), 64);
        assert!(p
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let other = PseudonymKey::new(b"0123456789abcdeF", "test").unwrap();
        assert_ne!(other.pseudonym("1042"), p, "another key, another pseudonym");
    }

    #[test]
    fn the_fingerprint_identifies_the_key_without_revealing_it() {
        let key = PseudonymKey::new(b"0123456789abcdef", "test").unwrap();
        let f = key.fingerprint();
        assert_eq!(f.len(), 16);
        assert_eq!(
            f,
            hmac_hex(b"0123456789abcdef", FINGERPRINT_MESSAGE)[..16],
            "documented construction"
        );
        assert_eq!(f, key.clone().fingerprint());
        let shown = format!("{key:?}");
        assert!(shown.contains(&f) && !shown.contains("0123456789abcdef"));
    }

    #[test]
    fn rejects_missing_empty_short_and_doubled_keys() {
        let env = |s: &str| Some(OsString::from(s));
        assert!(matches!(
            PseudonymKey::resolve(None, None),
            Err(PseudonymError::NoKey)
        ));
        assert!(matches!(
            PseudonymKey::resolve(env(""), None),
            Err(PseudonymError::Empty { .. })
        ));
        let short = PseudonymKey::resolve(env("fifteen bytes!!"), None).unwrap_err();
        assert!(matches!(short, PseudonymError::TooShort { len: 15, .. }));
        assert!(
            !short.to_string().contains("fifteen"),
            "messages never show the key"
        );
        assert!(PseudonymKey::resolve(env("sixteen bytes!!!"), None).is_ok());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "sixteen bytes!!!\n").unwrap();
        assert!(matches!(
            PseudonymKey::resolve(env("sixteen bytes!!!"), Some(&file)),
            Err(PseudonymError::TwoKeys)
        ));
        let from_file = PseudonymKey::resolve(None, Some(&file)).unwrap();
        let from_env = PseudonymKey::resolve(env("sixteen bytes!!!"), None).unwrap();
        assert_eq!(
            from_file.pseudonym("1"),
            from_env.pseudonym("1"),
            "one trailing newline is not part of the key"
        );
        std::fs::write(&file, "\n").unwrap();
        assert!(matches!(
            PseudonymKey::resolve(None, Some(&file)),
            Err(PseudonymError::Empty { .. })
        ));
        assert!(matches!(
            PseudonymKey::resolve(None, Some(&dir.path().join("absent"))),
            Err(PseudonymError::Read { .. })
        ));
    }

    #[test]
    fn keys_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<PseudonymKey>();
    }
}
