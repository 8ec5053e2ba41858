//! Field names: the pseudo-header names, and the checks RFC 9113 section 8.2.1 makes on the
//! names a peer sends.

use http::{HeaderName, HeaderValue};

use super::{Field, Malformed, Pseudo};

/// A valid field name, as table entries keep it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Name {
    Pseudo(Pseudo),
    Header(HeaderName),
}

/// A field name borrowed from the encoder's caller.
#[derive(Clone, Copy, Debug)]
pub(super) enum NameRef<'a> {
    Pseudo(Pseudo),
    Header(&'a HeaderName),
}

impl Name {
    pub(super) fn as_bytes(&self) -> &[u8] {
        match self {
            Name::Pseudo(pseudo) => pseudo_name(*pseudo).as_bytes(),
            Name::Header(name) => name.as_str().as_bytes(),
        }
    }

    pub(super) fn with_value(self, value: HeaderValue) -> Field {
        match self {
            Name::Pseudo(pseudo) => Field::Pseudo(pseudo, value),
            Name::Header(name) => Field::Header(name, value),
        }
    }

    /// The name of `field`, cloned (free for standard names, a reference count otherwise).
    pub(super) fn of(field: &Field) -> Name {
        match field {
            Field::Pseudo(pseudo, _) => Name::Pseudo(*pseudo),
            Field::Header(name, _) => Name::Header(name.clone()),
        }
    }

    pub(super) fn is(&self, other: NameRef<'_>) -> bool {
        match (self, other) {
            (Name::Pseudo(a), NameRef::Pseudo(b)) => *a == b,
            (Name::Header(a), NameRef::Header(b)) => a == b,
            _ => false,
        }
    }
}

impl NameRef<'_> {
    pub(super) fn as_bytes(&self) -> &[u8] {
        match self {
            NameRef::Pseudo(pseudo) => pseudo_name(*pseudo).as_bytes(),
            NameRef::Header(name) => name.as_str().as_bytes(),
        }
    }

    pub(super) fn to_owned(self) -> Name {
        match self {
            NameRef::Pseudo(pseudo) => Name::Pseudo(pseudo),
            NameRef::Header(name) => Name::Header(name.clone()),
        }
    }
}

/// The name of a pseudo-header field on the wire.
pub(super) const fn pseudo_name(pseudo: Pseudo) -> &'static str {
    match pseudo {
        Pseudo::Method => ":method",
        Pseudo::Scheme => ":scheme",
        Pseudo::Authority => ":authority",
        Pseudo::Path => ":path",
        Pseudo::Status => ":status",
        Pseudo::Protocol => ":protocol",
    }
}

/// Validates a name the peer sent as a literal.
pub(super) fn parse(bytes: &[u8]) -> Result<Name, Malformed> {
    if bytes.first() == Some(&b':') {
        return parse_pseudo(bytes)
            .map(Name::Pseudo)
            .ok_or(Malformed::UnknownPseudo);
    }
    // HeaderName::from_bytes would quietly lowercase; RFC 9113 makes the field malformed.
    if bytes.iter().any(u8::is_ascii_uppercase) {
        return Err(Malformed::InvalidName);
    }
    HeaderName::from_bytes(bytes)
        .map(Name::Header)
        .map_err(|_| Malformed::InvalidName)
}

fn parse_pseudo(bytes: &[u8]) -> Option<Pseudo> {
    Some(match bytes {
        b":method" => Pseudo::Method,
        b":scheme" => Pseudo::Scheme,
        b":authority" => Pseudo::Authority,
        b":path" => Pseudo::Path,
        b":status" => Pseudo::Status,
        b":protocol" => Pseudo::Protocol,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_names_round_trip() {
        for pseudo in [
            Pseudo::Method,
            Pseudo::Scheme,
            Pseudo::Authority,
            Pseudo::Path,
            Pseudo::Status,
            Pseudo::Protocol,
        ] {
            let name = pseudo_name(pseudo);
            assert_eq!(parse(name.as_bytes()), Ok(Name::Pseudo(pseudo)));
        }
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(
            parse(b"content-type"),
            Ok(Name::Header(http::header::CONTENT_TYPE))
        );
        assert_eq!(
            parse(b"x-custom"),
            Ok(Name::Header(HeaderName::from_static("x-custom")))
        );
        assert_eq!(parse(b"Content-Type"), Err(Malformed::InvalidName));
        assert_eq!(parse(b"x-cUstom"), Err(Malformed::InvalidName));
        assert_eq!(parse(b"x custom"), Err(Malformed::InvalidName));
        assert_eq!(parse(b"x\0"), Err(Malformed::InvalidName));
        assert_eq!(parse(b""), Err(Malformed::InvalidName));
        assert_eq!(parse(b"a:b"), Err(Malformed::InvalidName));
        assert_eq!(parse(b":"), Err(Malformed::UnknownPseudo));
        assert_eq!(parse(b":Method"), Err(Malformed::UnknownPseudo));
        assert_eq!(parse(b":foo"), Err(Malformed::UnknownPseudo));
    }
}
