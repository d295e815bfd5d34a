//! The final status of a gRPC answer whose status travels in trailers (a stream, or any answer that
//! is not trailers-only): known only when the body ends, so the body is wrapped to report it then.

use axum::body::{Body, Bytes, HttpBody};
use axum::http::HeaderMap;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// `CANCELLED`: the client went away before the status was sent.
const CANCELLED: i32 = 1;
/// `UNKNOWN`: the body failed, or ended without a status.
const UNKNOWN: i32 = 2;

type Report = Box<dyn FnOnce(i32) + Send>;

/// A body that calls its report once with the answer's gRPC status code.
struct StatusReporting {
    inner: Body,
    report: Option<Report>,
}

impl StatusReporting {
    fn finish(&mut self, code: i32) {
        if let Some(report) = self.report.take() {
            report(code);
        }
    }
}

impl HttpBody for StatusReporting {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.finish(status_in(trailers).unwrap_or(UNKNOWN));
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => this.finish(UNKNOWN),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for StatusReporting {
    fn drop(&mut self) {
        self.finish(CANCELLED);
    }
}

/// The gRPC status code in `headers` (trailers, or the headers of a trailers-only answer), if any.
pub fn status_in(headers: &HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
}

/// `body`, calling `report` with the gRPC status code of its trailers once they are sent
/// (`CANCELLED` if the body is dropped before, `UNKNOWN` if it ends without one).
pub fn report_status(body: Body, report: impl FnOnce(i32) + Send + 'static) -> Body {
    Body::new(StatusReporting {
        inner: body,
        report: Some(Box::new(report)),
    })
}

type Revision = Box<dyn FnOnce() -> String + Send>;

/// A body whose OK trailers gain `x-lictor-revision`, read when they pass.
struct RevisionTrailer {
    inner: Body,
    revision: Option<Revision>,
}

impl HttpBody for RevisionTrailer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) if frame.is_trailers() => {
                let mut trailers = match frame.into_trailers() {
                    Ok(trailers) => trailers,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                };
                if status_in(&trailers) == Some(0) {
                    if let Some(value) = this
                        .revision
                        .take()
                        .and_then(|revision| revision().parse().ok())
                    {
                        trailers.insert(crate::consistency::REVISION_HEADER, value);
                    }
                }
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
            polled => polled,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `body`, its trailers carrying `x-lictor-revision` (as `revision` reads it then) when they say
/// OK: a streaming write (Import) commits before its stream ends, after its headers were sent, so
/// only its trailers can carry the revision that holds it.
pub fn add_revision_trailer(
    body: Body,
    revision: impl FnOnce() -> String + Send + 'static,
) -> Body {
    Body::new(RevisionTrailer {
        inner: body,
        revision: Some(Box::new(revision)),
    })
}
