//! The Events a decision asks the operator to publish. A leaf shared by the request,
//! change, exit and utilization decisions, so none of them imports another for it.

use crate::api::Condition;

use super::conditions;

/// An Event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Warning (true) or Normal.
    pub warning: bool,
    /// A fixed CamelCase word.
    pub reason: &'static str,
    /// For people.
    pub message: String,
}

/// A Warning Event for each condition of `types` that is True in `new` and was not in
/// `old`, with the condition's type as its reason and its message.
pub fn turned_true(old: &[Condition], new: &[Condition], types: &[&'static str]) -> Vec<Notice> {
    new.iter()
        .filter(|c| c.status == "True" && !conditions::is_true(old, &c.type_))
        .filter_map(|c| {
            let reason = types.iter().find(|t| **t == c.type_)?;
            Some(Notice {
                warning: true,
                reason,
                message: c.message.clone(),
            })
        })
        .collect()
}
