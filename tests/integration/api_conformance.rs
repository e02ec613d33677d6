//! Every answer the API gives is one its OpenAPI document states: the checks schemathesis runs
//! with `--checks all` (status code and content type conformance, no server errors), done in
//! Rust so they run in every CI run without a Python tool chain.
//!
//! Each operation of the served document is called as a stranger, as a cooperative's owner and
//! as an administrator, with identifiers that exist, that do not, and that are not numbers, and
//! with bodies that are empty, malformed, of the wrong type or the wrong media type. Every
//! answer's status must be listed for that operation, with the content type it was sent with,
//! and a JSON body must match the schema documented for it.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, User, published_product, verified_cooperative};

/// One way of calling an operation.
#[derive(Clone, Copy, Debug)]
enum Case {
    /// `{}` as the body, identifiers that exist.
    Empty,
    /// Identifiers of nothing.
    Missing,
    /// Identifiers that are not numbers.
    NotNumbers,
    /// A body that is not JSON.
    MalformedJson,
    /// A JSON body whose fields have the wrong types.
    WrongTypes,
    /// A body of a media type no operation reads.
    WrongMediaType,
    /// Query parameters with values no operation accepts.
    BadQuery,
}

const CASES: &[Case] = &[
    Case::Empty,
    Case::Missing,
    Case::NotNumbers,
    Case::MalformedJson,
    Case::WrongTypes,
    Case::WrongMediaType,
    Case::BadQuery,
];

struct Caller<'a> {
    name: &'a str,
    client: reqwest::Client,
}

/// Identifiers that exist in the world the test builds.
struct World {
    cooperative: i64,
    product: i64,
    batch: i64,
    code: String,
}

