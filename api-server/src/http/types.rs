//! Wire forms of domain types that poem-openapi does not know.

use std::borrow::Cow;

use chrono::NaiveDate;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    MaybeUndefined, ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

use super::patterns;
use crate::domain::{Money, OrderStatus, Price, Quantity};

/// The items of a `Type` impl that every scalar wire type shares: it is required, and its
/// raw value (what validators see) is the value itself.
macro_rules! scalar_type {
    () => {
        const IS_REQUIRED: bool = true;
        type RawValueType = Self;
        type RawElementValueType = Self;

        fn as_raw_value(&self) -> Option<&Self::RawValueType> {
            Some(self)
        }

        fn raw_element_iter<'a>(
            &'a self,
        ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
            Box::new(self.as_raw_value().into_iter())
        }
    };
}
pub(crate) use scalar_type;

/// Money travels as a decimal string with two fraction digits (`"12.50"`); as a query
/// parameter it is the same decimal text. A price in a request body is a [`PriceInput`],
/// which also admits a JSON number.
impl Type for Money {
    scalar_type!();

    fn name() -> Cow<'static, str> {
        "Money".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| MetaSchema {
            description: Some(
                "An exact amount of money: a decimal string with two fraction digits, \
                 e.g. \"19.99\". Input also accepts one fraction digit or none, and leading zeros.",
            ),
            pattern: Some(patterns::MONEY.to_owned()),
            example: Some(Value::String("19.99".to_owned())),
            ..MetaSchema::new_with_format("string", "decimal")
        });
    }
}

impl ParseFromJSON for Money {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) => Money::parse(&text).map_err(ParseError::custom),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ParseFromParameter for Money {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Money::parse(value).map_err(ParseError::custom)
    }
}

impl ToJSON for Money {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.to_string()))
    }
}

/// A book's price in a request body: a decimal string or a JSON number, more than 0 and at
/// most 1,000,000.00, with at most two fraction digits. A number is read from its shortest
/// decimal form (`12.5` is `"12.5"`), so it is never rounded: `0.125` or `1e-7` are
/// refused, not approximated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceInput(pub Price);

impl Type for PriceInput {
    scalar_type!();

    fn name() -> Cow<'static, str> {
        "PriceInput".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| MetaSchema {
            description: Some(
                "A price as a client may send it: more than 0 and at most 1000000.00, as a \
                 decimal string or a JSON number with at most two fraction digits.",
            ),
            any_of: vec![
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    pattern: Some(patterns::PRICE.to_owned()),
                    ..MetaSchema::new_with_format("string", "decimal")
                })),
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    minimum: Some(0.0),
                    exclusive_minimum: Some(true),
                    maximum: Some(MAX_PRICE),
                    multiple_of: Some(0.01),
                    ..MetaSchema::new_with_format("number", "double")
                })),
            ],
            example: Some(Value::String("19.99".to_owned())),
            ..MetaSchema::ANY
        });
    }
}

/// The largest price, as a JSON number.
const MAX_PRICE: f64 = 1_000_000.0;

impl ParseFromJSON for PriceInput {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let amount = match value.unwrap_or_default() {
            Value::String(text) => Money::parse(&text),
            Value::Number(number) => Money::parse(&number.to_string()),
            other => return Err(ParseError::expected_type(other)),
        };
        amount
            .and_then(Price::new)
            .map(Self)
            .map_err(ParseError::custom)
    }
}

impl ToJSON for PriceInput {
    fn to_json(&self) -> Option<Value> {
        self.0.money().to_json()
    }
}

/// An order's status travels as its lower-case name (`"pending"`), one of a closed set.
impl Type for OrderStatus {
    scalar_type!();

    fn name() -> Cow<'static, str> {
        "OrderStatus".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| MetaSchema {
            description: Some(
                "Where an order stands: `pending → paid | cancelled`, `paid → shipped | cancelled`,\n`shipped → delivered`.",
            ),
            enum_items: OrderStatus::ALL
                .iter()
                .map(|status| Value::from(status.as_str()))
                .collect(),
            ..MetaSchema::new("string")
        });
    }
}

impl ParseFromJSON for OrderStatus {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(name) => Self::parse_from_parameter(&name),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ParseFromParameter for OrderStatus {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        value.parse().map_err(|_| {
            let names: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
            ParseError::custom(format!("must be one of: {}", names.join(", ")))
        })
    }
}

impl ToJSON for OrderStatus {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.as_str()))
    }
}

/// How many copies an order asks for: an integer from 1 to 1000.
impl Type for Quantity {
    scalar_type!();

