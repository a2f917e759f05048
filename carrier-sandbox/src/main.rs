//! `carrier-sandbox`: the carrier emulation as its own process, for demos and for running the service
//! against something that behaves like VNPost without VNPost.
//!
//! `carrier-sandbox --bind 127.0.0.1:9090 --speed 60` serves CARRIER.md at that address with one
//! simulated minute per real second; the control API under `/_sandbox` advances time and injects faults.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use carrier_sandbox::{Sandbox, SandboxConfig};
use clap::Parser;

/// Command line of the sandbox; every option also reads from the environment.
#[derive(Debug, Parser)]
#[command(
    name = "carrier-sandbox",
    version,
    about = "Emulates the carrier's tracking API (CARRIER.md)"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "CARRIER_SANDBOX_BIND", default_value = "127.0.0.1:9090")]
    bind: SocketAddr,
    /// Simulated seconds per real second (0 freezes time; move it with POST /_sandbox/clock/advance).
    #[arg(long, env = "CARRIER_SANDBOX_SPEED", default_value_t = 1.0)]
    speed: f64,
    /// How many times faster parcels move along their default path, event times staying real.
    #[arg(long, env = "CARRIER_SANDBOX_PACE", default_value_t = 1.0)]
    pace: f64,
    /// Seed of every random choice, for repeatable runs.
    #[arg(long, env = "CARRIER_SANDBOX_SEED", default_value_t = 452_016)]
    seed: u64,
    /// Consumer key accepted at POST /token.
    #[arg(
        long,
        env = "CARRIER_SANDBOX_CONSUMER_KEY",
        default_value = "sandbox-key"
    )]
    consumer_key: String,
    /// Consumer secret accepted at POST /token.
    #[arg(
        long,
        env = "CARRIER_SANDBOX_CONSUMER_SECRET",
        default_value = "sandbox-secret",
        hide_default_value = true
    )]
    consumer_secret: String,
    /// Customer code orders must carry.
    #[arg(long, env = "CARRIER_SANDBOX_CUSTOMER_CODE", default_value = "DOSSIER")]
    customer_code: String,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "CARRIER_SANDBOX_TOKEN_TTL", default_value_t = 3600)]
    token_ttl_secs: u64,
    /// Chance that a delivery attempt fails (status 15).
    #[arg(long, env = "CARRIER_SANDBOX_FAILURE_RATE", default_value_t = 0.1)]
    failure_rate: f64,
}

impl Cli {
    fn into_config(self) -> SandboxConfig {
        SandboxConfig {
            bind: self.bind,
            consumer_key: self.consumer_key,
            consumer_secret: self.consumer_secret,
            customer_code: self.customer_code,
            token_ttl: Duration::from_secs(self.token_ttl_secs),
            speed: self.speed,
            pace: self.pace,
            seed: self.seed,
            delivery_failure_rate: self.failure_rate,
            ..SandboxConfig::default()
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = Cli::parse().into_config();
    let speed = config.speed;
    let sandbox = Sandbox::start(config)
        .await
        .context("Failed to start the carrier sandbox")?;
    println!(
        "carrier sandbox at {} (speed {speed}); control API under {}/_sandbox",
        sandbox.base_url(),
        sandbox.base_url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("Failed to wait for Ctrl-C")?;
    sandbox.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_maps_onto_the_config() {
        let cli =
            Cli::try_parse_from(["carrier-sandbox", "--bind", "127.0.0.1:0", "--speed", "60"])
                .expect("valid command line");
        let config = cli.into_config();
        assert_eq!(config.speed, 60.0);
        assert_eq!(config.bind.port(), 0);
    }
}
