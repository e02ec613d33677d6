//! The workspace's variant forms: a product's sizes (label, price, weight, SKU, initial stock),
//! added and edited from the product's page without JavaScript. Errors show beside the fields
//! on the product page again (422).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;

use super::workspace::product_form_page;
use crate::AppState;
use crate::accounts::Authenticated;
use crate::catalog::access;
use crate::catalog::products::ProductForm;
use crate::catalog::variants::{self, VariantForm};
use crate::changes::Change;
use crate::error::{AppResult, FieldErrors};
use crate::http::extract::{ApiPath, PageForm};
use crate::http::page::{PageContext, render_with_status};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspace/products/{id}/variants", post(add_submit))
        .route(
            "/workspace/products/{id}/variants/{variant_id}",
            post(edit_submit),
        )
}

async fn add_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<VariantForm>,
) -> AppResult<Response> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let result = match form.parse() {
        Ok(variant) => variants::add(&state.db, &product, variant)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            state.changes.publish(&[Change::Product(id)]).await;
            Ok(Redirect::to(&format!("/workspace/products/{id}#variants")).into_response())
        }
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            let mut page = product_form_page(
                &state,
                ctx,
                &product,
                &membership,
                ProductForm::of_product(&state.db, &product).await?,
                FieldErrors::default(),
            )
            .await?;
            if let Some(section) = page.variants.as_mut() {
                section.form = form;
                section.errors = errors;
            }
            render_with_status(status, &page)
        }
    }
}

async fn edit_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath((id, variant_id)): ApiPath<(i64, i64)>,
    PageForm(form): PageForm<VariantForm>,
) -> AppResult<Response> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let result = match form.parse() {
        Ok(variant) => variants::update(&state.db, &product, variant_id, variant)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            state.changes.publish(&[Change::Product(id)]).await;
            Ok(Redirect::to(&format!("/workspace/products/{id}#variants")).into_response())
        }
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            let mut page = product_form_page(
                &state,
                ctx,
                &product,
                &membership,
                ProductForm::of_product(&state.db, &product).await?,
                FieldErrors::default(),
            )
            .await?;
            if let Some(section) = page.variants.as_mut() {
                section.refused_edit = Some((variant_id, form, errors));
            }
            render_with_status(status, &page)
        }
    }
}