async fn world(admin: &User, owner: &User) -> World {
    let cooperative = verified_cooperative(admin, owner, "5100000091", "HTX Chè Shan Tuyết").await;
    let (product, _) = published_product(owner, cooperative, "Chè Shan tuyết cổ thụ").await;
    let (status, batch) = owner
        .post(
            &format!("/api/v1/products/{product}/batches"),
            json!({"lot_code": "che-2026-11", "harvested_on": "2026-10-20", "best_before": "2028-10-20",
                   "quantity": "500", "quantity_unit": "hộp", "certifications": "VietGAP"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let batch = batch["id"].as_i64().unwrap();
    let (status, stamps) = owner
        .post(
            &format!("/api/v1/batches/{batch}/stamps"),
            json!({"count": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{stamps}");
    let (_, listed) = owner.get(&format!("/api/v1/batches/{batch}/stamps")).await;
    let code = listed["items"][0]["code"].as_str().unwrap().to_owned();
    World {
        cooperative,
        product,
        batch,
        code,
    }
}

fn concrete_path(template: &str, case: Case, world: &World) -> String {
    let (number, code, reference) = match case {
        Case::Missing => (
            "999999".to_owned(),
            "ZZZZZZZZZZZZZZZZ".to_owned(),
            "OCOP00000000",
        ),
        Case::NotNumbers => ("abc".to_owned(), "%00".to_owned(), "x"),
        _ => (String::new(), world.code.clone(), "OCOP00000000"),
    };
    let mut path = template.to_owned();
    let exists = |name: &str| match name {
        "{invitation_id}" => "1".to_owned(),
        "{gtin}" => "08930000000017".to_owned(),
        name if name.contains("product") => world.product.to_string(),
        _ if template.contains("/cooperatives/") => world.cooperative.to_string(),
        _ if template.contains("/batches/") => world.batch.to_string(),
        _ if template.contains("/products/") => world.product.to_string(),
        _ => "1".to_owned(),
    };
    while let Some(start) = path.find('{') {
        let end = start + path[start..].find('}').unwrap() + 1;
        let name = path[start..end].to_owned();
        let value = match name.as_str() {
            "{code}" if template.contains("/provinces/") => match case {
                Case::Missing => "99".to_owned(),
                Case::NotNumbers => "xx".to_owned(),
                _ => "15".to_owned(),
            },
            "{code}" => code.clone(),
            "{reference}" => reference.to_owned(),
            "{gtin}" if matches!(case, Case::NotNumbers) => "not-a-gtin".to_owned(),
            other if number.is_empty() => exists(other),
            _ => number.clone(),
        };
        path.replace_range(start..end, &value);
    }
    path
}

fn query(operation: &Value, case: Case) -> Vec<(String, String)> {
    let Case::BadQuery = case else {
        return Vec::new();
    };
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .map(|p| (p["name"].as_str().unwrap().to_owned(), "-1x%".to_owned()))
        .collect()
}

/// Content type without parameters (`application/json; charset=utf-8` → `application/json`).
fn media_type(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
}

/// Why `body` does not match `schema` (a schema of the document, its `$ref`s resolved against
/// the document's components), or `None` when it does.
fn schema_violation(doc: &Value, schema: &Value, body: &[u8]) -> Option<String> {
    let instance: Value = match serde_json::from_slice(body) {
        Ok(instance) => instance,
        Err(err) => return Some(format!("not JSON: {err}")),
    };
    let mut rooted = schema.clone();
    rooted["components"] = doc["components"].clone();
    let validator = jsonschema::validator_for(&rooted).expect("the document's schemas compile");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .take(2)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

#[tokio::test]
async fn every_answer_of_the_api_is_documented_with_its_content_type() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let world = world(&admin, &owner).await;
    let doc: Value = app
        .client()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut operations: Vec<(String, String, Value)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "patch", "delete"] {
            if let Some(operation) = item.get(method) {
                operations.push((method.to_uppercase(), path.clone(), operation.clone()));
            }
        }
    }
    // Logging out ends the callers' sessions: last.
    operations.sort_by_key(|(method, path, _)| (path.ends_with("/logout"), method.clone()));

    let callers = [
        Caller {
            name: "stranger",
            client: app.client(),
        },
        Caller {
            name: "owner",
            client: owner.client.clone(),
        },
        Caller {
            name: "admin",
            client: admin.client.clone(),
        },
    ];
    // What is missing from the document, with the first call that showed it.
    let mut undocumented = BTreeMap::new();
    let mut calls = 0;
    for caller in &callers {
        for (method, template, operation) in &operations {
            let has_body = operation.get("requestBody").is_some();
            for &case in CASES {
                let body_case = matches!(
                    case,
                    Case::MalformedJson | Case::WrongTypes | Case::WrongMediaType
                );
                if body_case && !has_body {
                    continue;
                }
                let path = concrete_path(template, case, &world);
                let mut request = caller
                    .client
                    .request(method.parse::<Method>().unwrap(), app.url(&path))
                    .query(&query(operation, case));
                if has_body {
                    request = match case {
                        Case::MalformedJson => request
                            .header("content-type", "application/json")
                            .body("{\"name\": "),
                        Case::WrongTypes => request.json(&json!({
                            "name": 12, "quantity": "many", "count": "x", "decision": [],
                            "identifier": false, "password": 1, "product_id": "p",
                            "amount_vnd": "lots", "items": {}, "gtin": 5,
                        })),
                        Case::WrongMediaType => {
                            request.header("content-type", "text/plain").body("hello")
                        }
                        _ => request.json(&json!({})),
                    };
                }
                let response = request.send().await.unwrap();
                calls += 1;
                let status = response.status();
                let media = media_type(&response);
                let body = response.bytes().await.unwrap();
                let key = status.as_u16().to_string();
                let documented = &operation["responses"][&key];
                let label = format!("{} {method} {template} [{case:?}]", caller.name);
                assert!(
                    !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
                    "{label} answered {status}"
                );
                if documented.is_null() {
                    undocumented
                        .entry(format!("{method} {template} → {status}"))
                        .or_insert(label);
                    continue;
                }
                let contents = documented["content"].as_object();
                let declared: Vec<&String> =
                    contents.map(|c| c.keys().collect()).unwrap_or_default();
                match (&media, declared.is_empty()) {
                    (Some(media), false) if !declared.contains(&media) => {
                        undocumented
                            .entry(format!(
                                "{method} {template} → {status} as {media}, documented {declared:?}"
                            ))
                            .or_insert(label.clone());
                    }
                    (None, false) if status != StatusCode::NO_CONTENT => {
                        undocumented
                            .entry(format!(
                                "{method} {template} → {status} without a content type"
                            ))
                            .or_insert(label.clone());
                    }
                    _ => {}
                }
                // The body is what the schema for that status and content type says.
                let schema = media
                    .as_ref()
                    .map(|media| &documented["content"][media]["schema"])
                    .filter(|schema| schema.is_object());
                if let Some(problem) = schema.and_then(|s| schema_violation(&doc, s, &body)) {
                    undocumented
                        .entry(format!("{method} {template} → {status} body: {problem}"))
                        .or_insert(label);
                }
            }
        }
    }
    assert!(calls > 500, "only {calls} calls were made");
    assert!(
        undocumented.is_empty(),
        "{} answers are not in the OpenAPI document:\n{}",
        undocumented.len(),
        undocumented
            .into_iter()
            .map(|(answer, call)| format!("{answer}  (first seen: {call})"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Every problem the document promises is problem+json.
    for (method, template, operation) in &operations {
        for (status, response) in operation["responses"].as_object().unwrap() {
            let json_problem = &response["content"]["application/json"]["schema"]["$ref"];
            assert!(
                !json_problem
                    .as_str()
                    .is_some_and(|r| r.ends_with("/Problem")),
                "{method} {template} {status} documents a Problem as application/json"
            );
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    response["content"]
                        .as_object()
                        .is_some_and(|c| !c.is_empty()),
                    "{method} {template} {status} documents no body"
                );
            }
        }
    }
}
