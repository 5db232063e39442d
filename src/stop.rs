//! The stop signal Terraform raises with `StopProvider` (on Ctrl-C). It
//! depends on nothing else in the crate, so every layer may use it.
//!
//! Long waits select on it so that an interrupted apply returns promptly with
//! the state of what it has built so far, instead of being killed mid-way.

use std::sync::Arc;

use tokio::sync::watch;

/// A flag that goes up once and stays up.
#[derive(Clone)]
pub struct StopSignal {
    sender: Arc<watch::Sender<bool>>,
}

impl StopSignal {
    pub fn new() -> StopSignal {
        StopSignal {
            sender: Arc::new(watch::channel(false).0),
        }
    }

    pub fn raise(&self) {
        self.sender.send_replace(true);
    }

    pub fn is_raised(&self) -> bool {
        *self.sender.borrow()
    }

    /// Completes once the signal is raised.
    pub async fn raised(&self) {
        let mut receiver = self.sender.subscribe();
        let _ = receiver.wait_for(|stopping| *stopping).await;
    }
}

impl Default for StopSignal {
    fn default() -> StopSignal {
        StopSignal::new()
    }
}
