//! A file's bytes as the daemon holds them: one buffer, or a feed's pieces (its head, the entry
//! fragments it shares with every other feed that shows the same posts, and its tail).

use std::io::{self, Write};
use std::sync::Arc;

use bytes::Bytes;

/// Immutable bytes in pieces; cheap to clone (the pieces are shared).
#[derive(Debug, Clone, Default)]
pub struct Body {
    pieces: Arc<[Bytes]>,
    len: usize,
}

impl Body {
    /// The bytes of `pieces`, in order; empty pieces are left out.
    pub fn new(pieces: Vec<Bytes>) -> Body {
        let pieces: Arc<[Bytes]> = pieces.into_iter().filter(|p| !p.is_empty()).collect();
        let len = pieces.iter().map(Bytes::len).sum();
        Body { pieces, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn pieces(&self) -> &Arc<[Bytes]> {
        &self.pieces
    }

    /// The bytes in one buffer: the piece itself when there is one, a copy otherwise.
    pub fn to_bytes(&self) -> Bytes {
        match &self.pieces[..] {
            [] => Bytes::new(),
            [one] => one.clone(),
            pieces => Bytes::from(crate::feed::concat(pieces)),
        }
    }

    /// XXH3 of the bytes, whatever their pieces.
    pub fn hash(&self) -> u64 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for piece in self.pieces.iter() {
            hasher.update(piece);
        }
        hasher.digest()
    }

    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        self.pieces.iter().try_for_each(|piece| out.write_all(piece))
    }

    /// Whether the bytes equal `other`, compared piece by piece without copying.
    pub fn eq_slice(&self, mut other: &[u8]) -> bool {
        if other.len() != self.len {
            return false;
        }
        for piece in self.pieces.iter() {
            let (head, rest) = other.split_at(piece.len());
            if head != &piece[..] {
                return false;
            }
            other = rest;
        }
        true
    }
}

impl PartialEq for Body {
    fn eq(&self, other: &Body) -> bool {
        if self.len != other.len {
            return false;
        }
        if Arc::ptr_eq(&self.pieces, &other.pieces) {
            return true;
        }
        // Two chunkings of what may be the same bytes: walk both at once.
        let (mut a, mut b) = (self.pieces.iter().map(|p| &p[..]), other.pieces.iter().map(|p| &p[..]));
        let (mut left, mut right): (&[u8], &[u8]) = (&[], &[]);
        loop {
            if left.is_empty() {
                left = match a.next() {
                    Some(next) => next,
                    None => return right.is_empty() && b.next().is_none(),
                };
            }
            if right.is_empty() {
                right = match b.next() {
                    Some(next) => next,
                    None => return false,
                };
            }
            let n = left.len().min(right.len());
            // Pieces of two renders are most often the same shared bytes: no need to read them.
            if left.as_ptr() != right.as_ptr() && left[..n] != right[..n] {
                return false;
            }
            (left, right) = (&left[n..], &right[n..]);
        }
    }
}

impl PartialEq<[u8]> for Body {
    fn eq(&self, other: &[u8]) -> bool {
        self.eq_slice(other)
    }
}

impl PartialEq<&[u8]> for Body {
    fn eq(&self, other: &&[u8]) -> bool {
        self.eq_slice(other)
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        Body::new(vec![bytes])
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::from(Bytes::from(bytes))
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Body {
        Body::from(Bytes::from_static(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(pieces: &[&'static str]) -> Body {
        Body::new(pieces.iter().map(|p| Bytes::from_static(p.as_bytes())).collect())
    }

    #[test]
    fn shared_pieces_are_equal_and_what_follows_them_still_counts() {
        let entry = Bytes::from(b"<entry>shared</entry>".to_vec());
        let a = Body::new(vec![Bytes::from_static(b"<feed>"), entry.clone(), Bytes::from_static(b"</feed>")]);
        // The same entry bytes, cut elsewhere and followed by other bytes of the same length.
        let differs = Body::new(vec![
            Bytes::from_static(b"<feed>"),
            entry.slice(..7),
            entry.slice(7..),
            Bytes::from_static(b"</deef>"),
        ]);
        assert_ne!(a, differs);
        let same =
            Body::new(vec![Bytes::from(b"<feed><entry>".to_vec()), entry.slice(7..), Bytes::from_static(b"</feed>")]);
        assert_eq!(a, same);
        assert_eq!(same, a);
    }

    #[test]
    fn bodies_are_equal_by_their_bytes_whatever_their_pieces() {
        let whole = body(&["<feed><entry/></feed>"]);
        let cut = body(&["<feed>", "", "<entry/>", "</feed>"]);
        assert_eq!(whole, cut);
        assert_eq!(cut, whole);
        assert!(cut.eq_slice(b"<feed><entry/></feed>"));
        assert_eq!(cut.len(), 21);
        assert_eq!(cut.pieces().len(), 3, "empty pieces are left out");
        assert_eq!(cut.hash(), xxhash_rust::xxh3::xxh3_64(b"<feed><entry/></feed>"));
        assert_eq!(cut.to_bytes(), Bytes::from_static(b"<feed><entry/></feed>"));
        let mut written = Vec::new();
        cut.write_to(&mut written).unwrap();
        assert_eq!(written, b"<feed><entry/></feed>");

        for other in [body(&["<feed><entry/></feed", ">"]), body(&["<feed>", "<entry/>", "</feed>!"]), body(&[])] {
            if other.len() == whole.len() {
                assert!(other == whole);
            } else {
                assert_ne!(other, whole);
                assert_ne!(whole, other);
                assert!(!other.eq_slice(b"<feed><entry/></feed>"));
            }
        }
        assert!(body(&["<feed>", "<entrx/>", "</feed>"]) != whole);
        assert!(whole != body(&["<feed><entry/>", "</fee"]) && body(&["ab", "c"]) != body(&["a", "bd"]));
        assert_eq!(Body::default(), body(&[""]));
        assert!(Body::default().is_empty() && Body::default().to_bytes().is_empty());
    }
}
