//! Istio's authz-http task on bookinfo: the file's policies applied one at a time, with
//! what the task's product page shows after each.

use super::scenarios::{file, get, http, run, Apply, Check, Entry, To};

/// A bookinfo service's call to another (`app:9080 path`), made from inside the caller.
fn call(
    client: &'static str,
    app: &'static str,
    path: &'static str,
    expect: &'static str,
) -> Check {
    Check {
        from: "default",
        client,
        to: To::Service {
            app,
            ns: "default",
            port: 9080,
            target: 9080,
        },
        http: Some(get(path)),
        expect,
    }
}

/// authorization/authz-http: the file's policies applied one at a time. The task reads
/// the outcome off the product page in a browser (through the ingress gateway, which
/// verimesh lacks): the page itself (`curl.foo` stands in for the browser; the policies
/// judge only method and caller identity) and each of its panels, i.e. the call that fills
/// it, made from inside the calling service with its identity.
pub fn steps() -> Vec<Entry> {
    const F: &str = "authz-http-bookinfo.yaml";
    // (step, page, details, reviews, ratings)
    let steps: [(&'static str, &str, &str, &str, &str); 5] = [
        (
            "authz-http-bookinfo 1 (allow-nothing)",
            "403",
            "403",
            "403",
            "403",
        ),
        (
            "authz-http-bookinfo 2 (+productpage-viewer)",
            "200",
            "403",
            "403",
            "403",
        ),
        (
            "authz-http-bookinfo 3 (+details-viewer)",
            "200",
            "200",
            "403",
            "403",
        ),
        (
            "authz-http-bookinfo 4 (+reviews-viewer)",
            "200",
            "200",
            "200",
            "403",
        ),
        (
            "authz-http-bookinfo 5 (+ratings-viewer)",
            "200",
            "200",
            "200",
            "200",
        ),
    ];
    let page = To::Service {
        app: "productpage",
        ns: "default",
        port: 9080,
        target: 9080,
    };
    steps
        .iter()
        .enumerate()
        .map(|(i, &(name, p, d, r, ra))| {
            let mut page_get = get("/productpage");
            // The last step's page shows every panel, stars included.
            if i == 4 {
                page_get.body_contains = Some(r#""Reviewer1":5"#);
            }
            run(
                name,
                vec![Apply {
                    docs: Some(i + 1),
                    ..file(F)
                }],
                vec![
                    http("foo", page.clone(), page_get, p),
                    call("productpage", "details", "/details/0", d),
                    call("productpage", "reviews", "/reviews/0", r),
                    call("reviews", "ratings", "/ratings/0", ra),
                ],
            )
        })
        .collect()
}
