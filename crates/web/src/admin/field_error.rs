//! A problem with one field of an inbox form, shown GOV.UK style: in the summary at the top,
//! linking to the field, and again beside the field.

/// One field's problem: `field` is the input's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A form's problems, read by field: a template shows a field's message beside it with
/// `errors.message_for("title")` (every view with a form keeps them as `errors`).
pub trait FieldErrors {
    /// The message for `field`, if it has a problem.
    fn message_for(&self, field: &str) -> Option<&str>;
}

impl FieldErrors for [FieldError] {
    fn message_for(&self, field: &str) -> Option<&str> {
        self.iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}
