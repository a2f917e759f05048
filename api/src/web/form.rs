//! Posted forms and the inputs drawn from them. An input is named after the field the domain checks
//! (`applicant.phone`, `documents[0].copies`…), so an error the domain reports for a field lands next
//! to the input of that name, and what was typed is given back as it was.

use std::collections::HashMap;

use domain::ops::FieldError;

use super::i18n::Lang;

/// The values of a posted form (`application/x-www-form-urlencoded`); a name posted twice keeps its
/// last value.
#[derive(Debug, Clone, Default)]
pub struct Posted(HashMap<String, String>);

impl Posted {
    /// The form's pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Posted {
        Posted(pairs.into_iter().collect())
    }

    /// The value as posted ("" when absent).
    pub fn raw(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    /// The value, `None` when absent or blank (the domain then says "is required" where it is).
    pub fn text(&self, name: &str) -> Option<String> {
        self.0
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| v.to_owned())
    }

    /// Whether a checkbox was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Every posted name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The posted form token.
    pub fn csrf(&self) -> &str {
        self.raw("csrf")
    }

    /// Sets a value (for values a page fills in itself).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_owned(), value.to_owned());
    }
}

/// The domain's field errors by field name, worded for the page's language.
#[derive(Debug, Clone, Default)]
pub struct Errors(HashMap<String, String>);

impl Errors {
    /// The errors of a validation failure.
    pub fn of(lang: Lang, errors: &[FieldError]) -> Errors {
        let mut map: HashMap<String, String> = HashMap::new();
        for e in errors {
            let message = lang.field_message(e);
            map.entry(e.field.clone())
                .and_modify(|m| {
                    m.push(' ');
                    m.push_str(&message);
                })
                .or_insert(message);
        }
        Errors(map)
    }

    /// The message for `field`, if it has one.
    pub fn get(&self, field: &str) -> Option<String> {
        self.0.get(field).cloned()
    }
}

/// What kind of input a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Tel,
    Email,
    Number,
    Select,
    TextArea,
}

/// One option of a select.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    /// Options from `(value, label)` pairs, `current` selected.
    pub fn list<'a>(
        pairs: impl IntoIterator<Item = (&'a str, String)>,
        current: &str,
    ) -> Vec<Choice> {
        pairs
            .into_iter()
            .map(|(value, label)| Choice {
                selected: value == current,
                value: value.to_owned(),
                label,
            })
            .collect()
    }
}

/// An input with its label, the value typed, its hint and its error.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub id: String,
    pub label: String,
    pub kind: Kind,
    pub value: String,
    pub hint: Option<String>,
    pub error: Option<String>,
    /// The `autocomplete` token, empty for none.
    pub autocomplete: &'static str,
    /// The `inputmode` for phones' keyboards, empty for the default.
    pub inputmode: &'static str,
    pub options: Vec<Choice>,
}

impl Field {
    /// A field named `name` showing the posted value and the error for that name.
    pub fn new(name: &str, label: &str, kind: Kind, posted: &Posted, errors: &Errors) -> Field {
        Field {
            name: name.to_owned(),
            id: id_of(name),
            label: label.to_owned(),
            kind,
            value: posted.raw(name).to_owned(),
            hint: None,
            error: errors.get(name),
            autocomplete: "",
            inputmode: "",
            options: Vec::new(),
        }
    }

    pub fn hint(mut self, hint: &str) -> Field {
        self.hint = Some(hint.to_owned());
        self
    }

    pub fn autocomplete(mut self, token: &'static str) -> Field {
        self.autocomplete = token;
        self
    }

    pub fn inputmode(mut self, mode: &'static str) -> Field {
        self.inputmode = mode;
        self
    }

    pub fn options(mut self, options: Vec<Choice>) -> Field {
        self.options = options;
        self
    }

    /// The input's HTML `type`.
    pub fn input_type(&self) -> &'static str {
        match self.kind {
            Kind::Tel => "tel",
            Kind::Email => "email",
            Kind::Number => "number",
            _ => "text",
        }
    }

    pub fn is_select(&self) -> bool {
        self.kind == Kind::Select
    }

    pub fn is_textarea(&self) -> bool {
        self.kind == Kind::TextArea
    }

    /// The ids the input is described by: its hint and its error.
    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(format!("{}-hint", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id));
        }
        ids.join(" ")
    }
}

/// An element id for a field name: letters, digits, underscores and dashes only.
pub fn id_of(name: &str) -> String {
    let mut id = String::from("f-");
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            id.push(c);
        } else if !id.ends_with('-') {
            id.push('-');
        }
    }
    id.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn field_ids_are_plain() {
        assert_eq!(id_of("applicant.phone"), "f-applicant-phone");
        assert_eq!(id_of("documents[1].copies"), "f-documents-1-copies");
    }

    #[test]
    fn errors_land_on_the_field_they_name() {
        let errors = Errors::of(
            Lang::En,
            &[FieldError::new("applicant.phone", "phone number is empty")],
        );
        let posted = Posted::new(vec![("applicant.phone".into(), "09x".into())]);
        let field = Field::new("applicant.phone", "Phone", Kind::Tel, &posted, &errors);
        assert_eq!(field.value, "09x");
        assert_eq!(field.error.as_deref(), Some("phone number is empty"));
        assert_eq!(field.described_by(), "f-applicant-phone-error");
    }
}
