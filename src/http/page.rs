//! What every HTML page needs: the visitor's language and messages, the logged-in user, and
//! the current path (for the language switch and the login redirect).

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::AppState;
use crate::accounts::{CurrentUser, Viewer};
use crate::error::{AppError, FieldErrors};
use crate::i18n::{Lang, Messages, lang_of};

#[derive(Debug, Clone)]
pub struct PageContext {
    pub lang: Lang,
    pub t: &'static Messages,
    pub user: Option<CurrentUser>,
    /// Path and query of the current page, used as the `next` of language links.
    pub path: String,
    pub css: &'static str,
    pub js_path: &'static str,
    pub search_js_path: &'static str,
    pub icon_path: &'static str,
}

impl PageContext {
    /// A context for pages rendered outside a handler (error pages from middleware).
    pub fn anonymous(lang: Lang, path: String) -> Self {
        Self {
            lang,
            t: lang.messages(),
            user: None,
            path,
            css: super::assets::CSS,
            js_path: super::assets::js_path(),
            search_js_path: super::assets::search_js_path(),
            icon_path: super::assets::icon_path(),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_admin)
    }

    /// The other language, for the switch link.
    pub fn other_lang(&self) -> Lang {
        match self.lang {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    /// The path to switch language and come back here.
    pub fn lang_switch_href(&self) -> String {
        format!(
            "/lang/{}?next={}",
            self.other_lang().code(),
            urlencode(&self.path)
        )
    }

    /// The translated explanation of a field error, if the field has one.
    pub fn field_error(&self, errors: &FieldErrors, field: &str) -> Option<&'static str> {
        errors.code_for(field).map(|code| self.t.field_error(code))
    }
}

impl FromRequestParts<AppState> for PageContext {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Viewer(user) = Viewer::from_request_parts(parts, state).await?;
        let lang = lang_of(&parts.headers);
        let path = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        Ok(Self {
            lang,
            t: lang.messages(),
            user,
            path,
            css: super::assets::CSS,
            js_path: super::assets::js_path(),
            search_js_path: super::assets::search_js_path(),
            icon_path: super::assets::icon_path(),
        })
    }
}

/// Renders a template into an HTML response.
pub fn render(template: &impl Template) -> Result<Response, AppError> {
    template
        .render()
        .map(|html| Html(html).into_response())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template rendering failed: {e}")))
}

/// Renders a template with a status other than 200 (a form with errors answers 422).
pub fn render_with_status(
    status: axum::http::StatusCode,
    template: &impl Template,
) -> Result<Response, AppError> {
    let mut response = render(template)?;
    *response.status_mut() = status;
    Ok(response)
}

/// Answers a failed form submission: the form again with its errors beside the fields (422, or
/// 409 for a conflict on one field); any other error passes through.
pub fn render_form_error<T: Template>(
    err: AppError,
    page: impl FnOnce(FieldErrors) -> T,
) -> Result<Response, AppError> {
    let (status, errors) = err.into_form_errors()?;
    render_with_status(status, &page(errors))
}

/// Characters left as they are in a query value: RFC 3986's unreserved set, plus `/` (the
/// values are mostly paths, which stay readable).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes a value for a query string.
pub fn urlencode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// A redirect target from a `next` parameter, kept on this site: only local absolute paths
/// are followed, so a link cannot send people elsewhere. The check is made on the value and on
/// its percent-decoded form, because browsers drop TAB, CR and LF from URLs and read `\` as
/// `/`: `/%09/evil.example`, `/\evil.example` and `/%2F%2Fevil.example` all lead off-site.
pub fn local_redirect_target(next: Option<&str>) -> &str {
    match next {
        Some(path) if is_site_path(path) => path,
        _ => "/",
    }
}

fn is_site_path(path: &str) -> bool {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    [path, decoded.as_ref()].iter().all(|candidate| {
        candidate.starts_with('/')
            && !candidate.starts_with("//")
            && !candidate.contains('\\')
            && !candidate.chars().any(char::is_control)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_this_site() {
        assert_eq!(
            local_redirect_target(Some("/products?page=2")),
            "/products?page=2"
        );
        assert_eq!(local_redirect_target(Some("//evil.example")), "/");
        assert_eq!(local_redirect_target(Some("https://evil.example")), "/");
        assert_eq!(local_redirect_target(Some("/\\evil.example")), "/");
        assert_eq!(local_redirect_target(None), "/");
        for off_site in [
            "/%09/evil.example",
            "/\t/evil.example",
            "/%0d%0a/evil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "/\\evil.example",
            "evil.example",
        ] {
            assert_eq!(local_redirect_target(Some(off_site)), "/", "{off_site:?}");
        }
        assert_eq!(
            local_redirect_target(Some("/search?q=m%E1%BA%ADt%20ong")),
            "/search?q=m%E1%BA%ADt%20ong"
        );
    }
}
