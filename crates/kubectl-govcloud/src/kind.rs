//! The three kinds an approver decides on, and how they are named on the command line:
//! `crr/NAME`, `rchg/NAME`, `rexit/NAME`, the long names (singular, plural, with or
//! without `.govcloud.io`), `KIND NAME` as two words, or a bare `NAME` for a request.

use std::fmt;

/// A kind with a review: the three request kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// CloudResourceRequest (`crr`).
    Request,
    /// ResourceChange (`rchg`).
    Change,
    /// ExitRequest (`rexit`).
    Exit,
}

impl Kind {
    /// Every kind, in the order `pending` lists ties.
    pub const ALL: [Kind; 3] = [Kind::Request, Kind::Change, Kind::Exit];

    /// The Kubernetes kind.
    pub fn kind(self) -> &'static str {
        match self {
            Kind::Request => "CloudResourceRequest",
            Kind::Change => "ResourceChange",
            Kind::Exit => "ExitRequest",
        }
    }

    /// The short name.
    pub fn short(self) -> &'static str {
        match self {
            Kind::Request => "crr",
            Kind::Change => "rchg",
            Kind::Exit => "rexit",
        }
    }

    /// The resource (plural) name.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Request => "cloudresourcerequests",
            Kind::Change => "resourcechanges",
            Kind::Exit => "exitrequests",
        }
    }

    /// Parses a kind as kubectl would accept it, case-insensitively.
    pub fn parse(text: &str) -> Option<Kind> {
        let t = text.to_ascii_lowercase();
        let t = t.strip_suffix(".govcloud.io").unwrap_or(&t);
        Kind::ALL.into_iter().find(|k| {
            let singular = k.kind().to_ascii_lowercase();
            t == k.short() || t == singular || t == k.plural()
        })
    }
}

impl fmt::Display for Kind {
    /// `cloudresourcerequest.govcloud.io`, as kubectl names objects in its messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.govcloud.io", self.kind().to_ascii_lowercase())
    }
}

/// One object named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its kind.
    pub kind: Kind,
    /// Its name.
    pub name: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

const KINDS_HELP: &str = "crr|cloudresourcerequest, rchg|resourcechange, rexit|exitrequest";

/// Parses `KIND/NAME`, `KIND NAME` or `NAME` (a CloudResourceRequest).
pub fn parse_target(words: &[String]) -> Result<Target, String> {
    let (kind, name) = match words {
        [one] => match one.split_once('/') {
            Some((kind, name)) => (Some(kind), name),
            None => (None, one.as_str()),
        },
        [kind, name] => (Some(kind.as_str()), name.as_str()),
        [] => return Err("name an object: KIND/NAME or NAME".to_string()),
        _ => return Err("name one object: KIND/NAME, KIND NAME or NAME".to_string()),
    };
    let kind = match kind {
        None => Kind::Request,
        Some(k) => {
            Kind::parse(k).ok_or_else(|| format!("unknown kind {k:?}: use one of {KINDS_HELP}"))?
        }
    };
    if name.is_empty() || name.contains('/') {
        return Err(format!("{name:?} is not an object name"));
    }
    Ok(Target {
        kind,
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(words: &[&str]) -> Result<Target, String> {
        parse_target(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn kinds_parse_by_every_name() {
        for (text, kind) in [
            ("crr", Kind::Request),
            ("cloudresourcerequest", Kind::Request),
            ("CloudResourceRequest", Kind::Request),
            ("cloudresourcerequests", Kind::Request),
            ("cloudresourcerequests.govcloud.io", Kind::Request),
            ("rchg", Kind::Change),
            ("resourcechange", Kind::Change),
            ("ResourceChanges", Kind::Change),
            ("rexit", Kind::Exit),
            ("exitrequest", Kind::Exit),
            ("exitrequest.govcloud.io", Kind::Exit),
        ] {
            assert_eq!(Kind::parse(text), Some(kind), "{text}");
        }
        for bad in ["", "pod", "request", "crrs", "govcloud.io"] {
            assert_eq!(Kind::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn targets() {
        let t = |kind, name: &str| {
            Ok(Target {
                kind,
                name: name.to_string(),
            })
        };
        assert_eq!(target(&["tax-portal"]), t(Kind::Request, "tax-portal"));
        assert_eq!(target(&["crr/tax-portal"]), t(Kind::Request, "tax-portal"));
        assert_eq!(target(&["rchg/more-cpu"]), t(Kind::Change, "more-cpu"));
        assert_eq!(target(&["exitrequest/bye"]), t(Kind::Exit, "bye"));
        assert_eq!(target(&["rexit", "bye"]), t(Kind::Exit, "bye"));
        let err = target(&["pod/x"]).unwrap_err();
        assert!(
            err.contains("unknown kind \"pod\"") && err.contains("rchg"),
            "{err}"
        );
        assert!(target(&["crr/"]).is_err());
        assert!(target(&["crr/a/b"]).is_err());
        assert!(target(&[]).is_err());
        assert!(target(&["a", "b", "c"]).is_err());
        assert_eq!(
            target(&["rchg/more-cpu"]).unwrap().to_string(),
            "resourcechange.govcloud.io/more-cpu"
        );
    }
}
