//! Password hashing for people's logins: argon2id (the `argon2` crate's
//! defaults, OWASP's minimum) with a random salt per password, stored as a
//! PHC string. Passwords are never logged, echoed or stored.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashes a new password (CPU-heavy: call from a blocking thread).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| argon2::password_hash::Error::Crypto)?;
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// A hash of no one's password: checked when the username is unknown, so
/// that an unknown user and a wrong password take the same time.
fn dummy_hash() -> Option<&'static str> {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password("not a password of anyone's").ok())
        .as_deref()
}

/// Whether `password` matches `stored` (a PHC string); with no stored hash
/// (unknown user) a dummy is checked and the answer is false. CPU-heavy.
pub fn verify_password(stored: Option<&str>, password: &str) -> bool {
    let (hash, real) = match stored {
        Some(stored) => (Some(stored), true),
        None => (dummy_hash(), false),
    };
    let Some(Ok(parsed)) = hash.map(PasswordHash::new) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("kopi-tubruk-2026").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("kopi"));
        assert!(verify_password(Some(&hash), "kopi-tubruk-2026"));
        assert!(!verify_password(Some(&hash), "kopi-tubruk-2027"));
        assert!(!verify_password(None, "not a password of anyone's"));
    }
}
