//! Fuzz target: any request line and headers must get a well-formed answer from `respond`,
//! nothing but the snapshot's files and pages is ever served, and no HTML page served leaves
//! anything runnable for a browser (html5ever) to find. The snapshot is built from a hostile site;
//! the harness and its checks are in tests/common/http_request.rs, which `cargo test` also runs
//! on the saved requests.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/markup.rs"]
mod markup;

#[path = "../../tests/common/http_request.rs"]
mod http_request;

fuzz_target!(|data: &[u8]| {
    http_request::answer_and_check(data);
});
