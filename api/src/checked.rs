//! Request fields whose rules the OpenAPI document states and the domain enforces.
//!
//! A pickup request with a bad phone, a blank name and no documents is answered with one 422
//! `validation_failed` naming every bad field (API.md "Errors"); poem-openapi's own validators stop at
//! the first bad field and answer 400. So a field of type [`Checked`] carries its rules into the
//! document (`#[oai(validator(pattern = …, max_length = …))]`, required or not) while parsing only
//! checks the JSON type; the domain's checks (`domain::ops::validation` and the use-cases) apply the
//! same rules and name the field. The schemathesis run of `tests/api/openapi_contract.rs` holds the
//! two to each other: values the document allows must be accepted, others refused.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

/// A value the document declares with its rules; `REQUIRED` says whether the document lists it as
/// required. Absent or `null` parses to `None`, for the domain to refuse with the field's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked<T, const REQUIRED: bool>(pub Option<T>);

/// A field the document lists as required.
pub type Required<T> = Checked<T, true>;
/// A field the document lists as optional (absent or `null`).
pub type Optional<T> = Checked<T, false>;

impl<T, const REQUIRED: bool> Default for Checked<T, REQUIRED> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T, const REQUIRED: bool> Checked<T, REQUIRED> {
    /// The value, if one was given.
    pub fn as_ref(&self) -> Option<&T> {
        self.0.as_ref()
    }

    /// The value, if one was given.
    pub fn into_inner(self) -> Option<T> {
        self.0
    }
}

impl<const REQUIRED: bool> Checked<String, REQUIRED> {
    /// The text, if one was given.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<T: Type, const REQUIRED: bool> Type for Checked<T, REQUIRED> {
    const IS_REQUIRED: bool = REQUIRED;

    type RawValueType = T::RawValueType;

    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    /// `T`'s schema; an optional field is also `nullable`, as `null` reads as absent.
    fn schema_ref() -> MetaSchemaRef {
        if REQUIRED {
            T::schema_ref()
        } else {
            T::schema_ref().merge(MetaSchema {
                nullable: true,
                ..MetaSchema::ANY
            })
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    /// None: the field's validators describe the document only; the domain applies the rules.
    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        None
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::empty())
    }

    fn is_none(&self) -> bool {
        self.0.is_none()
    }
}

impl<T: ParseFromJSON, const REQUIRED: bool> ParseFromJSON for Checked<T, REQUIRED> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Self(None)),
            // poem-openapi reads a number or a boolean as a string; the document says string.
            // (The schema is looked at only for a value that is not a string: building it allocates.)
            Some(value) if !value.is_string() && is_string_schema::<T>() => {
                Err(ParseError::expected_type(value))
            }
            value => T::parse_from_json(value)
                .map(|v| Self(Some(v)))
                .map_err(ParseError::propagate),
        }
    }
}

/// A query parameter: absent gives `None`; a value that is not a `T` at all is still a 400.
impl<T: ParseFromParameter, const REQUIRED: bool> ParseFromParameter for Checked<T, REQUIRED> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        T::parse_from_parameter(value)
            .map(|v| Self(Some(v)))
            .map_err(ParseError::propagate)
    }

    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(
        iter: I,
    ) -> ParseResult<Self> {
        let mut iter = iter.into_iter().peekable();
        if iter.peek().is_none() {
            return Ok(Self(None));
        }
        T::parse_from_parameters(iter)
            .map(|v| Self(Some(v)))
            .map_err(ParseError::propagate)
    }
}

/// Whether the document declares `T` as a string.
fn is_string_schema<T: Type>() -> bool {
    matches!(T::schema_ref(), MetaSchemaRef::Inline(schema) if schema.ty == "string")
}

impl<T: ToJSON, const REQUIRED: bool> ToJSON for Checked<T, REQUIRED> {
    fn to_json(&self) -> Option<Value> {
        self.0.as_ref().and_then(ToJSON::to_json)
    }
}

impl<T: serde::Serialize, const REQUIRED: bool> serde::Serialize for Checked<T, REQUIRED> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: serde::Deserialize<'de>, const REQUIRED: bool> serde::Deserialize<'de>
    for Checked<T, REQUIRED>
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::Object;

    #[derive(Debug, Object)]
    struct Applicant {
        #[oai(validator(pattern = r"^0[0-9]{9}$"))]
        phone: Required<String>,
        #[oai(validator(max_length = 5))]
        email: Optional<String>,
    }

    #[test]
    fn the_rules_reach_the_document_but_not_the_parser() {
        let parsed = Applicant::parse_from_json(Some(serde_json::json!({
            "phone": "12", "email": "far too long"
        })))
        .expect("parsing leaves the rules to the domain");
        assert_eq!(parsed.phone.as_deref(), Some("12"));
        let missing =
            Applicant::parse_from_json(Some(serde_json::json!({}))).expect("absent parses");
        assert_eq!(missing.phone.as_deref(), None);
        for wrong in [
            serde_json::json!([]),
            serde_json::json!(false),
            serde_json::json!(7),
        ] {
            assert!(
                Applicant::parse_from_json(Some(serde_json::json!({"phone": wrong}))).is_err(),
                "a wrong JSON type is still a parse error"
            );
        }

        let mut registry = Registry::new();
        Applicant::register(&mut registry);
        let schema = registry
            .schemas
            .get("Applicant")
            .expect("the object's schema");
        assert_eq!(schema.required, ["phone"]);
        let phone = schema
            .properties
            .iter()
            .find(|(name, _)| *name == "phone")
            .map(|(_, s)| s)
            .expect("phone");
        let MetaSchemaRef::Inline(phone) = phone else {
            panic!("an inline schema")
        };
        assert_eq!(phone.pattern.as_deref(), Some(r"^0[0-9]{9}$"));
    }
}
