//! Conditional requests (RFC 9110 §13): entity tags and the `If-Match` and
//! `If-None-Match` request headers.
//!
//! A resource's `ETag` is strong and exact: the SHA-256 (its first 128 bits, in hex) of
//! the JSON body the API sends for it, so it changes when that representation changes,
//! and only then. `If-None-Match` on a `GET` is compared weakly (`W/"…"` matches too) and
//! turns a current copy into `304 Not Modified`; `If-Match` on a `PATCH` or `DELETE` is
//! compared strongly and becomes a [`Precondition`] that the repository checks in the same
//! atomic step as its write. `*` matches any current representation. A header that is not
//! a valid list of entity tags matches nothing: a malformed `If-Match` refuses the change
//! (412), a malformed `If-None-Match` gets the full answer.

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaParamIn, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use crate::domain::Precondition;
pub use crate::representation::{ETag, Representation};

/// What an `If-Match` or `If-None-Match` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    /// `*`: any current representation.
    Any,
    /// One of these tags; none when the header was malformed.
    Tags(Vec<EntityTag>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct EntityTag {
    weak: bool,
    /// The quoted part, quotes included.
    opaque: Vec<u8>,
}

impl Condition {
    /// The condition of every value of the header (a list may span several lines).
    fn parse<'a>(values: impl Iterator<Item = &'a [u8]>) -> Option<Self> {
        let mut joined = Vec::new();
        let mut sent = false;
        for value in values {
            if sent {
                joined.push(b',');
            }
            joined.extend_from_slice(value);
            sent = true;
        }
        if !sent {
            return None;
        }
        if trim(&joined) == b"*" {
            return Some(Self::Any);
        }
        Some(Self::Tags(entity_tags(&joined).unwrap_or_default()))
    }

    /// Strong comparison, for `If-Match`: weak tags never match.
    fn matches_strongly(&self, etag: &ETag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags
                .iter()
                .any(|tag| !tag.weak && tag.opaque == etag.as_str().as_bytes()),
        }
    }

    /// Weak comparison, for `If-None-Match`: `W/"x"` matches `"x"`.
    fn matches_weakly(&self, etag: &ETag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags
                .iter()
                .any(|tag| tag.opaque == etag.as_str().as_bytes()),
        }
    }
}

/// Optional white space around `bytes` removed.
fn trim(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The entity tags of a comma-separated list (`#entity-tag`), or `None` if it is not one.
fn entity_tags(list: &[u8]) -> Option<Vec<EntityTag>> {
    let mut tags = Vec::new();
    for element in list.split(|b| *b == b',') {
        let element = trim(element);
        if element.is_empty() {
            continue;
        }
        let (weak, quoted) = match element.strip_prefix(b"W/") {
            Some(rest) => (true, rest),
            None => (false, element),
        };
        let inner = quoted.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        // etagc: %x21 / %x23-7E / obs-text; no quote, space or control character.
        if !inner
            .iter()
            .all(|b| *b == 0x21 || (0x23..=0x7e).contains(b) || *b >= 0x80)
        {
            return None;
        }
        tags.push(EntityTag {
            weak,
            opaque: quoted.to_vec(),
        });
    }
    Some(tags)
}

/// The `If-Match` request header: change or delete the resource only if its current
/// `ETag` is one of these (or, with `*`, if it exists).
pub struct IfMatch(Option<Condition>);

impl IfMatch {
    /// The precondition this header sets on the current state of a resource, whose tag
    /// `tag_of` computes: none when the header was not sent.
    pub fn precondition<T>(
        self,
        tag_of: impl Fn(&T) -> ETag + Send + Sync + 'static,
    ) -> Precondition<T> {
        match self.0 {
            None => Precondition::none(),
            Some(condition) => {
                Precondition::new(move |current| condition.matches_strongly(&tag_of(current)))
            }
        }
    }
}

/// The `If-None-Match` request header: answer `304 Not Modified` if the current `ETag` is
/// one of these (or, with `*`, if the resource exists).
pub struct IfNoneMatch(Option<Condition>);

impl IfNoneMatch {
    /// Whether the client's copy, tagged `etag`, is current.
    pub fn matches(&self, etag: &ETag) -> bool {
        self.0
            .as_ref()
            .is_some_and(|condition| condition.matches_weakly(etag))
    }
}

/// Declares `$ty` as an optional header parameter (named by the operation's
/// `#[oai(name = …)]`) that is read from the raw header values, so that a value that is
/// not text is judged too rather than taken for an absent header.
macro_rules! condition_header {
    ($ty:ident) => {
        impl<'a> ApiExtractor<'a> for $ty {
            const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
            const PARAM_IS_REQUIRED: bool = false;
            type ParamType = ();
            type ParamRawType = ();

            fn register(_registry: &mut Registry) {}

            fn param_in() -> Option<MetaParamIn> {
                Some(MetaParamIn::Header)
            }

            fn param_schema_ref() -> Option<MetaSchemaRef> {
                Some(MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))))
            }

            async fn from_request(
                request: &'a Request,
                _body: &mut RequestBody,
                param_opts: ExtractParamOptions<Self::ParamType>,
            ) -> poem::Result<Self> {
                let values = request.headers().get_all(param_opts.name);
                Ok(Self(Condition::parse(values.iter().map(|v| v.as_bytes()))))
            }
        }
    };
}

condition_header!(IfMatch);
condition_header!(IfNoneMatch);

#[cfg(test)]
mod tests {
    use super::{Condition, ETag, EntityTag};

    fn parse(values: &[&str]) -> Option<Condition> {
        Condition::parse(values.iter().map(|v| v.as_bytes()))
    }

    #[test]
    fn lists_spanning_lines_are_read_whole() {
        let tag = ETag::of_bytes(b"x");
        let listed = format!("\"a\", W/\"b\" ,{}", tag.as_str());
        let condition = parse(&["\"z\"", &listed]).unwrap();
        assert!(condition.matches_strongly(&tag) && condition.matches_weakly(&tag));
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[" * "]), Some(Condition::Any));
    }

    #[test]
    fn weak_tags_match_only_weakly() {
        let tag = ETag::of_bytes(b"x");
        let condition = parse(&[&format!("W/{}", tag.as_str())]).unwrap();
        assert!(condition.matches_weakly(&tag));
        assert!(!condition.matches_strongly(&tag));
    }

    #[test]
    fn malformed_headers_match_nothing() {
        let tag = ETag::of_bytes(b"x");
        let bare = tag.as_str().trim_matches('"').to_owned();
        for malformed in [bare.as_str(), "\"unterminated", "\"a b\"", "*, \"a\"", ""] {
            let condition = parse(&[malformed]).unwrap();
            assert!(!condition.matches_weakly(&tag), "{malformed}");
            assert!(!condition.matches_strongly(&tag), "{malformed}");
        }
        assert_eq!(
            super::entity_tags(b"\"a\",,W/\"b\""),
            Some(vec![
                EntityTag {
                    weak: false,
                    opaque: b"\"a\"".to_vec()
                },
                EntityTag {
                    weak: true,
                    opaque: b"\"b\"".to_vec()
                },
            ])
        );
    }
}
