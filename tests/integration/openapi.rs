use reqwest::StatusCode;
use serde_json::Value;

use crate::support::TestApp;

/// Every API operation the app serves, as `METHOD path`.
const EXPECTED: &[&str] = &[
    "GET /api/v1/products/{id}/photos",
    "POST /api/v1/admin/refunds/{id}/retry",
    "POST /api/v1/payments/{reference}/cancel",
    "POST /api/v1/products/{id}/photos",
    "PUT /api/v1/products/{id}/photos/order",
    "GET /api/v1/batches/{id}/photos",
    "POST /api/v1/batches/{id}/photos",
    "DELETE /api/v1/photos/{id}",
    "DELETE /api/v1/products/{id}",
    "GET /api/v1/admin/certificates",
    "POST /api/v1/admin/certificates/{id}/decision",
    "GET /api/v1/admin/cooperatives",
    "GET /api/v1/admin/dashboard",
    "POST /api/v1/admin/cooperatives/{id}/decision",
    "GET /api/v1/admin/gtin-disputes",
    "POST /api/v1/admin/gtins/{gtin}/owner",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/logout",
    "POST /api/v1/auth/register",
    "POST /api/v1/auth/password-reset",
    "POST /api/v1/auth/password-reset/confirm",
    "POST /api/v1/me/password",
    "POST /api/v1/me/contact",
    "POST /api/v1/me/contact/confirm",
    "GET /api/v1/me/notifications",
    "PUT /api/v1/me/notifications",
    "GET /api/v1/admin/messages/failed",
    "GET /api/v1/categories",
    "POST /api/v1/cooperatives",
    "GET /api/v1/cooperatives/{id}",
    "PUT /api/v1/cooperatives/{id}",
    "GET /api/v1/cooperatives/{id}/invitations",
    "POST /api/v1/cooperatives/{id}/invitations",
    "DELETE /api/v1/cooperatives/{id}/invitations/{invitation_id}",
    "POST /api/v1/invitations/accept",
    "GET /api/v1/cooperatives/{id}/products",
    "POST /api/v1/cooperatives/{id}/products",
    "GET /api/v1/me",
    "GET /api/v1/me/cooperatives",
    "GET /api/v1/products",
    "GET /api/v1/products/{id}",
    "PUT /api/v1/products/{id}",
    "POST /api/v1/products/{id}/archive",
    "GET /api/v1/products/{id}/certificates",
    "POST /api/v1/products/{id}/certificates",
    "POST /api/v1/products/{id}/publish",
    "POST /api/v1/products/{id}/stock",
    "POST /api/v1/products/{id}/variants",
    "PUT /api/v1/products/{id}/variants/{variant_id}",
    "DELETE /api/v1/products/{id}/variants/{variant_id}",
    "GET /api/v1/provinces",
    "GET /api/v1/provinces/{code}/communes",
    "GET /api/v1/admin/scan-analytics",
    "GET /api/v1/batches/{id}",
    "GET /api/v1/batches/{id}/epcis",
    "POST /api/v1/batches/{id}/recall",
    "GET /api/v1/batches/{id}/recall",
    "POST /api/v1/batches/{id}/recall/clear",
    "GET /api/v1/batches/{id}/orders",
    "GET /api/v1/batches/{id}/events",
    "POST /api/v1/batches/{id}/events",
    "GET /api/v1/batches/{id}/labels.pdf",
    "GET /api/v1/batches/{id}/stamps",
    "POST /api/v1/batches/{id}/stamps",
    "GET /api/v1/batches/{id}/stamps.csv",
    "POST /api/v1/batches/{id}/stamps/void",
    "GET /api/v1/cooperatives/{id}/scan-analytics",
    "GET /api/v1/products/{id}/batches",
    "POST /api/v1/products/{id}/batches",
    "GET /api/v1/scan/{code}",
    "POST /api/v1/scan/{code}/reports",
    "POST /api/v1/stamps/{id}/flag-review",
    "GET /api/v1/stamps/{code}/qr",
    "GET /api/v1/stamps/{id}/flag-reviews",
    "GET /api/v1/fake-reports",
    "GET /api/v1/fake-reports/{id}",
    "POST /api/v1/fake-reports/{id}/notes",
    "GET /api/v1/cart",
    "GET /api/v1/cooperatives/{id}/shipping-rates",
    "PUT /api/v1/cooperatives/{id}/shipping-rates",
    "GET /api/v1/cooperatives/{id}/sales",
    "POST /api/v1/cart/items",
    "PUT /api/v1/cart/items/{product_id}",
    "DELETE /api/v1/cart/items/{product_id}",
    "POST /api/v1/checkout",
    "GET /api/v1/payments/{reference}",
    "GET /api/v1/orders",
    "GET /api/v1/orders/{id}",
    "POST /api/v1/orders/{id}/cancel",
    "POST /api/v1/orders/{id}/accept",
    "POST /api/v1/orders/{id}/ship",
    "POST /api/v1/orders/{id}/deliver",
    "POST /api/v1/orders/{id}/complete",
    "GET /api/v1/cooperatives/{id}/orders",
    "GET /api/v1/cooperatives/{id}/statement",
    "POST /api/v1/webhooks/bank",
    "GET /api/v1/admin/payment-exceptions",
    "POST /api/v1/admin/payment-exceptions/{id}/resolve",
    "POST /api/v1/admin/payments/confirm",
    "GET /api/v1/admin/refunds",
    "POST /api/v1/admin/refunds/{id}/complete",
    "POST /api/v1/admin/payouts",
    "GET /api/v1/admin/ledger/balances",
    "GET /api/v1/admin/reconciliation",
    "GET /api/v1/search",
    "GET /api/v1/search/suggestions",
    "POST /api/v1/webhooks/stripe",
    "GET /api/v1/webhooks/vnpay",
    "POST /api/v1/webhooks/momo",
    "GET /api/v1/products/{id}/reviews",
    "POST /api/v1/products/{id}/reviews",
    "POST /api/v1/reviews/{id}/photos",
    "POST /api/v1/reviews/{id}/answer",
    "POST /api/v1/reviews/{id}/report",
    "POST /api/v1/reviews/{id}/hide",
    "POST /api/v1/reviews/{id}/keep",
    "POST /api/v1/reviews/{id}/unhide",
    "GET /api/v1/admin/reported-reviews",
];

#[tokio::test]
async fn the_openapi_document_lists_every_api_route_and_each_is_served() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let doc: Value = client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                documented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    documented.sort();
    let mut expected: Vec<String> = EXPECTED.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(documented, expected);

    // Each documented operation reaches a handler: no 405, and no "no such route" 404.
    for operation in &documented {
        let (method, path) = operation.split_once(' ').unwrap();
        let concrete = path
            .replace("{id}", "999999")
            .replace("{code}", "15")
            .replace("{product_id}", "999999")
            .replace("{reference}", "OCOP00000000");
        let response = client
            .request(method.parse().unwrap(), app.url(&concrete))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_ne!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{operation}"
        );
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(body["code"], "route_not_found", "{operation} is not routed");
        assert!(!status.is_server_error(), "{operation} answered {status}");
    }
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let client = app.client();
    assert_eq!(
        client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let missing = client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["code"], "route_not_found");
}
