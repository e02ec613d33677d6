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
use crate::entities::product_variants;
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

/// A product's variants on its workspace page, with the add form (and its errors) and the
/// errors of a refused edit.
pub(super) struct VariantSection {
    pub(super) variants: Vec<product_variants::Model>,
    pub(super) form: VariantForm,
    pub(super) errors: FieldErrors,
    /// The variant whose edit was refused, with its form as typed and errors.
    pub(super) refused_edit: Option<(i64, VariantForm, FieldErrors)>,
}

impl VariantSection {
    pub(super) fn new(variants: Vec<product_variants::Model>) -> Self {
        Self {
            variants,
            form: VariantForm::default(),
            errors: FieldErrors::default(),
            refused_edit: None,
        }
    }

    /// The edit form of a variant: as typed when its edit was refused, as stored otherwise.
    pub(super) fn edit_form(&self, variant: &product_variants::Model) -> VariantForm {
        match &self.refused_edit {
            Some((id, form, _)) if *id == variant.id => form.clone(),
            _ => VariantForm::from_model(variant),
        }
    }

    pub(super) fn edit_errors(&self, variant: &product_variants::Model) -> FieldErrors {
        match &self.refused_edit {
            Some((id, _, errors)) if *id == variant.id => errors.clone(),
            _ => FieldErrors::default(),
        }
    }
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
                ProductForm::from_model(&product),
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
                ProductForm::from_model(&product),
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
