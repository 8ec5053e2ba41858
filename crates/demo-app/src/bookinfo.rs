//! Istio's bookinfo sample, emulated: productpage calls details and reviews; reviews v2 and v3
//! call ratings (v2 shows black stars, v3 red); every answer names the version that served it.

use crate::client::{Answer, Caller};
use crate::reply::{self, Body};
use crate::{Config, Role};
use http::{HeaderMap, Response, StatusCode};
use serde_json::json;

fn id_after<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

fn answer_json(a: Answer) -> serde_json::Value {
    match a {
        Answer::Ok(status, body) => json!({ "status": status, "body": body }),
        Answer::Failed(error) => json!({ "status": null, "error": error }),
    }
}

/// Answers the role's bookinfo path, or `None` when the path is not one of the role's.
pub async fn handle(
    cfg: &Config,
    caller: &Caller,
    path: &str,
    headers: &HeaderMap,
) -> Option<Response<Body>> {
    let v = cfg.version.as_str();
    let ok = StatusCode::OK;
    match cfg.role {
        Role::Productpage if path == "/productpage" || path == "/" => {
            let (details, reviews) = tokio::join!(
                caller.get(&cfg.upstreams.details, "/details/0", headers),
                caller.get(&cfg.upstreams.reviews, "/reviews/0", headers),
            );
            let user = headers.get("end-user").and_then(|u| u.to_str().ok());
            Some(reply::json(
                ok,
                &json!({
                    "service": "productpage", "version": v, "user": user,
                    "details": answer_json(details), "reviews": answer_json(reviews),
                }),
            ))
        }
        Role::Details => id_after(path, "/details/").map(|id| {
            reply::json(
                ok,
                &json!({
                    "service": "details", "version": v, "id": id,
                    "author": "William Shakespeare", "year": 1595, "type": "paperback",
                    "pages": 200, "publisher": "PublisherA", "language": "English",
                }),
            )
        }),
        Role::Ratings => id_after(path, "/ratings/").map(|id| {
            reply::json(
                ok,
                &json!({
                    "service": "ratings", "version": v, "id": id,
                    "ratings": { "Reviewer1": 5, "Reviewer2": 4 },
                }),
            )
        }),
        Role::Reviews => {
            let id = id_after(path, "/reviews/")?;
            // v1 shows no stars; later versions fetch ratings and color them.
            let (ratings, color) = match v {
                "v1" => (serde_json::Value::Null, serde_json::Value::Null),
                "v2" => (
                    answer_json(
                        caller
                            .get(&cfg.upstreams.ratings, &format!("/ratings/{id}"), headers)
                            .await,
                    ),
                    json!("black"),
                ),
                _ => (
                    answer_json(
                        caller
                            .get(&cfg.upstreams.ratings, &format!("/ratings/{id}"), headers)
                            .await,
                    ),
                    json!("red"),
                ),
            };
            Some(reply::json(
                ok,
                &json!({
                    "service": "reviews", "version": v, "id": id,
                    "reviews": [
                        { "reviewer": "Reviewer1", "text": "An extremely entertaining play by Shakespeare." },
                        { "reviewer": "Reviewer2", "text": "Absolutely fun and entertaining." },
                    ],
                    "stars": color, "ratings": ratings,
                }),
            ))
        }
        _ => None,
    }
}
