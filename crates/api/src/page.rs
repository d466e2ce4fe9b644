//! The operator web page at `/` and its two assets: plain HTML, CSS and JavaScript compiled
//! into the binary, so an operator builds nothing and the page needs no network beyond this
//! node. The page reads only the `/v1` endpoints; its code is `src/web/`.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("web/index.html");
const SCRIPT: &str = include_str!("web/app.js");
const STYLE: &str = include_str!("web/app.css");

/// Everything from this node and nothing else: no inline script, no other origin. A proxy
/// that injects content or a compromised API answer cannot run code through the page.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                      img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        // `/?operator=0x…` is read by the page's script; the server ignores the query.
        .route("/", get(|| async { file("text/html; charset=utf-8", INDEX) }))
        .route("/assets/app.js", get(|| async { file("text/javascript; charset=utf-8", SCRIPT) }))
        .route("/assets/app.css", get(|| async { file("text/css; charset=utf-8", STYLE) }))
}

fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // The files change only with the binary; a reload after an upgrade gets the new ones.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
