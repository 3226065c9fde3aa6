//! Everything HTTP, one job per file: [`body`] (response bodies sent piece by piece), [`pages`] (index, OPML, health; what a path names),
//! [`respond`] (one request to one response, pure, the clock passed in), [`conditional`]
//! (validators and content codings), [`server`] (the accept loop: limits, timeouts, shutdown) and
//! [`sendfile`] (identity bodies from memory files).

mod body;
mod conditional;
#[cfg(test)]
mod fixtures;
mod pages;
mod respond;
mod sendfile;
mod server;

pub use body::ResponseBody;
pub use pages::Served;
pub use respond::respond;
pub(crate) use server::{serve, HttpLimits};
