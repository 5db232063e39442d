//! Per-object locks, so that changes to one AWS object made by this provider
//! process happen one at a time. AWS rejects concurrent changes to one VPC
//! endpoint with `OperationInProgress`, and Terraform may run several
//! operations in parallel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

/// A lock per key, created on first use.
#[derive(Clone, Default)]
pub struct KeyedLocks {
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl KeyedLocks {
    /// Waits for and takes the lock for `key`; it is released when the guard
    /// is dropped.
    pub async fn lock(&self, key: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            locks.entry(key.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_key_waits_other_key_does_not() {
        let locks = KeyedLocks::default();
        let held = locks.lock("vpce-1").await;

        let other =
            tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock("vpce-2"));
        assert!(other.await.is_ok(), "a different key must not wait");

        let same = tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock("vpce-1"));
        assert!(same.await.is_err(), "the same key must wait");

        drop(held);
        let again =
            tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock("vpce-1"));
        assert!(again.await.is_ok(), "the key is free after release");
    }
}
