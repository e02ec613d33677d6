//! A cooperative's workspace: its details and members, its products (forms, status, photos,
//! deletion) and OCOP certificates.

use askama::Template;
use axum::Router;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::AppState;
use crate::accounts::Authenticated;
use crate::catalog::access::{self, Membership};
use crate::catalog::certificates::{self, CertificateForm};
use crate::catalog::cooperatives::{self, CooperativeInput};
use crate::catalog::invitations;
use crate::catalog::products::{self, ProductForm};
use crate::catalog::stock::{self, StockAdjustmentForm, StockAdjustmentView};
use crate::catalog::views::{CertificateView, CooperativeView, ProductSummary};
use crate::catalog::{MemberRole, ProductStatus};
use crate::changes::Change;
use crate::clock::today_in_vietnam;
use crate::entities::cooperative_invitations;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::extract::{ApiPath, PageForm};
use crate::http::page::{PageContext, render, render_form_error, render_with_status};
use crate::media::{PhotoImage, PhotoOwner};
use crate::reference::{Category, CategoryGroup, Commune, Province, ReferenceData};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspace", get(workspace))
        .route(
            "/workspace/cooperatives/new",
            get(new_cooperative_page).post(new_cooperative_submit),
        )
        .route("/workspace/cooperatives/{id}", get(cooperative_workspace))
        .route(
            "/workspace/cooperatives/{id}/edit",
            get(edit_cooperative_page).post(edit_cooperative_submit),
        )
        .route(
            "/workspace/cooperatives/{id}/invitations",
            post(invite_submit),
        )
        .route(
            "/workspace/cooperatives/{id}/invitations/{invitation_id}/revoke",
            post(revoke_invitation_submit),
        )
        .route(
            "/workspace/cooperatives/{id}/products/new",
            get(new_product_page).post(new_product_submit),
        )
        .route(
            "/workspace/products/{id}",
            get(edit_product_page).post(edit_product_submit),
        )
        .route(
            "/workspace/products/{id}/status",
            post(product_status_submit),
        )
        .route("/workspace/products/{id}/stock", post(product_stock_submit))
        .route(
            "/workspace/products/{id}/photos",
            post(product_photo_submit)
                .layer(DefaultBodyLimit::max(crate::media::routes::MAX_UPLOAD_BODY)),
        )
        .route(
            "/workspace/products/{id}/delete",
            post(product_delete_submit),
        )
        .route(
            "/workspace/products/{id}/certificates/new",
            get(new_certificate_page).post(new_certificate_submit),
        )
}

#[derive(Template)]
#[template(path = "workspace/index.html")]
struct WorkspacePage {
    ctx: PageContext,
    memberships: Vec<(CooperativeView, MemberRole)>,
}

async fn workspace(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
) -> AppResult<Response> {
    let memberships = cooperatives::of_user(&state.db, &user)
        .await?
        .iter()
        .map(|m| {
            (
                CooperativeView::new(&m.cooperative, &state.reference),
                m.role,
            )
        })
        .collect();
    render(&WorkspacePage { ctx, memberships })
}

#[derive(Template)]
#[template(path = "workspace/cooperative_form.html")]
struct CooperativeFormPage {
    ctx: PageContext,
    /// `None` when creating.
    cooperative_id: Option<i64>,
    form: CooperativeInput,
    province_code: String,
    provinces: Vec<Province>,
    communes: Vec<Commune>,
    errors: FieldErrors,
}

#[derive(Debug, Default, Deserialize)]
struct CooperativePageForm {
    #[serde(flatten)]
    input: CooperativeInput,
    #[serde(default)]
    province_code: String,
    /// Set by the "show communes" button: re-render with the chosen province's communes.
    #[serde(default)]
    refresh: Option<String>,
}

fn cooperative_form(
    ctx: PageContext,
    reference: &ReferenceData,
    cooperative_id: Option<i64>,
    form: CooperativeInput,
    province_code: String,
    errors: FieldErrors,
) -> CooperativeFormPage {
    let province_code = if reference.province(&province_code).is_some() {
        province_code
    } else {
        reference
            .commune(form.commune_code.trim())
            .map(|c| c.province_code.clone())
            .unwrap_or_else(|| "15".to_owned())
    };
    CooperativeFormPage {
        ctx,
        cooperative_id,
        communes: reference.communes_of(&province_code).cloned().collect(),
        form,
        province_code,
        provinces: reference.provinces.clone(),
        errors,
    }
}

async fn new_cooperative_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(_): Authenticated,
) -> AppResult<Response> {
    render(&cooperative_form(
        ctx,
        &state.reference,
        None,
        CooperativeInput::default(),
        String::new(),
        FieldErrors::default(),
    ))
}

