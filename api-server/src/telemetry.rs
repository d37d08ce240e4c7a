//! Logging with `tracing`: readable lines by default, one JSON object a line with
//! `LOG_FORMAT=json`, filtered by `RUST_LOG` (default `info`).
//!
//! Every line logged while a request is handled carries its `request_id` (see
//! `http::observe`): in text, as `request{request_id=…}:` before the message; in JSON, in
//! the `spans` list.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines, coloured on a terminal.
    #[default]
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!("LOG_FORMAT must be text or json, not {value:?}")),
        }
    }
}

/// Installs the global subscriber from `LOG_FORMAT` and `RUST_LOG`, writing to stderr.
/// A second call (as in tests) keeps the first subscriber.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let format = std::env::var("LOG_FORMAT")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .map_or(Ok(LogFormat::Text), |value| value.parse());
    let ansi = std::io::stderr().is_terminal();
    let dispatch = dispatch(
        format.clone().unwrap_or_default(),
        filter,
        std::io::stderr,
        ansi,
    );
    if tracing::dispatcher::set_global_default(dispatch).is_ok()
        && let Err(problem) = format
    {
        tracing::warn!("{problem}; logging as text");
    }
}

/// Installs the global subscriber writing `format` to `writer`, filtered by `filter`
/// (`RUST_LOG` syntax). Returns whether it was installed: false when there is one already.
pub fn install<W>(format: LogFormat, filter: &str, writer: W) -> bool
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let dispatch = dispatch(format, EnvFilter::new(filter), writer, false);
    tracing::dispatcher::set_global_default(dispatch).is_ok()
}

fn dispatch<W>(format: LogFormat, filter: EnvFilter, writer: W, ansi: bool) -> Dispatch
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.finish().into(),
        // Event fields at the top level beside `message`; the span list rather than only
        // the innermost span, so that `request_id` is on every line even from inside a
        // nested span.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .finish()
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::LogFormat;

    #[test]
    fn log_format_reads_text_or_json_in_any_case() {
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!(" Text ".parse(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
