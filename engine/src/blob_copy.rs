//! The one verified blob copy that the mover, the scrubber's heals and the re-sealer share, and the one way
//! their steps are retried.
//!
//! A copy streams the plaintext of one part from the first source that serves it whole with the recorded size
//! and blake3 into a blob of the same name on the destination, sealed with the destination's active key
//! ([`copy_checked`]); the destination's copy is then read back and hashed ([`verify_part`]). Nothing is
//! published that did not hash right: the new blob replaces an old one only when its writer finishes, after the
//! whole plaintext was read and matched.
//!
//! A step fails [`StepError::Transient`] when a store or the network failed (worth retrying: see
//! [`backends::BackendError::is_store_failure`]) and [`StepError::Fatal`] when the content is wrong or missing
//! everywhere; [`with_retries`] retries the former with [`WORKER_BACKOFF`].

use std::sync::Arc;
use std::time::Duration;

use backends::retry::RetryPolicy;
use backends::{Backend, BackendError};
use catalog::PartRef;
use futures::StreamExt;

/// The workers' backoff between attempts of one step (mover, scrub heals, re-seals): the backends' own
/// [`RetryPolicy::backoff`] (exponential, full jitter), with a 100 ms base and a 5 s cap. Only its delays are
/// used here: how many attempts a step gets is each worker's own bound.
pub const WORKER_BACKOFF: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    base: Duration::from_millis(100),
    max_delay: Duration::from_secs(5),
    max_elapsed: Duration::from_secs(60),
    attempt_timeout: None,
};

/// The delay before retry `n` (1-based) of a worker's step: [`WORKER_BACKOFF`], at least half its base.
pub fn backoff(n: u32) -> Duration {
    WORKER_BACKOFF.backoff(n).max(WORKER_BACKOFF.base / 2)
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Worth retrying (a backend error).
    #[error("{0}")]
    Transient(String),
    /// Not worth retrying (content does not verify, object gone).
    #[error("{0}")]
    Fatal(String),
}

/// Streams `part` from the first of `sources` that serves it whole with the recorded size and blake3 into a
/// blob of the same name on `dest`, sealed with `dest`'s active key; returns the source's name.
///
/// Safe for rewriting a blob in place (a source may be `dest` itself): the new blob is published
/// ([`backends::SealedWriter::finish`], which replaces the old one atomically) only after the whole plaintext was
/// read and matched; on any failure the write is aborted and `dest`'s existing blob is untouched. Errors:
/// [`StepError::Transient`] if writing to `dest` failed or some source failed for a store reason,
/// [`StepError::Fatal`] if every source was missing, corrupt or had other content.
pub async fn copy_checked(
    sources: &[Arc<Backend>],
    dest: &Backend,
    part: &PartRef,
) -> Result<String, StepError> {
    let mut last = String::from("no source replica");
    let mut transient = false;
    for src in sources {
        let mut stream = match src.read(&part.blob, part.size, 0..part.size).await {
            Ok(s) => s,
            Err(e) => {
                transient |= is_transient(&e);
                last = format!("read from {}: {e}", src.name());
                continue;
            }
        };
        let mut writer = dest
            .writer(&part.blob)
            .await
            .map_err(|e| StepError::Transient(format!("write to {}: {e}", dest.name())))?;
        let mut hasher = blake3::Hasher::new();
        let mut n = 0u64;
        let mut failed = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => {
                    n += bytes.len() as u64;
                    hasher.update(&bytes);
                    if let Err(e) = writer.write(bytes).await {
                        writer.abort().await;
                        return Err(StepError::Transient(format!(
                            "write to {}: {e}",
                            dest.name()
                        )));
                    }
                }
                Err(e) => {
                    failed = Some((is_transient(&e), format!("read from {}: {e}", src.name())));
                    break;
                }
            }
        }
        if failed.is_none() {
            let got = hasher.finalize().to_hex().to_string();
            if n != part.size || got != part.blake3 {
                failed = Some((
                    false,
                    format!(
                        "{} holds {n} bytes with blake3 {got}, expected {} bytes with {}",
                        src.name(),
                        part.size,
                        part.blake3
                    ),
                ));
            }
        }
        match failed {
            Some((t, m)) => {
                writer.abort().await;
                transient |= t;
                last = m;
            }
            None => {
                return writer
                    .finish()
                    .await
                    .map(|_| src.name().to_owned())
                    .map_err(|e| StepError::Transient(format!("finish on {}: {e}", dest.name())));
            }
        }
    }
    Err(if transient {
        StepError::Transient(last)
    } else {
        StepError::Fatal(last)
    })
}

/// Reads the copy back and checks it hashes to the part's recorded blake3.
pub async fn verify_part(dest: &Backend, part: &PartRef) -> Result<(), StepError> {
    let mut stream = dest
        .read(&part.blob, part.size, 0..part.size)
        .await
        .map_err(|e| StepError::Transient(format!("read back from {}: {e}", dest.name())))?;
    let mut hasher = blake3::Hasher::new();
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        let bytes = chunk
            .map_err(|e| StepError::Transient(format!("read back from {}: {e}", dest.name())))?;
        n += bytes.len() as u64;
        hasher.update(&bytes);
    }
    let got = hasher.finalize().to_hex().to_string();
    if n != part.size || got != part.blake3 {
        return Err(StepError::Fatal(format!(
            "copy on {} does not verify: {n} bytes with blake3 {got}, expected {} bytes with {}",
            dest.name(),
            part.size,
            part.blake3
        )));
    }
    Ok(())
}

/// One attempt at a verified copy: [`copy_checked`], then [`verify_part`]. Returns the source used.
pub async fn copy_verified(
    sources: &[Arc<Backend>],
    dest: &Backend,
    part: &PartRef,
) -> Result<String, StepError> {
    let source = copy_checked(sources, dest, part).await?;
    verify_part(dest, part).await?;
    Ok(source)
}

/// Runs `step` (given the 1-based attempt number) until it succeeds, fails with [`StepError::Fatal`], or has
/// failed transiently `max_attempts` times, sleeping [`backoff`] between attempts. `what`, `backend` and `blob`
/// name the step in the logs. The error is the last failure's message.
pub async fn with_retries<T, F, Fut>(
    what: &str,
    backend: &str,
    blob: &str,
    max_attempts: u32,
    mut step: F,
) -> Result<T, String>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, StepError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match step(attempt).await {
            Ok(v) => return Ok(v),
            Err(StepError::Fatal(m)) => return Err(m),
            Err(StepError::Transient(m)) if attempt >= max_attempts => {
                return Err(format!("gave up after {attempt} attempts: {m}"));
            }
            Err(StepError::Transient(m)) => {
                let wait = backoff(attempt);
                tracing::warn!(backend, blob, attempt, ?wait, error = %m, "{what} step failed; retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

fn is_transient(e: &BackendError) -> bool {
    e.is_store_failure()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for n in 1..20 {
            let d = backoff(n);
            assert!(d <= WORKER_BACKOFF.max_delay, "{n}: {d:?}");
            assert!(d >= WORKER_BACKOFF.base / 2);
        }
        // The cap for attempt 1 is the base; for attempt 6 it is 3.2 s: sample until one draw exceeds 1 s.
        assert!(backoff(1) <= WORKER_BACKOFF.base);
        assert!((0..200).any(|_| backoff(6) > Duration::from_secs(1)));
    }
}