async fn new_cooperative_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    PageForm(form): PageForm<CooperativePageForm>,
) -> AppResult<Response> {
    if form.refresh.is_some() {
        return render(&cooperative_form(
            ctx,
            &state.reference,
            None,
            form.input,
            form.province_code,
            FieldErrors::default(),
        ));
    }
    let result = match form.input.parse(&state.reference) {
        Ok(details) => cooperatives::create(&state.db, &user, details).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(coop) => {
            Ok(Redirect::to(&format!("/workspace/cooperatives/{}", coop.id)).into_response())
        }
        Err(err) => render_form_error(err, |errors| {
            cooperative_form(
                ctx,
                &state.reference,
                None,
                form.input,
                form.province_code,
                errors,
            )
        }),
    }
}

#[derive(Template)]
#[template(path = "workspace/cooperative.html")]
struct CooperativeWorkspacePage {
    ctx: PageContext,
    cooperative: CooperativeView,
    status_reason: Option<String>,
    role: MemberRole,
    products: Vec<ProductSummary>,
    member_errors: FieldErrors,
    /// Open invitations (owner only), and the one just made with its code and link.
    invitations: Vec<cooperative_invitations::Model>,
    new_invitation: Option<(String, String)>,
}

async fn render_cooperative_workspace(
    state: &AppState,
    ctx: PageContext,
    membership: Membership,
    member_errors: FieldErrors,
    new_invitation: Option<(String, String)>,
    status: StatusCode,
) -> AppResult<Response> {
    let invitations = match membership.role {
        MemberRole::Owner => invitations::open_of(&state.db, membership.cooperative.id).await?,
        MemberRole::Staff => Vec::new(),
    };
    let today = today_in_vietnam();
    let products = products::of_cooperative(&state.db, &membership)
        .await?
        .iter()
        .map(|p| {
            ProductSummary::new(
                p,
                &membership.cooperative,
                &state.reference,
                ctx.lang,
                today,
            )
        })
        .collect();
    render_with_status(
        status,
        &CooperativeWorkspacePage {
            ctx,
            cooperative: CooperativeView::new(&membership.cooperative, &state.reference),
            status_reason: membership.cooperative.status_reason.clone(),
            role: membership.role,
            products,
            member_errors,
            invitations,
            new_invitation,
        },
    )
}

async fn cooperative_workspace(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    render_cooperative_workspace(
        &state,
        ctx,
        membership,
        FieldErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn edit_cooperative_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    membership.require_owner()?;
    render(&cooperative_form(
        ctx,
        &state.reference,
        Some(id),
        CooperativeInput::from_model(&membership.cooperative),
        membership.cooperative.province_code.clone(),
        FieldErrors::default(),
    ))
}

async fn edit_cooperative_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<CooperativePageForm>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    membership.require_owner()?;
    if form.refresh.is_some() {
        return render(&cooperative_form(
            ctx,
            &state.reference,
            Some(id),
            form.input,
            form.province_code,
            FieldErrors::default(),
        ));
    }
    let result = match form.input.parse(&state.reference) {
        Ok(details) => cooperatives::update(&state.db, &membership, details).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            state.changes.publish(&[Change::Cooperative(id)]).await;
            Ok(Redirect::to(&format!("/workspace/cooperatives/{id}")).into_response())
        }
        Err(err) => render_form_error(err, |errors| {
            cooperative_form(
                ctx,
                &state.reference,
                Some(id),
                form.input,
                form.province_code,
                errors,
            )
        }),
    }
}

#[derive(Debug, Default, Deserialize)]
struct InvitationForm {
    #[serde(default)]
    identifier: String,
}

/// Makes an invitation and shows the workspace again with its code and link (shown once).
async fn invite_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<InvitationForm>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    match invitations::invite(
        &state.db,
        &membership,
        &user,
        Some(form.identifier.as_str()),
    )
    .await
    {
        Ok(created) => {
            let link = format!("{}/invitations/{}", state.config.public_url, created.code);
            render_cooperative_workspace(
                &state,
                ctx,
                membership,
                FieldErrors::default(),
                Some((created.code, link)),
                StatusCode::CREATED,
            )
            .await
        }
        Err(err) => match err.into_form_errors() {
            Ok((status, errors)) => {
                render_cooperative_workspace(&state, ctx, membership, errors, None, status).await
            }
            Err(other) => Err(other),
        },
    }
}

