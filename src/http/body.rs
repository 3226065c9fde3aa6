//! Response bodies: a file's pieces handed to hyper in order, so a feed goes out as the head,
//! entry fragments and tail it is held as; large pieces are never copied, and runs of small ones
//! are joined into one frame so a feed takes a few writes, not one per piece.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::body::{Frame, SizeHint};

use crate::body::Body;

/// Pieces shorter than this are copied together into one frame; longer ones are sent as they are.
const SMALL_PIECE: usize = 4096;
/// The most bytes copied into one frame.
const FRAME_BYTES: usize = 16 * 1024;

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
        let Some(pieces) = this.pieces.as_ref() else { return Poll::Ready(None) };
        let Some(first) = pieces.get(this.next) else { return Poll::Ready(None) };
        // A large piece goes as it is; a run of small ones (an entry's head and tail around its
        // shared text) is copied into one frame, so a feed goes out in a few writes, not one
        // per piece.
        let run = pieces[this.next..].iter().take_while(|p| p.len() < SMALL_PIECE).scan(0, |total, p| {
            *total += p.len();
            (*total <= FRAME_BYTES).then_some(p)
        });
        let run: Vec<&Bytes> = run.collect();
        let frame = if run.len() < 2 {
            this.next += 1;
            first.clone()
        } else {
            this.next += run.len();
            let mut joined = BytesMut::with_capacity(run.iter().map(|p| p.len()).sum());
            run.iter().for_each(|p| joined.extend_from_slice(p));
            joined.freeze()
        };
        this.remaining -= frame.len();
        Poll::Ready(Some(Ok(Frame::data(frame))))
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
        let large = Bytes::from(vec![b'x'; SMALL_PIECE]);
        let body = Body::new(
            [&b"<feed>"[..], b"<entry>", b"", b"</entry>"]
                .into_iter()
                .map(Bytes::copy_from_slice)
                .chain([large.clone(), Bytes::from_static(b"</feed>")])
                .collect(),
        );
        let mut response = ResponseBody::of(&body);
        assert_eq!(hyper::body::Body::size_hint(&response).exact(), Some(body.len() as u64));
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut next = || runtime.block_on(response.frame()).map(|f| f.unwrap().into_data().unwrap());
        // Small pieces in a row go out as one frame; a large one as it is, not copied.
        assert_eq!(next().unwrap(), "<feed><entry></entry>");
        let sent = next().unwrap();
        assert_eq!(sent.as_ptr(), large.as_ptr());
        assert_eq!(next().unwrap(), "</feed>");
        assert!(next().is_none());
        assert!(hyper::body::Body::is_end_stream(&response));
        let empty = ResponseBody::default();
        assert!(hyper::body::Body::is_end_stream(&empty));
        assert_eq!(runtime.block_on(empty.collect()).unwrap().to_bytes(), "");
    }

    #[test]
    fn runs_of_small_pieces_are_cut_into_frames_of_bounded_size() {
        let pieces: Vec<Bytes> = (0..100u8).map(|n| Bytes::from(vec![n; 1000])).collect();
        let body = Body::new(pieces.clone());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut response = ResponseBody::of(&body);
        let mut frames = Vec::new();
        while let Some(frame) = runtime.block_on(response.frame()) {
            frames.push(frame.unwrap().into_data().unwrap());
            let left = hyper::body::Body::size_hint(&response).exact().unwrap() as usize;
            assert_eq!(left, body.len() - frames.iter().map(Bytes::len).sum::<usize>());
        }
        assert!(
            frames.iter().all(|f| f.len() <= FRAME_BYTES),
            "{:?}",
            frames.iter().map(Bytes::len).collect::<Vec<_>>()
        );
        assert_eq!(frames.len(), 100usize.div_ceil(FRAME_BYTES / 1000));
        assert_eq!(frames.concat(), pieces.concat());
    }
}
