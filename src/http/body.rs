//! Response bodies: a file's pieces handed to hyper one after another, so a feed goes out as the
//! head, entry fragments and tail it is held as, without being copied into one buffer first.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

use crate::body::Body;

/// The body of one response.
#[derive(Debug, Default)]
pub struct ResponseBody {
    pieces: Option<Arc<[Bytes]>>,
    next: usize,
    remaining: usize,
}

impl ResponseBody {
    /// The bytes of `body`, sent piece by piece.
    pub(crate) fn of(body: &Body) -> ResponseBody {
        ResponseBody { pieces: Some(Arc::clone(body.pieces())), next: 0, remaining: body.len() }
    }
}

impl From<Bytes> for ResponseBody {
    fn from(bytes: Bytes) -> ResponseBody {
        ResponseBody::of(&Body::from(bytes))
    }
}

impl hyper::body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        let piece = this.pieces.as_ref().and_then(|pieces| pieces.get(this.next)).cloned();
        Poll::Ready(piece.map(|piece| {
            this.next += 1;
            this.remaining -= piece.len();
            Ok(Frame::data(piece))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining as u64)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[test]
    fn a_body_sends_its_pieces_in_order_and_says_how_much_is_left() {
        let body = Body::new(
            ["<feed>", "<entry/>", "", "</feed>"].into_iter().map(|p| Bytes::from_static(p.as_bytes())).collect(),
        );
        let mut response = ResponseBody::of(&body);
        assert_eq!(hyper::body::Body::size_hint(&response).exact(), Some(21));
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let first = runtime.block_on(response.frame()).unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "<feed>");
        assert_eq!(hyper::body::Body::size_hint(&response).exact(), Some(15));
        assert!(!hyper::body::Body::is_end_stream(&response));
        let rest = runtime.block_on(response.collect()).unwrap().to_bytes();
        assert_eq!(rest, "<entry/></feed>");
        let empty = ResponseBody::default();
        assert!(hyper::body::Body::is_end_stream(&empty));
        assert_eq!(runtime.block_on(empty.collect()).unwrap().to_bytes(), "");
    }
}
