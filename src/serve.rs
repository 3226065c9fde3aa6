//! The daemon: first build, watch loop, snapshot swaps, signals.

use std::net::SocketAddr;
use std::path::Path;

pub fn run(_config: &Path, _listen: Option<SocketAddr>) -> anyhow::Result<()> {
    anyhow::bail!("serve is not built yet")
}
