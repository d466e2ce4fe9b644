//! A beacon node base URL, and how it is shown without its secrets.
//!
//! Hosted nodes put credentials in the userinfo (`https://user:pass@host`), in
//! the path (`https://host/<api-key>`) or in the query (`?apikey=..`). Requests
//! keep all three; messages and logs show only scheme, host and port, with `***`
//! where something was left out.

use crate::error::BeaconError;
use reqwest::Url;

#[derive(Debug)]
pub(crate) struct Endpoint {
    base: Url,
    /// The redacted form used in every message.
    pub(crate) shown: String,
}

impl Endpoint {
    pub(crate) fn parse(raw: &str) -> Result<Self, BeaconError> {
        let invalid = |reason: String| BeaconError::InvalidUrl { url: redact_raw(raw), reason };
        let base = Url::parse(raw.trim()).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(format!("scheme `{}` is not http or https", base.scheme())));
        }
        if base.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host".into()));
        }
        if base.fragment().is_some() {
            return Err(invalid("a #fragment has no place in an endpoint URL".into()));
        }
        Ok(Endpoint { shown: redact(&base), base })
    }

    /// The URL of `path_and_query` (`/eth/v1/...?a=b`) under this endpoint, keeping
    /// the base's own path prefix and query.
    pub(crate) fn url(&self, path_and_query: &str) -> Url {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let mut url = self.base.clone();
        url.set_path(&format!("{}{}", self.base.path().trim_end_matches('/'), path));
        let query = match (self.base.query().filter(|q| !q.is_empty()), query) {
            (Some(a), Some(b)) => Some(format!("{a}&{b}")),
            (Some(a), None) => Some(a.to_string()),
            (None, Some(b)) => Some(b.to_string()),
            (None, None) => None,
        };
        url.set_query(query.as_deref());
        url
    }
}

/// `scheme://[***@]host[:port][/***][?***]`.
pub(crate) fn redact(url: &Url) -> String {
    let mut s = format!("{}://", url.scheme());
    if !url.username().is_empty() || url.password().is_some() {
        s.push_str("***@");
    }
    s.push_str(url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        s.push_str(&format!(":{port}"));
    }
    if !matches!(url.path(), "" | "/") {
        s.push_str("/***");
    }
    if url.query().is_some() {
        s.push_str("?***");
    }
    s
}

/// Best effort for a string that did not even parse as a URL.
fn redact_raw(raw: &str) -> String {
    let raw = raw.trim();
    let (scheme, rest) = raw.split_once("://").unwrap_or(("", raw));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority.to_string(), |(_, h)| format!("***@{h}"));
    let tail = if authority.len() < rest.len() { "/***" } else { "" };
    if scheme.is_empty() {
        format!("{host}{tail}")
    } else {
        format!("{scheme}://{host}{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let e = Endpoint::parse("https://user:pw@node.example:8443/key123/?apikey=zzz").unwrap();
        assert_eq!(e.shown, "https://***@node.example:8443/***?***");
        let u = e.url("/eth/v1/beacon/states/head/committees?epoch=5");
        assert_eq!(
            u.as_str(),
            "https://user:pw@node.example:8443/key123/eth/v1/beacon/states/head/committees?apikey=zzz&epoch=5"
        );
        let e = Endpoint::parse("http://127.0.0.1:5052").unwrap();
        assert_eq!(e.shown, "http://127.0.0.1:5052");
        assert_eq!(e.url("/eth/v1/node/version").as_str(), "http://127.0.0.1:5052/eth/v1/node/version");
    }

    #[test]
    fn bad_urls_are_refused_without_leaking() {
        for (raw, needle) in
            [("ftp://x", "scheme `ftp`"), ("127.0.0.1:5052", ""), ("http://", ""), ("http://a:secret@[::1/x", "")]
        {
            let e = Endpoint::parse(raw).unwrap_err().to_string();
            assert!(e.contains(needle), "{raw}: {e}");
            assert!(!e.contains("secret"), "{e}");
        }
    }
}
