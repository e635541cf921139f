//! Objects that name a CloudResourceRequest (ResourceChanges, ExitRequests), by that
//! request: a reconcile asks for the changes or exits of one request instead of scanning
//! all of them, so its cost does not grow with the number of requests.
//!
//! Fed like a watch store: [`ByRequest::upsert`] and [`ByRequest::remove`] for each
//! event, and a relist ([`ByRequest::begin_relist`], [`ByRequest::relisted`] for each
//! object, [`ByRequest::end_relist`]) replaces the content at once, so objects deleted
//! while the watch was down do not linger.

use std::collections::{BTreeSet, HashMap};

/// (namespace, name).
type Key = (String, String);

/// Objects by the request they name (in their own namespace: `spec.request`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ByRequest {
    /// (namespace, request) → names of the objects naming it.
    by_request: HashMap<Key, BTreeSet<String>>,
    /// (namespace, object) → the request it names, to move or drop it.
    request_of: HashMap<Key, String>,
    /// A relist in progress: the objects it delivered so far.
    relist: Option<Vec<(String, String, String)>>,
}

impl ByRequest {
    /// Object `name` in `namespace` (now) names `request`.
    pub fn upsert(&mut self, namespace: &str, name: &str, request: &str) {
        let key = (namespace.to_string(), name.to_string());
        if let Some(previous) = self.request_of.get(&key) {
            if previous == request {
                return;
            }
            let previous = previous.clone();
            self.unlink(namespace, name, &previous);
        }
        self.by_request
            .entry((namespace.to_string(), request.to_string()))
            .or_default()
            .insert(name.to_string());
        self.request_of.insert(key, request.to_string());
    }

    /// Object `name` in `namespace` is gone.
    pub fn remove(&mut self, namespace: &str, name: &str) {
        if let Some(request) = self
            .request_of
            .remove(&(namespace.to_string(), name.to_string()))
        {
            self.unlink(namespace, name, &request);
        }
    }

    fn unlink(&mut self, namespace: &str, name: &str, request: &str) {
        let key = (namespace.to_string(), request.to_string());
        if let Some(names) = self.by_request.get_mut(&key) {
            names.remove(name);
            if names.is_empty() {
                self.by_request.remove(&key);
            }
        }
    }

    /// The names of the objects in `namespace` naming `request`, in name order.
    pub fn names(&self, namespace: &str, request: &str) -> Vec<String> {
        self.by_request
            .get(&(namespace.to_string(), request.to_string()))
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many objects are indexed.
    pub fn len(&self) -> usize {
        self.request_of.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.request_of.is_empty()
    }

    /// A full list of the objects starts; the content stays as it is until it ends.
    pub fn begin_relist(&mut self) {
        self.relist = Some(Vec::new());
    }

    /// One object of the relist (outside a relist, an upsert).
    pub fn relisted(&mut self, namespace: &str, name: &str, request: &str) {
        match &mut self.relist {
            Some(listed) => listed.push((namespace.into(), name.into(), request.into())),
            None => self.upsert(namespace, name, request),
        }
    }

    /// The relist is complete: the content becomes exactly what it listed.
    pub fn end_relist(&mut self) {
        let listed = self.relist.take().unwrap_or_default();
        self.by_request.clear();
        self.request_of.clear();
        for (namespace, name, request) in listed {
            self.upsert(&namespace, &name, &request);
        }
    }
}

#[cfg(test)]
#[path = "by_request_tests.rs"]
mod tests;
