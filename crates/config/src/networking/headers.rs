//! Header manipulation checks: which headers a route may set or remove, and Envoy's syntax for
//! header values (`%VARIABLE%` expressions).

use super::common::{HeaderOperations, Headers};
use crate::validate::Findings;
use crate::yaml::FieldPath;

/// Envoy's header value syntax: `%VAR%` and `%VAR(args)%` expressions, `%%` for a literal '%'.
pub(crate) fn validate_header_value(value: &str) -> Result<(), String> {
    if value
        .chars()
        .any(|c| (c < ' ' && c != '\t') || c == '\u{7f}')
    {
        return Err(format!(
            "header value {value:?} must not contain control characters"
        ));
    }
    #[derive(PartialEq)]
    enum S {
        Literal,
        Var,
        ExpectArray,
        ExpectString,
        Str,
        ExpectDelimOrEnd,
        ExpectArgsEnd,
        ExpectVarEnd,
    }
    let b = value.as_bytes();
    let mut st = S::Literal;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let has_next = i + 1 < b.len();
        match st {
            S::Literal => {
                if c == b'%' {
                    if !has_next {
                        return Err(format!("header value {value:?} has an unescaped '%' (write %% for a literal '%')"));
                    }
                    if b[i + 1] == b'%' {
                        i += 1;
                    } else {
                        st = S::Var;
                    }
                }
            }
            S::Var => {
                if c == b'%' {
                    st = S::Literal;
                } else if c == b'(' {
                    st = S::ExpectArray;
                }
            }
            S::ExpectArray => {
                if c == b'[' {
                    st = S::ExpectString;
                } else if c != b' ' {
                    st = S::Str;
                }
            }
            S::ExpectDelimOrEnd => {
                if c == b',' {
                    st = S::ExpectString;
                } else if c == b']' {
                    st = S::ExpectArgsEnd;
                } else if c != b' ' {
                    return Err(format!(
                        "header value {value:?}: expected ',' or ']' in the variable's arguments"
                    ));
                }
            }
            S::ExpectString => {
                if c == b'"' {
                    st = S::Str;
                } else if c != b' ' {
                    return Err(format!(
                        "header value {value:?}: expected '\"' to start an argument"
                    ));
                }
            }
            S::Str => {
                if c == b'\\' {
                    if !has_next {
                        return Err(format!(
                            "header value {value:?} ends inside a backslash escape"
                        ));
                    }
                    i += 1;
                } else if c == b')' {
                    st = S::ExpectVarEnd;
                } else if c == b'"' {
                    st = S::ExpectDelimOrEnd;
                }
            }
            S::ExpectArgsEnd => {
                if c == b')' {
                    st = S::ExpectVarEnd;
                } else if c != b' ' {
                    return Err(format!(
                        "header value {value:?}: expected ')' after the variable's arguments"
                    ));
                }
            }
            S::ExpectVarEnd => {
                if c == b'%' {
                    st = S::Literal;
                } else if c != b' ' {
                    return Err(format!(
                        "header value {value:?}: expected '%' to close the variable"
                    ));
                }
            }
        }
        i += 1;
    }
    if st != S::Literal {
        return Err(format!(
            "header value {value:?} has an unterminated %VARIABLE% expression (write %% for a literal '%')"
        ));
    }
    Ok(())
}

pub(crate) fn is_authority_header(name: &str) -> bool {
    name.eq_ignore_ascii_case(":authority") || name.eq_ignore_ascii_case("host")
}

fn header_name_for_set(name: &str, allow_authority: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name must not be empty".into());
    }
    if allow_authority && is_authority_header(name) {
        return Ok(());
    }
    if name.eq_ignore_ascii_case("host") {
        return Err(format!("header {name:?} cannot be changed here"));
    }
    if name.starts_with(':') {
        return Err(format!(
            "header {name:?} cannot be changed: pseudo-headers (starting with ':') are managed by the proxy"
        ));
    }
    Ok(())
}

fn check_header_operations(
    ops: &HeaderOperations,
    allow_authority: bool,
    at: &FieldPath,
    out: &mut Findings,
) {
    for field in ["set", "add"] {
        let map = if field == "set" { &ops.set } else { &ops.add };
        for (name, value) in map {
            let p = at.field(field).field(name);
            out.check(&p, header_name_for_set(name, allow_authority));
            out.check(&p, validate_header_value(value));
        }
    }
    for (i, name) in ops.remove.iter().enumerate() {
        out.check(
            &at.field("remove").index(i),
            header_name_for_set(name, false),
        );
    }
}

/// Header manipulation on a route or destination: requests may set the authority (`host` or
/// `:authority`); nothing may touch other pseudo-headers, and responses may not touch `host`.
pub(crate) fn check_headers(h: &Headers, at: &FieldPath, out: &mut Findings) {
    if let Some(req) = &h.request {
        check_header_operations(req, true, &at.field("request"), out);
    }
    if let Some(resp) = &h.response {
        check_header_operations(resp, false, &at.field("response"), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        for ok in [
            "foo",
            "%HOSTNAME%",
            "100%%",
            "a %REQ(x-id)% b",
            "%FOO([\"a\", \"b\"])%",
            "",
        ] {
            assert!(validate_header_value(ok).is_ok(), "{ok}");
        }
        for bad in ["abc%123", "%START_TIME%%", "a\nb", "%FOO([\"a\" x])%"] {
            assert!(validate_header_value(bad).is_err(), "{bad}");
        }
    }
}
