//! Image references: `registry[:port]/repository[:tag][@sha256:digest]`, as Docker and OCI tools
//! write them.

use crate::error::ImageError;
use std::fmt;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    /// The registry host, with its port when given (`localhost:5000`).
    pub registry: String,
    /// The repository path inside the registry (`team/policy`).
    pub repository: String,
    /// The tag; `latest` when neither a tag nor a digest is given.
    pub tag: Option<String>,
    /// A pinned manifest digest (`sha256:…`).
    pub digest: Option<String>,
}

impl Reference {
    /// Parses a reference; the registry host is required (no registry is assumed).
    pub fn parse(text: &str) -> Result<Reference, ImageError> {
        let bad = |why: &str| ImageError::Reference {
            reference: text.to_string(),
            message: why.to_string(),
        };
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => {
                if !is_digest(digest) {
                    return Err(bad(
                        "the digest must be sha256: and 64 lowercase hex digits",
                    ));
                }
                (name, Some(digest.to_string()))
            }
            None => (text, None),
        };
        let (registry, path) = name
            .split_once('/')
            .filter(|(host, _)| host.contains('.') || host.contains(':') || *host == "localhost")
            .ok_or_else(|| bad("name the registry first: host[:port]/repository[:tag]"))?;
        // A colon after the last slash starts the tag.
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag.to_string())),
            _ => (path, None),
        };
        if repository.is_empty()
            || !repository.split('/').all(|component| {
                !component.is_empty()
                    && component.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            })
        {
            return Err(bad(
                "the repository is lowercase letters, digits, `.`, `_`, `-` and `/` between components",
            ));
        }
        if let Some(tag) = &tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                && !tag.starts_with(['.', '-']);
            if !valid {
                return Err(bad("a tag is up to 128 letters, digits, `.`, `_` and `-`"));
            }
        }
        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_string()),
            _ => tag,
        };
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// What the registry's manifest endpoint takes: the digest when pinned, else the tag.
    pub fn manifest_key(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The same image under another tag or digest.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `sha256:` and 64 lowercase hex digits.
pub fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_as_docker_writes_them() {
        let r = Reference::parse("localhost:5000/team/policy:1.2").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("localhost:5000", "team/policy", Some("1.2"))
        );
        assert_eq!(r.to_string(), "localhost:5000/team/policy:1.2");
        let r = Reference::parse("ghcr.io/acme/authz").unwrap();
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("127.0.0.1:5000/p@{digest}")).unwrap();
        assert_eq!(
            (r.tag.as_deref(), r.digest.as_deref()),
            (None, Some(digest.as_str()))
        );
        assert_eq!(r.manifest_key(), digest);
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        for (text, why) in [
            ("policy:1", "name the registry"),
            ("localhost:5000/Team/p", "lowercase"),
            ("localhost:5000/p:bad tag", "a tag is"),
            ("localhost:5000/p@sha256:abc", "the digest"),
            ("localhost:5000/:1", "lowercase"),
        ] {
            let error = Reference::parse(text).unwrap_err().to_string();
            assert!(
                error.contains(text) && error.contains(why),
                "{text}: {error}"
            );
        }
    }
}
