//! The policy an object names, as the controller found it. A leaf shared by the request
//! decision and the granted-rules fallback, so neither imports the other for it.

use super::rules::Rules;

/// The policy a request names, as found.
#[derive(Debug, Clone, Copy)]
pub enum PolicyState<'a> {
    /// Found and valid.
    Ready(&'a Rules),
    /// No GovCloudPolicy of that name.
    Missing(&'a str),
    /// Found but unusable: why, naming the policy and its field.
    Invalid(&'a str),
}
