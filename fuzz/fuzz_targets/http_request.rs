//! Fuzz target: any request line and headers must get a well-formed answer from `respond`, and
//! nothing but the snapshot's files and pages is ever served (checks in tests/common).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/http_request.rs"]
mod http_request;

fuzz_target!(|data: &[u8]| {
    http_request::answer_and_check(data);
});
