//! The Events a decision asks the operator to publish. A leaf shared by the request,
//! change, exit and utilization decisions, so none of them imports another for it.

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