async fn revoke_invitation_submit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath((id, invitation_id)): ApiPath<(i64, i64)>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    invitations::revoke(&state.db, &membership, invitation_id).await?;
    Ok(Redirect::to(&format!("/workspace/cooperatives/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "workspace/product_form.html")]
pub(super) struct ProductFormPage {
    ctx: PageContext,
    cooperative: CooperativeView,
    /// `None` when creating.
    product: Option<ProductSummary>,
    certificates: Vec<CertificateView>,
    /// The product's batches: id and lot code.
    batches: Vec<(i64, String)>,
    /// The product's photos in display order: id and image.
    photos: Vec<(i64, PhotoImage)>,
    form: ProductForm,
    /// Where the product's GTIN claim stands (`owned`, `pending`, `disputed`, `refused`).
    gtin_status: Option<String>,
    groups: Vec<CategoryGroup>,
    errors: FieldErrors,
    /// The stock and its adjustment form; `None` when creating (the form has a stock field).
    stock: Option<StockSection>,
    /// The sizes it is sold in, and the form to add one; `None` when creating.
    pub(super) variants: Option<VariantSection>,
}

/// A product's variants on its workspace page, with the add form (and its errors) and the
/// errors of a refused edit.
pub(super) struct VariantSection {
    pub(super) variants: Vec<crate::entities::product_variants::Model>,
    pub(super) form: crate::catalog::variants::VariantForm,
    pub(super) errors: FieldErrors,
    /// The variant whose edit was refused, with its form as typed and errors.
    pub(super) refused_edit: Option<(i64, crate::catalog::variants::VariantForm, FieldErrors)>,
}

impl VariantSection {
    pub(super) fn new(variants: Vec<crate::entities::product_variants::Model>) -> Self {
        Self {
            variants,
            form: crate::catalog::variants::VariantForm::default(),
            errors: FieldErrors::default(),
            refused_edit: None,
        }
    }

    /// The edit form of a variant: as typed when its edit was refused, as stored otherwise.
    pub(super) fn edit_form(
        &self,
        variant: &crate::entities::product_variants::Model,
    ) -> crate::catalog::variants::VariantForm {
        match &self.refused_edit {
            Some((id, form, _)) if *id == variant.id => form.clone(),
            _ => crate::catalog::variants::VariantForm::from_model(variant),
        }
    }

    pub(super) fn edit_errors(
        &self,
        variant: &crate::entities::product_variants::Model,
    ) -> FieldErrors {
        match &self.refused_edit {
            Some((id, _, errors)) if *id == variant.id => errors.clone(),
            _ => FieldErrors::default(),
        }
    }
}

/// A product's stock, changed only by adjustments.
pub(super) struct StockSection {
    quantity: i64,
    form: StockAdjustmentForm,
    errors: FieldErrors,
    recent: Vec<StockAdjustmentView>,
}

impl ProductFormPage {
    fn is_category(&self, category: &Category) -> bool {
        self.form.category_code == category.code
    }
}

async fn new_product_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    render(&ProductFormPage {
        ctx,
        cooperative: CooperativeView::new(&membership.cooperative, &state.reference),
        product: None,
        certificates: Vec::new(),
        batches: Vec::new(),
        photos: Vec::new(),
        form: ProductForm::default(),
        gtin_status: None,
        groups: state.reference.groups.clone(),
        errors: FieldErrors::default(),
        stock: None,
        variants: None,
    })
}

async fn new_product_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<ProductForm>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    let result = match form.parse(&state.reference) {
        Ok(details) => products::create(&state.db, &membership, details).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(product) => {
            Ok(Redirect::to(&format!("/workspace/products/{}", product.id)).into_response())
        }
        Err(err) => render_form_error(err, |errors| ProductFormPage {
            ctx,
            cooperative: CooperativeView::new(&membership.cooperative, &state.reference),
            product: None,
            certificates: Vec::new(),
            batches: Vec::new(),
            photos: Vec::new(),
            form,
            gtin_status: None,
            groups: state.reference.groups.clone(),
            errors,
            stock: None,
            variants: None,
        }),
    }
}

pub(super) async fn product_form_page(
    state: &AppState,
    ctx: PageContext,
    product: &crate::entities::products::Model,
    membership: &Membership,
    mut form: ProductForm,
    errors: FieldErrors,
) -> AppResult<ProductFormPage> {
    let variants = crate::catalog::variants::of_product(&state.db, product.id).await?;
    if form.weight_grams.is_empty()
        && let Some(first) = variants.first()
    {
        form.weight_grams = first.weight_grams.to_string();
    }
    let today = today_in_vietnam();
    let certificates = certificates::of_product(&state.db, product.id)
        .await?
        .iter()
        .map(|c| CertificateView::new(c, today))
        .collect();
    let batches = crate::trace::batches::of_product(&state.db, product.id)
        .await?
        .into_iter()
        .map(|b| (b.id, b.lot_code))
        .collect();
    let photos = crate::media::ordered(&state.db, PhotoOwner::Product(product.id))
        .await?
        .iter()
        .map(|p| (p.id, PhotoImage::of(p)))
        .collect();
    Ok(ProductFormPage {
        batches,
        photos,
        product: Some(ProductSummary::new(
            product,
            &membership.cooperative,
            &state.reference,
            ctx.lang,
            today,
        )),
        ctx,
        cooperative: CooperativeView::new(&membership.cooperative, &state.reference),
        certificates,
        form,
        gtin_status: variants.first().and_then(|v| v.gtin_status.clone()),
        groups: state.reference.groups.clone(),
        errors,
        stock: Some(StockSection {
            quantity: product.stock_quantity,
            form: StockAdjustmentForm::default(),
            errors: FieldErrors::default(),
            recent: stock::recent(&state.db, product.id, 10).await?,
        }),
        variants: Some(VariantSection::new(variants)),
    })
}

async fn edit_product_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let form = ProductForm::of_product(&state.db, &product).await?;
    render(
        &product_form_page(
            &state,
            ctx,
            &product,
            &membership,
            form,
            FieldErrors::default(),
        )
        .await?,
    )
}

