//! Logging setup: one subscriber, filter from `RUST_LOG` (default `info`), human-readable or JSON.
//! Handlers and jobs log dotted fields; personal data and secrets are never logged.

use tracing::Subscriber;
use tracing_subscriber::{EnvFilter, fmt::MakeWriter, layer::SubscriberExt};

/// A subscriber writing to `sink`, filtered by `RUST_LOG` or `default_filter`.
pub fn get_subscriber<Sink>(
    default_filter: &str,
    json: bool,
    sink: Sink,
) -> Box<dyn Subscriber + Send + Sync>
where
    Sink: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        Box::new(registry.with(tracing_subscriber::fmt::layer().json().with_writer(sink)))
    } else {
        Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_writer(sink),
            ),
        )
    }
}

/// Installs the subscriber for the whole process (once).
pub fn init_subscriber(subscriber: Box<dyn Subscriber + Send + Sync>) {
    let _ = tracing::subscriber::set_global_default(subscriber);
}
