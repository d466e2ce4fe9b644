//! Validator sets written as `"a-b"` inclusive ranges or single indices, as in
//! config and scenario files: `["0-63", "100"]`.

use thiserror::Error;

/// An item that is neither an index nor an inclusive range (the item as written).
#[derive(Debug, Error, PartialEq, Eq)]
#[error("`{0}` is not a validator index or an inclusive range like \"0-63\"")]
pub struct RangeError(pub String);

/// Expands the ranges into sorted, de-duplicated indices.
pub fn parse_index_ranges<S: AsRef<str>>(items: &[S]) -> Result<Vec<u64>, RangeError> {
    let mut out = Vec::new();
    for item in items {
        let item = item.as_ref().trim();
        let bad = || RangeError(item.to_string());
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
                if a > b || b - a > 10_000_000 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(item.parse().map_err(|_| bad())?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(parse_index_ranges(&["3-5", "1", "4"]).unwrap(), vec![1, 3, 4, 5]);
        assert_eq!(parse_index_ranges(&["5-3"]), Err(RangeError("5-3".into())));
        assert!(parse_index_ranges(&["x"]).is_err());
        assert!(parse_index_ranges(&["1-"]).is_err());
    }
}
