//! Logs to stderr with `tracing`; under systemd's journal, no timestamps of our own and
//! priority prefixes the journal understands.

use tracing_subscriber::EnvFilter;

pub fn init() {
    // html5ever (under the sanitizer) warns "foster parenting not implemented" for text misplaced
    // in a table, which it does handle: noise about a post's markup, not about postfeed.
    let filter =
        EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info,notify=warn,html5ever=error"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        let _ = builder.without_time().with_ansi(false).event_format(journal::Format).try_init();
    } else {
        let _ = builder.try_init();
    }
}

mod journal {
    use std::fmt;

    use tracing::{Event, Level, Subscriber};
    use tracing_subscriber::fmt::format::Writer;
    use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
    use tracing_subscriber::registry::LookupSpan;

    /// `<N>message`: the journal reads the `<N>` prefix as the syslog priority.
    pub(super) struct Format;

    impl<S, N> FormatEvent<S, N> for Format
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
            let priority = match *event.metadata().level() {
                Level::ERROR => 3,
                Level::WARN => 4,
                Level::INFO => 6,
                Level::DEBUG | Level::TRACE => 7,
            };
            write!(writer, "<{priority}>")?;
            ctx.field_format().format_fields(writer.by_ref(), event)?;
            writeln!(writer)
        }
    }
}

/// Resident and peak memory of this process (`VmRSS`, `VmHWM`), for debug logs of build phases.
pub(crate) fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_else(|| "?".into())
    };
    format!("rss {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}
