//! Content-Security-Policy hash sources: the pages postfeed serves inline their CSS and scripts,
//! and a strict policy allows exactly those blocks by their SHA-256.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The `'sha256-…'` source that allows an inline block whose text is exactly `text`.
pub(crate) fn hash_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_of_an_empty_block_is_the_known_sha256() {
        // SHA-256 of no bytes, base64: a published constant.
        assert_eq!(hash_source(""), "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='");
    }
}
