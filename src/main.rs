//! `terraform-provider-plink`: started by Terraform or OpenTofu as a plugin.
//!
//! Run by hand it prints a short explanation and exits 1, as go-plugin
//! plugins do; `--version` prints the version.

use std::io::Write as _;
use std::process::ExitCode;

use plink::protocol::handshake::{self, ServeOptions};

fn main() -> ExitCode {
    if std::env::args()
        .skip(1)
        .any(|a| a == "--version" || a == "-version")
    {
        println!("terraform-provider-plink {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if !handshake::started_by_terraform() {
        eprintln!(
            "This binary is a plugin for Terraform and OpenTofu and is not meant to be run \
             directly.\nInstall it as described in the README and use it from a Terraform \
             configuration with `source = \"plink/plink\"`."
        );
        return ExitCode::from(1);
    }
    init_logging();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("starting the async runtime failed: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve()) {
        Ok(()) => {
            // Exit at once: in-flight tasks have nothing left to report once
            // Terraform has asked for shutdown, and go-plugin kills plugins
            // that linger.
            std::process::exit(0);
        }
        Err(message) => {
            tracing::error!(%message, "provider failed");
            eprintln!("terraform-provider-plink: {message}");
            ExitCode::from(1)
        }
    }
}

async fn serve() -> Result<(), String> {
    ignore_interrupts();
    let server = handshake::start(plink::provider(), ServeOptions::from_env()).await?;
    tracing::info!(address = %server.address, tls = server.certificate.is_some(), "serving");

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", server.handshake_line)
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("writing the handshake to stdout failed: {e}"))?;
    drop(stdout);

    let mut shutdown = server.shutdown.clone();
    tokio::select! {
        result = server.serving => result,
        _ = shutdown.wait_for(|stopping| *stopping) => {
            // Give the Shutdown response a moment to reach Terraform.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Ok(())
        }
    }
}

/// Terraform sends Ctrl-C to the whole process group, then asks the provider
/// to stop through StopProvider. Dying on the signal instead would abandon an
/// apply half-way, so SIGINT is caught and only logged.
fn ignore_interrupts() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::interrupt()) {
            Ok(mut interrupts) => {
                tokio::spawn(async move {
                    while interrupts.recv().await.is_some() {
                        tracing::info!("interrupt received; waiting for StopProvider");
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot catch SIGINT"),
        }
    }
}

/// Logs go to stderr, which go-plugin copies into Terraform's log. The level
/// follows TF_LOG_PROVIDER, then TF_LOG, as Terraform's own providers do.
fn init_logging() {
    let level = std::env::var("TF_LOG_PROVIDER")
        .or_else(|_| std::env::var("TF_LOG"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let filter = match level.as_str() {
        "trace" | "json" => "trace",
        "debug" => "debug",
        "warn" => "warn",
        "error" => "error",
        _ => "info",
    };
    let filter = format!("warn,plink={filter},terraform_provider_plink={filter}");
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .init();
}