async fn edit_product_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<ProductForm>,
) -> AppResult<Response> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let result = match form.parse(&state.reference) {
        Ok(details) => {
            products::update(&state.db, product.clone(), &membership.cooperative, details).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            state.changes.publish(&[Change::Product(id)]).await;
            Ok(Redirect::to(&format!("/workspace/products/{id}")).into_response())
        }
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            let page = product_form_page(&state, ctx, &product, &membership, form, errors).await?;
            render_with_status(status, &page)
        }
    }
}

/// A stock adjustment from the product's page: applied, or shown again with its errors beside
/// the fields.
async fn product_stock_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<StockAdjustmentForm>,
) -> AppResult<Response> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let result = match form.parse() {
        Ok(change) => stock::adjust(&state.db, id, change, user.id).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            state.changes.publish(&[Change::Product(id)]).await;
            Ok(Redirect::to(&format!("/workspace/products/{id}#stock")).into_response())
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
            if let Some(section) = page.stock.as_mut() {
                section.form = form;
                section.errors = errors;
            }
            render_with_status(status, &page)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
}

async fn product_status_submit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<StatusForm>,
) -> AppResult<Response> {
    let (product, _) = access::managed_product(&state.db, &user, id).await?;
    let status = ProductStatus::parse(&form.status)
        .ok_or_else(|| AppError::bad_request("invalid_status", "draft, published or archived"))?;
    products::set_status(&state.db, product, status).await?;
    state.changes.publish(&[Change::Product(id)]).await;
    Ok(Redirect::to(&format!("/workspace/products/{id}")).into_response())
}

/// Adds a photo from the product page's upload form (multipart, works without JavaScript).
/// A refused file shows its reason beside the file field.
async fn product_photo_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let added = crate::media::routes::receive(
        &state,
        &user,
        membership.cooperative.id,
        PhotoOwner::Product(product.id),
        multipart,
    )
    .await
    .map(|_| ());
    match added {
        Ok(()) => Ok(Redirect::to(&format!("/workspace/products/{id}#photos")).into_response()),
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            let form = ProductForm::of_product(&state.db, &product).await?;
            let page = product_form_page(&state, ctx, &product, &membership, form, errors).await?;
            render_with_status(status, &page)
        }
    }
}

/// Deletes a product that was never sold nor stamped (otherwise: archive it), with its photos.
async fn product_delete_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let cooperative_id = membership.cooperative.id;
    match products::delete(&state.db, &state.photos, product.clone()).await {
        Ok(()) => {
            state.changes.publish(&[Change::Product(id)]).await;
            Ok(Redirect::to(&format!("/workspace/cooperatives/{cooperative_id}")).into_response())
        }
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            let form = ProductForm::of_product(&state.db, &product).await?;
            let page = product_form_page(&state, ctx, &product, &membership, form, errors).await?;
            render_with_status(status, &page)
        }
    }
}

#[derive(Template)]
#[template(path = "workspace/certificate_form.html")]
struct CertificateFormPage {
    ctx: PageContext,
    product: ProductSummary,
    form: CertificateForm,
    errors: FieldErrors,
}

async fn new_certificate_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let product = ProductSummary::new(
        &product,
        &membership.cooperative,
        &state.reference,
        ctx.lang,
        today_in_vietnam(),
    );
    render(&CertificateFormPage {
        ctx,
        product,
        form: CertificateForm {
            issuing_level: "province".to_owned(),
            stars: "3".to_owned(),
            ..Default::default()
        },
        errors: FieldErrors::default(),
    })
}

async fn new_certificate_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<CertificateForm>,
) -> AppResult<Response> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let result = match form.parse() {
        Ok(details) => certificates::record(&state.db, &membership, &product, details).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/workspace/products/{id}")).into_response()),
        Err(err) => {
            let summary = ProductSummary::new(
                &product,
                &membership.cooperative,
                &state.reference,
                ctx.lang,
                today_in_vietnam(),
            );
            render_form_error(err, |errors| CertificateFormPage {
                ctx,
                product: summary,
                form,
                errors,
            })
        }
    }
}
