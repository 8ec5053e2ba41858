//! Where tokens are found: headers (with a prefix such as `Bearer `), query parameters and
//! cookies, as a jwtRule lists them; `Authorization: Bearer` and `access_token` when it
//! lists none.

use crate::normalize::HttpRequest;
use verimesh_config::security::JwtRule;

/// One place a token may be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// Lower-case header name and the prefix before the token.
    Header {
        name: String,
        prefix: String,
    },
    Param(String),
    Cookie(String),
}

/// The locations a rule reads.
pub fn locations(rule: &JwtRule) -> Vec<Location> {
    if rule.from_headers.is_empty() && rule.from_params.is_empty() && rule.from_cookies.is_empty() {
        return vec![
            Location::Header {
                name: "authorization".into(),
                prefix: "Bearer ".into(),
            },
            Location::Param("access_token".into()),
        ];
    }
    let headers = rule.from_headers.iter().map(|h| Location::Header {
        name: h.name.to_ascii_lowercase(),
        prefix: h.prefix.clone().unwrap_or_default(),
    });
    let params = rule.from_params.iter().cloned().map(Location::Param);
    let cookies = rule.from_cookies.iter().cloned().map(Location::Cookie);
    headers.chain(params).chain(cookies).collect()
}

/// Every token found at a location (a header or parameter may repeat).
pub fn extract(req: &HttpRequest, loc: &Location) -> Vec<String> {
    match loc {
        Location::Header { name, prefix } => req
            .header_values(name)
            .filter_map(|v| strip_prefix_ci(v, prefix))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        Location::Param(name) => req
            .query
            .as_deref()
            .map(|q| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .filter(|(k, _)| percent_decode(k) == *name)
                    .map(|(_, v)| percent_decode(v))
                    .filter(|t| !t.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        Location::Cookie(name) => req
            .header_values("cookie")
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .filter(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
            .filter(|t| !t.is_empty())
            .collect(),
    }
}

/// The value after `prefix`, compared ASCII case-insensitively (`bearer` and `Bearer`).
fn strip_prefix_ci<'a>(v: &'a str, prefix: &str) -> Option<&'a str> {
    let head = v.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &v[prefix.len()..])
}

/// Decodes `%XX` escapes; malformed escapes stay as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(query: Option<&str>, headers: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            path: "/".into(),
            query: query.map(str::to_string),
            host: String::new(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn finds_tokens() {
        let h = Location::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        };
        assert_eq!(
            extract(&req(None, &[("authorization", "bearer abc")]), &h),
            ["abc"]
        );
        assert!(extract(&req(None, &[("authorization", "Basic abc")]), &h).is_empty());
        let p = Location::Param("access_token".into());
        assert_eq!(
            extract(&req(Some("a=1&access_token=x%2Ey"), &[]), &p),
            ["x.y"]
        );
        let c = Location::Cookie("session".into());
        assert_eq!(
            extract(&req(None, &[("cookie", "a=1; session=tok; b=2")]), &c),
            ["tok"]
        );
    }
}