    fn name() -> Cow<'static, str> {
        "integer_int32".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            minimum: Some(Quantity::MIN as f64),
            maximum: Some(Quantity::MAX as f64),
            ..MetaSchema::new_with_format("integer", "int32")
        }))
    }
}

impl ParseFromJSON for Quantity {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::Number(number) => match number.as_i64() {
                Some(n) => Quantity::new(n).map_err(ParseError::custom),
                None => Err(ParseError::custom("must be a whole number")),
            },
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for Quantity {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.get()))
    }
}

/// A calendar date, `YYYY-MM-DD` exactly (OpenAPI `format: date`, and a pattern of four,
/// two and two digits: `2020-1-1` is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

impl Date {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        const REFUSED: &str = "must be a date as YYYY-MM-DD";
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 10
            && bytes.iter().enumerate().all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !shaped {
            return Err(REFUSED);
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Self)
            .map_err(|_| REFUSED)
    }
}

impl Type for Date {
    scalar_type!();

    fn name() -> Cow<'static, str> {
        "string_date".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            pattern: Some(patterns::DATE.to_owned()),
            ..MetaSchema::new_with_format("string", "date")
        }))
    }
}

impl ParseFromJSON for Date {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) => Self::parse(&text).map_err(ParseError::custom),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for Date {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.format("%Y-%m-%d").to_string()))
    }
}

/// An optional field that may be absent but not `null`: what `type: string` (not
/// nullable) and absent from `required` mean. poem-openapi's `Option` reads `null` as
/// absent, which would accept input the contract forbids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absent<T>(pub Option<T>);

impl<T: Type> Type for Absent<T> {
    const IS_REQUIRED: bool = false;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Some(value) => value.raw_element_iter(),
            None => Box::new(std::iter::empty()),
        }
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Absent<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None => Ok(Self(None)),
            Some(Value::Null) => Err(ParseError::custom("must not be null; leave it out instead")),
            Some(value) => T::parse_from_json(Some(value))
                .map(|v| Self(Some(v)))
                .map_err(ParseError::propagate),
        }
    }
}

impl<T: ToJSON> ToJSON for Absent<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.as_ref().and_then(ToJSON::to_json)
    }
}

/// A PATCH field: `None` when absent, `Some(None)` when `null`, `Some(Some(v))` when set.
pub fn patch<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// A string in a request body: a JSON string and nothing else. poem-openapi's `String`
/// also takes numbers and booleans (storing `1` as `"1"`), which `type: string` forbids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrictString(pub String);

impl Type for StrictString {
    scalar_type!();

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }
}

