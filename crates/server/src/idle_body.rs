//! A request body that fails when its client pauses too long: a REST body or gRPC request stream
//! that stalls would otherwise hold its stream, its task and what it staged until the connection
//! closes.

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The error a stalled body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the client sent nothing for {} ms", .0.as_millis())]
pub struct BodyIdle(Duration);

/// `inner`, failing with [`BodyIdle`] when no frame arrives within `idle` of the previous one.
pub struct IdleBody<B> {
    inner: B,
    idle: Duration,
    // Made when the body first waits, so a body already received costs no timer.
    timer: Option<Pin<Box<Sleep>>>,
    // Whether the last poll found nothing: the pause is timed from when the reader began to wait,
    // not from the last frame, so a reader that was busy elsewhere is not mistaken for an idle client.
    waiting: bool,
}

impl<B> IdleBody<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, idle: Duration) -> IdleBody<B> {
        IdleBody {
            inner,
            idle,
            timer: None,
            waiting: false,
        }
    }
}

impl<B> Body for IdleBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let idle = this.idle;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if !this.waiting {
                    this.waiting = true;
                    timer.as_mut().reset(Instant::now() + idle);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyIdle(idle))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
