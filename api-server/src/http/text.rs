//! Wire forms of the text a request carries: names and titles, free text, search text,
//! e-mail addresses and passwords. Each states its rules in the spec exactly as the
//! contract does, and reads a value by the domain type that checks them.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use secrecy::SecretString;
use serde_json::Value;

use super::patterns;
use super::types::scalar_type;
use crate::domain::{Email, Password, SearchText, Text};

/// The JSON string in `value`, or the error poem-openapi gives for another type.
fn string<T: Type>(value: Option<Value>) -> Result<String, ParseError<T>> {
    match value.unwrap_or_default() {
        Value::String(text) => Ok(text),
        other => Err(ParseError::expected_type(other)),
    }
}

/// A schema of `components/schemas`: a string with rules and an example.
fn string_schema(
    description: &'static str,
    (min_length, max_length): (Option<usize>, usize),
    pattern: &str,
    example: &str,
) -> MetaSchema {
    MetaSchema {
        description: Some(description),
        min_length,
        max_length: Some(max_length),
        pattern: Some(pattern.to_owned()),
        example: Some(Value::String(example.to_owned())),
        ..MetaSchema::new("string")
    }
}

/// `Type` for a required text field of at most `$max` characters, registered as the named
/// schema `$name`.
macro_rules! required_text {
    ($max:literal, $name:literal, $description:literal, $example:literal) => {
        impl Type for Text<$max> {
            scalar_type!();

            fn name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Reference($name.to_owned())
            }

            fn register(registry: &mut Registry) {
                registry.create_schema::<Self, _>($name.to_owned(), |_| {
                    string_schema($description, (Some(1), $max), patterns::NOT_BLANK, $example)
                });
            }
        }

        impl ParseFromJSON for Text<$max> {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                Self::parse(&string(value)?).map_err(ParseError::custom)
            }
        }

        impl ToJSON for Text<$max> {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.as_str().to_owned()))
            }
        }
    };
}

required_text!(
    200,
    "Name",
    "A name: 1 to 200 characters, not all white space (it is trimmed), without NUL.",
    "Ada Lovelace"
);
required_text!(
    300,
    "Title",
    "A title: 1 to 300 characters, not all white space (it is trimmed), without NUL.",
    "The Left Hand of Darkness"
);

/// Optional free text of at most `MAX` characters without NUL: trimmed, and `None` when
/// blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeText<const MAX: usize>(pub Option<Text<MAX>>);

impl<const MAX: usize> Type for FreeText<MAX> {
    scalar_type!();

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            max_length: Some(MAX),
            pattern: Some(patterns::NO_NUL.to_owned()),
            ..MetaSchema::new("string")
        }))
    }
}

impl<const MAX: usize> ParseFromJSON for FreeText<MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Text::parse_optional(Some(&string(value)?))
            .map(Self)
            .map_err(ParseError::custom)
    }
}

impl<const MAX: usize> ToJSON for FreeText<MAX> {
    fn to_json(&self) -> Option<Value> {
        let text = self.0.as_ref().map_or("", Text::as_str);
        Some(Value::String(text.to_owned()))
    }
}

/// The search text of a query parameter: at most 200 characters without NUL, kept as
/// typed; empty is no search at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search(pub Option<SearchText>);

impl Type for Search {
    scalar_type!();

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            max_length: Some(SearchText::MAX_CHARS),
            pattern: Some(patterns::NO_NUL.to_owned()),
            ..MetaSchema::new("string")
        }))
    }
}

impl ParseFromParameter for Search {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        SearchText::parse(Some(value))
            .map(Self)
            .map_err(ParseError::custom)
    }
}

impl ToJSON for Search {
    fn to_json(&self) -> Option<Value> {
        let text = self.0.as_ref().map_or("", SearchText::as_str);
        Some(Value::String(text.to_owned()))
    }
}

/// An e-mail address for a new account or a changed one (`EmailAddress`).
impl Type for Email {
    scalar_type!();

    fn name() -> Cow<'static, str> {
        "EmailAddress".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| {
            string_schema(
                "An e-mail address: ASCII, trimmed of spaces and stored in lower case.",
                (None, 254),
                patterns::EMAIL,
                "ada@example.com",
            )
        });
    }
}

impl ParseFromJSON for Email {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Self::parse(&string(value)?).map_err(ParseError::custom)
    }
}

impl ToJSON for Email {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.as_str().to_owned()))
    }
}

/// A new password (`NewPassword`). Never written out: its `ToJSON` gives nothing.
#[derive(Debug, Clone)]
pub struct NewPassword(pub Password);

impl Type for NewPassword {
    scalar_type!();

    fn name() -> Cow<'static, str> {
        "NewPassword".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| MetaSchema {
            format: Some("password"),
            ..string_schema(
                "A new password: 8 to 1024 characters without NUL.",
                (Some(Password::MIN_CHARS), Password::MAX_CHARS),
                patterns::NO_NUL,
                "correct horse battery staple",
            )
        });
    }
}

impl ParseFromJSON for NewPassword {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Password::parse(string(value)?)
            .map(Self)
            .map_err(ParseError::custom)
    }
}

impl ToJSON for NewPassword {
    fn to_json(&self) -> Option<Value> {
        None
    }
}

/// A password to check (a log-in's, or the current one of an account): any string, kept
/// secret. Never written out: its `ToJSON` gives nothing.
#[derive(Debug, Clone)]
pub struct PasswordText(pub SecretString);

impl Type for PasswordText {
    scalar_type!();

    fn name() -> Cow<'static, str> {
        "string_password".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "password")))
    }
}

impl ParseFromJSON for PasswordText {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        string(value).map(|text| Self(SecretString::from(text)))
    }
}

impl ToJSON for PasswordText {
    fn to_json(&self) -> Option<Value> {
        None
    }
}
