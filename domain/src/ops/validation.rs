//! Field-level checks of incoming values, collected so that one answer names every bad field.

use serde::Serialize;

/// One invalid field: its JSON path (e.g. `applicant.phone`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects field errors while a request is checked.
#[derive(Debug, Default)]
pub struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a failure of `field`.
    pub fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Whether `field` already failed (to avoid piling a second message on it).
    pub fn has_failed(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }

    /// A required text: trimmed, 1..=`max` characters, no control characters.
    pub fn required_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        match value {
            None => {
                self.fail(field, "is required");
                None
            }
            Some(v) => self.text(field, v, max, true),
        }
    }

    /// An optional text: absent or blank gives `None`.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        match value {
            None => None,
            Some(v) if v.trim().is_empty() => None,
            Some(v) => self.text(field, v, max, false),
        }
    }

    fn text(&mut self, field: &str, value: &str, max: usize, required: bool) -> Option<String> {
        let value = value.trim();
        if value.is_empty() {
            if required {
                self.fail(field, "must not be empty");
            }
            return None;
        }
        let len = value.chars().count();
        if len > max {
            self.fail(
                field,
                format!("is {len} characters long; at most {max} are allowed"),
            );
            return None;
        }
        if value.chars().any(char::is_control) {
            self.fail(field, "must not contain control characters");
            return None;
        }
        Some(value.to_owned())
    }

    /// A required closed-vocabulary value.
    pub fn required_enum<T: std::str::FromStr>(
        &mut self,
        field: &str,
        value: Option<&str>,
        allowed: &[&str],
    ) -> Option<T> {
        match value {
            None => {
                self.fail(
                    field,
                    format!("is required; one of: {}", allowed.join(", ")),
                );
                None
            }
            Some(v) => self.enum_value(field, v, allowed),
        }
    }

    /// A closed-vocabulary value.
    pub fn enum_value<T: std::str::FromStr>(
        &mut self,
        field: &str,
        value: &str,
        allowed: &[&str],
    ) -> Option<T> {
        match value.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.fail(field, format!("must be one of: {}", allowed.join(", ")));
                None
            }
        }
    }

    /// A code made of exactly `digits` ASCII digits (province `01`, ward `00070`).
    pub fn digits_code(
        &mut self,
        field: &str,
        value: Option<&str>,
        digits: usize,
    ) -> Option<String> {
        let value = self.required_text(field, value, digits)?;
        if value.len() == digits && value.bytes().all(|b| b.is_ascii_digit()) {
            Some(value)
        } else {
            self.fail(field, format!("must be {digits} digits"));
            None
        }
    }

    /// Ends the check: `Ok` when every field passed.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

/// The spellings of an enum, for error messages.
pub fn spellings<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| as_str(*v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules_name_the_field() {
        let mut c = Checker::new();
        assert_eq!(
            c.required_text("a", Some("  Nguyễn Văn An "), 100)
                .as_deref(),
            Some("Nguyễn Văn An")
        );
        assert_eq!(c.required_text("b", None, 10), None);
        assert_eq!(c.required_text("c", Some("   "), 10), None);
        assert_eq!(c.required_text("d", Some(&"ệ".repeat(11)), 10), None);
        assert_eq!(c.required_text("e", Some("a\u{0}b"), 10), None);
        assert_eq!(c.optional_text("f", Some(" "), 10), None);
        assert_eq!(c.digits_code("g", Some("0a"), 2), None);
        assert_eq!(c.digits_code("h", Some("01"), 2).as_deref(), Some("01"));
        let errors = c.finish().expect_err("some fields are invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["b", "c", "d", "e", "g"]);
    }
}