impl ParseFromJSON for StrictString {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) => Ok(Self(text)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for StrictString {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use poem_openapi::types::{ParseFromJSON, ParseFromParameter, ToJSON};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{Date, PriceInput, StrictString};
    use crate::domain::{Money, OrderStatus, Price, Quantity};

    /// The largest amount `Money::parse` takes, in cents.
    const MAX_CENTS: i64 = 99_999_999_999_999;

    /// Any JSON document, a few levels deep.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            "[-+0-9.eE]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::hash_map(".{0,8}", inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    fn money(value: Value) -> Option<Money> {
        Money::parse_from_json(Some(value)).ok()
    }

    fn price_input(value: Value) -> Option<Money> {
        PriceInput::parse_from_json(Some(value))
            .ok()
            .map(|p| p.0.money())
    }

    #[test]
    fn an_order_status_is_one_of_its_names_and_says_which_when_not() {
        assert_eq!(
            OrderStatus::parse_from_json(Some(json!("paid"))).ok(),
            Some(OrderStatus::Paid)
        );
        let refused = OrderStatus::parse_from_parameter("lost").map_err(|e| e.into_message());
        assert!(
            refused.as_ref().is_err_and(|message| message
                .ends_with("must be one of: pending, paid, shipped, delivered, cancelled")),
            "{refused:?}"
        );
        assert!(OrderStatus::parse_from_json(Some(json!(1))).is_err());
    }

    #[test]
    fn a_quantity_is_a_whole_number_from_one_to_a_thousand() {
        let quantity = |v: Value| Quantity::parse_from_json(Some(v)).ok().map(Quantity::get);
        assert_eq!(quantity(json!(1)), Some(1));
        assert_eq!(quantity(json!(1000)), Some(1000));
        for refused in [
            json!(0),
            json!(1001),
            json!(2.5),
            json!("2"),
            json!(u64::MAX),
        ] {
            assert_eq!(quantity(refused.clone()), None, "{refused}");
        }
    }

    #[test]
    fn money_reads_strings_and_a_price_also_numbers() {
        assert_eq!(money(json!("12.5")), Some(Money::from_cents(1250)));
        assert_eq!(money(json!(12.5)), None);
        assert_eq!(price_input(json!(12.5)), Some(Money::from_cents(1250)));
        assert_eq!(price_input(json!(7)), Some(Money::from_cents(700)));
        assert_eq!(
            price_input(json!(1_000_000)),
            Some(Money::from_cents(100_000_000))
        );
        assert_eq!(price_input(json!("0.01")), Some(Money::from_cents(1)));
        for refused in [
            json!(0),
            json!("0.00"),
            json!(1_000_000.01),
            json!("1234567.89"),
            json!(-1),
            json!(0.125),
            json!(1e-7),
            json!(1e300),
            json!(true),
        ] {
            assert_eq!(price_input(refused.clone()), None, "{refused}");
        }
    }

    #[test]
    fn a_date_is_exactly_four_two_and_two_digits() {
        assert_eq!(
            Date::parse("2020-01-31").ok(),
            NaiveDate::from_ymd_opt(2020, 1, 31).map(Date)
        );
        for refused in [
            "2020-1-1",
            "20-01-01",
            "2020-02-30",
            "+2020-01-01",
            "2020-01-01T00:00:00Z",
            "2020/01/01",
            " 2020-01-01",
            "２０２０-01-01",
        ] {
            assert!(Date::parse(refused).is_err(), "{refused}");
        }
    }

    proptest! {
        #[test]
        fn no_json_value_makes_a_parser_panic(value in json_value()) {
            let _ = Money::parse_from_json(Some(value.clone()));
            let _ = PriceInput::parse_from_json(Some(value.clone()));
            let _ = Date::parse_from_json(Some(value.clone()));
            let _ = StrictString::parse_from_json(Some(value));
        }

        #[test]
        fn money_is_read_from_a_string_exactly_as_money_parse_reads_it(raw in any::<String>()) {
            prop_assert_eq!(money(Value::from(raw.as_str())), Money::parse(&raw).ok());
            let price = Money::parse(&raw).ok().filter(|m| Price::new(*m).is_ok());
            prop_assert_eq!(price_input(Value::from(raw.as_str())), price);
            prop_assert_eq!(Money::parse_from_parameter(&raw).ok(), Money::parse(&raw).ok());
        }

        #[test]
        fn money_goes_out_as_the_string_it_comes_back_from(cents in 0..=MAX_CENTS) {
            let amount = Money::from_cents(cents);
            let wire = amount.to_json();
            prop_assert_eq!(wire.clone(), Some(Value::String(amount.to_string())));
            prop_assert_eq!(wire.and_then(money), Some(amount));
        }

        #[test]
        fn every_price_sent_as_a_json_number_is_read_exactly(cents in 1..=100_000_000_i64) {
            // The double nearest to cents / 100, as a JavaScript client would send it.
            let number = Value::from(cents as f64 / 100.0);
            prop_assert_eq!(price_input(number), Some(Money::from_cents(cents)));
        }

        #[test]
        fn a_json_number_with_a_third_fraction_digit_is_refused(
            whole in 0..=999_999_i64,
            mills in 0..1000_i64,
        ) {
            prop_assume!(mills % 10 != 0);
            let number = Value::from((whole * 1000 + mills) as f64 / 1000.0);
            prop_assert_eq!(price_input(number), None);
        }

        #[test]
        fn negative_json_numbers_are_refused(n in any::<f64>().prop_filter("negative", |n| *n < 0.0)) {
            prop_assert_eq!(price_input(Value::from(n)), None);
        }

        #[test]
        fn dates_round_trip(days in -100_000_i32..100_000) {
            let day = NaiveDate::from_num_days_from_ce_opt(730_000 + days);
            prop_assume!(day.is_some());
            let date = Date(day.unwrap_or_default());
            let wire = date.to_json();
            prop_assert_eq!(wire.clone().and_then(|v| Date::parse_from_json(Some(v)).ok()), Some(date));
        }

        #[test]
        fn an_accepted_date_is_the_date_it_renders_as(raw in "[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}|.{0,12}") {
            if let Ok(date) = Date::parse_from_json(Some(Value::from(raw.as_str()))) {
                let shown = date.to_json();
                let again = shown.and_then(|v| Date::parse_from_json(Some(v)).ok());
                prop_assert_eq!(again, Some(date));
            }
        }

        #[test]
        fn text_is_any_json_string_and_only_strings(value in json_value()) {
            let parsed = StrictString::parse_from_json(Some(value.clone())).ok();
            match value {
                Value::String(s) => {
                    prop_assert_eq!(parsed.clone(), Some(StrictString(s.clone())));
                    prop_assert_eq!(parsed.and_then(|t| t.to_json()), Some(Value::String(s)));
                }
                _ => prop_assert_eq!(parsed, None),
            }
        }
    }
}
