//! Polling until AWS reaches a state, with growing intervals, a deadline and
//! Terraform's stop signal.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::errors::AwsError;
use crate::stop::StopSignal;

/// First wait between polls. Most emulator and many AWS transitions finish
/// within a second, so the first poll comes quickly.
const FIRST_INTERVAL: Duration = Duration::from_millis(200);
/// The interval doubles up to this cap.
const MAX_INTERVAL: Duration = Duration::from_secs(5);

/// Returns now plus `timeout`, or an instant a year away when that would
/// overflow the clock.
pub fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

/// The reason a wait ended without reaching its goal.
#[derive(Debug)]
pub enum WaitError<E> {
    /// The deadline passed. The string describes the last state seen.
    TimedOut(String),
    /// Terraform asked the provider to stop.
    Stopped,
    /// The check itself failed, or observed a state that will never reach
    /// the goal.
    Failed(E),
}

/// The outcome of one poll.
pub enum Poll<T> {
    Done(T),
    /// Not done yet. The string describes the current state for messages.
    Pending(String),
}

/// Calls `check` until it returns `Done`, fails, the `timeout` passes or the
/// stop signal goes up.
pub async fn until<T, E, F, Fut>(
    timeout: Duration,
    stop: &StopSignal,
    mut check: F,
) -> Result<T, WaitError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    let deadline = deadline_after(timeout);
    let mut interval = FIRST_INTERVAL;
    let mut last = "no answer from AWS yet".to_string();
    loop {
        // The SDK retries throttled and failed calls on its own, which can
        // take minutes, so each check is cut off by the deadline and the
        // stop signal too. Checks are reads or idempotent changes, so an
        // abandoned one is repeated safely by the next apply.
        let outcome = tokio::select! {
            outcome = check() => outcome,
            _ = tokio::time::sleep_until(deadline) => return Err(WaitError::TimedOut(last)),
            _ = stop.raised() => return Err(WaitError::Stopped),
        };
        last = match outcome.map_err(WaitError::Failed)? {
            Poll::Done(value) => return Ok(value),
            Poll::Pending(description) => description,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(WaitError::TimedOut(last));
        }
        let sleep = interval.min(deadline - now);
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = stop.raised() => return Err(WaitError::Stopped),
        }
        interval = (interval * 2).min(MAX_INTERVAL);
    }
}

/// The error code AWS returns while another change to the same object is
/// still being carried out.
const BUSY_CODE: &str = "OperationInProgress";

/// Calls `call` until it does not fail with `OperationInProgress`, backing
/// off as [`until`] does, within `timeout`.
pub async fn retry_while_busy<T, F, Fut>(
    timeout: Duration,
    stop: &StopSignal,
    mut call: F,
) -> Result<T, WaitError<AwsError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    until(timeout, stop, || {
        let attempt = call();
        async move {
            match attempt.await {
                Ok(value) => Ok(Poll::Done(value)),
                Err(error) if error.has_code(BUSY_CODE) => {
                    tracing::debug!(%error, "object busy; retrying");
                    Ok(Poll::Pending(error.to_string()))
                }
                Err(error) => Err(error),
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slow_check_is_cut_off_at_deadline() {
        let stop = StopSignal::new();
        let started = Instant::now();
        let outcome: Result<(), WaitError<()>> =
            until(Duration::from_millis(100), &stop, std::future::pending).await;
        assert!(
            matches!(outcome, Err(WaitError::TimedOut(_))),
            "{outcome:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn slow_check_is_cut_off_by_stop() {
        let stop = StopSignal::new();
        let raiser = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            raiser.raise();
        });
        let outcome: Result<(), WaitError<()>> =
            until(Duration::from_secs(60), &stop, std::future::pending).await;
        assert!(matches!(outcome, Err(WaitError::Stopped)), "{outcome:?}");
    }

    #[test]
    fn huge_timeout_does_not_overflow() {
        let deadline = deadline_after(Duration::MAX);
        assert!(deadline > Instant::now());
    }
}
