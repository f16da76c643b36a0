//! Password hashing for people's logins: argon2id (the `argon2` crate's
//! defaults, OWASP's minimum) with a random salt per password, stored as a
//! PHC string. Passwords are never logged, echoed or stored.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::oneshot;

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

/// A check waiting for a thread: the stored hash, the password tried, and
/// where the answer goes.
type Check = (Option<String>, String, oneshot::Sender<bool>);

/// Threads of their own that check passwords at the lowest CPU priority
/// the OS offers (SCHED_IDLE on Linux): argon2 is slow on purpose, and a
/// flood of logins must never take the CPU that dispatch (this process's
/// other threads, PostgreSQL) needs. Under load a check waits for idle CPU
/// instead; the caller bounds how long it waits.
#[derive(Clone)]
pub struct PasswordChecker {
    checks: mpsc::Sender<Check>,
}

impl PasswordChecker {
    /// Starts `threads` checking threads (they end with the last handle).
    pub fn start(threads: usize) -> PasswordChecker {
        let (checks, waiting) = mpsc::channel::<Check>();
        let waiting = Arc::new(Mutex::new(waiting));
        for index in 0..threads.max(1) {
            let waiting = waiting.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-check-{index}"))
                .spawn(move || {
                    lowest_priority();
                    loop {
                        let next = waiting
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .recv();
                        let Ok((stored, password, answer)) = next else {
                            return;
                        };
                        let _ = answer.send(verify_password(stored.as_deref(), &password));
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password-check thread");
            }
        }
        PasswordChecker { checks }
    }

    /// Whether `password` matches `stored` (see [`verify_password`]);
    /// false if no thread could check it.
    pub async fn matches(&self, stored: Option<String>, password: String) -> bool {
        let (answer, answered) = oneshot::channel();
        if self.checks.send((stored, password, answer)).is_err() {
            return false;
        }
        answered.await.unwrap_or(false)
    }
}

/// This thread runs only when the CPU has nothing else to do.
fn lowest_priority() {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    if let Err(error) = set_thread_priority_and_policy(
        thread_native_id(),
        thread_priority::ThreadPriority::Min,
        idle,
    ) {
        tracing::warn!(?error, "password checks run at normal priority");
    }
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

    #[tokio::test]
    async fn the_idle_priority_threads_check_passwords() {
        let hash = hash_password("kopi-tubruk-2026").unwrap();
        let checker = PasswordChecker::start(1);
        assert!(
            checker
                .matches(Some(hash.clone()), "kopi-tubruk-2026".to_owned())
                .await
        );
        assert!(!checker.matches(Some(hash), "salah".to_owned()).await);
    }
}
