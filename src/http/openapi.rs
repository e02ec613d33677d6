//! Completes the OpenAPI document with the answers every operation shares.
//!
//! Handlers document what their own service can answer (`404` for a missing product, `409` for
//! a used code…). Some answers come from the plumbing in front of every handler instead, and
//! listing them by hand on ninety operations would drift: the body extractors (`400` malformed,
//! `413` too large, `415` wrong type, `422` invalid), the path extractor (`404` for an id that is
//! not a number), the cross-site check (`403` on unsafe methods), the request timeout (`408`) and
//! the database or search being away (`503`). Every error is `application/problem+json`, so the
//! content type of each documented error is set to it here as well.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};

/// The media type of every error the API answers.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Adds the shared answers to every operation of `doc` and gives every error response the
/// problem+json content type.
pub fn complete(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            (&mut item.get, false),
            (&mut item.head, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.patch, true),
            (&mut item.delete, true),
        ];
        for (operation, unsafe_method) in operations {
            if let Some(operation) = operation.as_mut() {
                complete_operation(operation, unsafe_method);
            }
        }
    }
}

fn complete_operation(operation: &mut Operation, unsafe_method: bool) {
    let parameters: Vec<ParameterIn> = operation
        .parameters
        .iter()
        .flatten()
        .filter_map(|parameter| match parameter {
            RefOr::T(parameter) => Some(parameter.parameter_in.clone()),
            RefOr::Ref(_) => None,
        })
        .collect();
    let has_path = parameters.contains(&ParameterIn::Path);
    let has_query = parameters.contains(&ParameterIn::Query);
    let has_body = operation.request_body.is_some();

    let mut shared: Vec<(&str, &str)> = vec![
        ("408", "The request took longer than the server allows"),
        (
            "503",
            "The database or the search index is not answering; try again",
        ),
    ];
    if has_body || has_query {
        shared.push(("400", "The request could not be read"));
        shared.push(("422", "A field is invalid; `errors` names each one"));
    }
    if has_body {
        shared.push(("413", "The body is larger than the server accepts"));
        shared.push(("415", "The body is not of a type this operation reads"));
    }
    if has_path {
        shared.push(("404", "Nothing with this identifier"));
    }
    if unsafe_method {
        shared.push(("403", "Refused: a cross-site request, or not allowed"));
    }
    let responses = &mut operation.responses.responses;
    for (status, description) in shared {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(problem_response(description)));
    }
    for (status, response) in responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(response)) = (is_error, response) {
            as_problem(response);
        }
    }
}

fn problem_schema() -> Content {
    Content::new(Some(Ref::from_schema_name("Problem")))
}

fn problem_response(description: &str) -> Response {
    let mut response = Response::new(description);
    response
        .content
        .insert(PROBLEM_JSON.to_owned(), RefOr::T(problem_schema()));
    response
}

/// A `Problem` documented as `application/json` (utoipa's default for a body) is answered as
/// `application/problem+json` in fact. (Some errors carry their own body: the scan of an unknown
/// code answers 404 with a verdict, as JSON.)
fn as_problem(response: &mut Response) {
    let is_problem = |content: &RefOr<Content>| match content {
        RefOr::T(Content {
            schema: Some(RefOr::Ref(schema)),
            ..
        }) => schema.ref_location.ends_with("/Problem"),
        _ => false,
    };
    if response
        .content
        .get("application/json")
        .is_some_and(is_problem)
        && let Some(content) = response.content.shift_remove("application/json")
    {
        response
            .content
            .entry(PROBLEM_JSON.to_owned())
            .or_insert(content);
    }
    if response.content.is_empty() {
        response
            .content
            .insert(PROBLEM_JSON.to_owned(), RefOr::T(problem_schema()));
    }
}
