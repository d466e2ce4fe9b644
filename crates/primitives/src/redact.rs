//! Node URLs as they may appear in logs and errors: `scheme://[***@]host[:port][/***][?***]`.
//!
//! Beacon and execution RPC URLs often carry an API key in the user info, the path or
//! the query (`https://user:key@host/key123?apikey=…`). Both clients show only the
//! redacted form, and scrub the secret parts out of their transport's error messages
//! (an HTTP client prints the URL it failed on). Pure string work, so both share it.

/// Pieces of a part (a path segment, a query value) shorter than this are not scrubbed on
/// their own (the whole part always is): `v3` or `id` would blank out ordinary words.
const MIN_PIECE: usize = 3;

/// A URL's shown form and the parts of it that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct RedactedUrl {
    shown: String,
    secrets: Vec<String>,
}

impl std::fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl RedactedUrl {
    /// Splits `raw` (a URL, or something that failed to parse as one) into what may be shown.
    pub fn new(raw: &str) -> RedactedUrl {
        let raw = raw.trim();
        let (scheme, rest) = match raw.split_once("://") {
            Some((s, r)) => (Some(s), r),
            None => (None, raw),
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let mut secrets = Vec::new();
        let host = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                secrets.extend(userinfo.split(':').filter(|s| s.len() >= MIN_PIECE).map(str::to_owned));
                secrets.push(userinfo.to_owned());
                format!("***@{host}")
            }
            None => authority.to_owned(),
        };
        let (path_and_query, _fragment) = tail.split_once('#').unwrap_or((tail, ""));
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let mut shown = match scheme {
            Some(s) => format!("{s}://{host}"),
            None => host,
        };
        if !matches!(path, "" | "/") {
            shown.push_str("/***");
            let trimmed = path.trim_matches('/');
            secrets.extend(trimmed.split('/').filter(|s| s.len() >= MIN_PIECE).map(str::to_owned));
            secrets.push(path.to_owned());
        }
        if let Some(q) = query {
            shown.push_str("?***");
            secrets
                .extend(q.split('&').flat_map(|kv| kv.split('=')).filter(|s| s.len() >= MIN_PIECE).map(str::to_owned));
            secrets.push(q.to_owned());
        }
        secrets.retain(|s| !s.is_empty());
        // Longest first, so a whole part is replaced before the pieces inside it.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        RedactedUrl { shown, secrets }
    }

    /// The form to print.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// `message` with every secret part of the URL replaced by `***`.
    pub fn scrub(&self, message: &str) -> String {
        let mut out = message.to_owned();
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), "***");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_paths_and_queries_are_hidden() {
        let r = RedactedUrl::new("https://user:pw@node.example:8443/key123/?apikey=zzz");
        assert_eq!(r.shown(), "https://***@node.example:8443/***?***");
        assert_eq!(RedactedUrl::new("http://127.0.0.1:5052").shown(), "http://127.0.0.1:5052");
        assert_eq!(RedactedUrl::new("http://127.0.0.1:8545/").shown(), "http://127.0.0.1:8545");
        assert_eq!(RedactedUrl::new("127.0.0.1:5052/x").shown(), "127.0.0.1:5052/***");
        assert_eq!(RedactedUrl::new("https://mainnet.infura.io/v3/abcdef").shown(), "https://mainnet.infura.io/***");
    }

    #[test]
    fn scrub_removes_each_secret_from_a_transport_message() {
        let r = RedactedUrl::new("https://alice:s3cret@rpc.example/v3/abcdef0123?key=zz99");
        let message = "error sending request for url (https://alice:s3cret@rpc.example/v3/abcdef0123?key=zz99): \
                       connection refused (user alice, key zz99)";
        let scrubbed = r.scrub(message);
        for secret in ["alice", "s3cret", "abcdef0123", "zz99"] {
            assert!(!scrubbed.contains(secret), "{secret} in {scrubbed}");
        }
        assert!(scrubbed.contains("rpc.example") && scrubbed.contains("connection refused"), "{scrubbed}");
        // A URL without secrets leaves messages alone.
        assert_eq!(RedactedUrl::new("http://127.0.0.1:8545").scrub("refused 127.0.0.1"), "refused 127.0.0.1");
    }
}
