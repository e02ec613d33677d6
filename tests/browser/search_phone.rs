//! Search on a small phone (360 × 640): the first result is on the first screen, the filters
//! fold into one "Bộ lọc" summary that counts the active filters, with JavaScript and without.

use crate::driver::{self, Browser, Setup};
use crate::support::TestApp;
use crate::world;

#[tokio::test]
async fn the_first_search_result_is_on_the_first_screen_of_a_small_phone_without_javascript() {
    journey(false, "vi").await;
}

#[tokio::test]
async fn the_first_search_result_is_on_the_first_screen_of_a_small_phone_with_javascript() {
    journey(true, "en").await;
}

async fn journey(javascript: bool, lang: &'static str) {
    let app = world::app().await;
    let admin = app.admin().await;
    let owner = app.user("a@htx.vn").await;
    let coop =
        world::verified_cooperative(&admin, &owner, "5100000001", "HTX Ong mật Gia Phú", "02923")
            .await;
    for name in ["Mật ong bạc hà Gia Phú", "Mật ong hoa ban", "Mật ong rừng"] {
        world::published_product(&owner, coop, name, 250_000).await;
    }
    world::wait_for_search(&app, "mat ong", 3).await;
    let Some(browser) = driver::open(
        &app.base,
        Setup::small_phone("search-phone", javascript, lang),
    )
    .await
    else {
        return;
    };
    browser
        .run(move |b| async move { walk(b, app).await })
        .await;
}

/// The bottom of the first result card's title, and the height of the screen, in CSS pixels.
async fn first_result_bottom(b: &Browser) -> (f64, f64) {
    let card = b.find(".results .grid .card h3").await;
    let (_, y, _, height) = card.rectangle().await.expect("the result's box");
    let metrics = b
        .cdp("Page.getLayoutMetrics", serde_json::json!({}))
        .await
        .expect("layout metrics");
    let screen = metrics["cssLayoutViewport"]["clientHeight"]
        .as_f64()
        .unwrap_or(0.0);
    (y + height, screen)
}

async fn walk(mut b: Browser, _app: TestApp) {
    let fold = world::t(b.setup.lang, "search.filters_fold");
    b.goto("/search?q=mat+ong").await;
    b.settle().await;
    let (bottom, screen) = first_result_bottom(&b).await;
    assert!(screen > 0.0 && screen <= 640.0, "a 640 px screen: {screen}");
    assert!(
        bottom <= screen,
        "the first result ends at {bottom} px, below the {screen} px screen"
    );
    // The filters are folded, under a summary that says so.
    let summary = b.find("details.filters-fold > summary").await;
    assert_eq!(summary.text().await.unwrap().trim(), fold);
    b.shot("search-folded").await;

    // Open, choose a province: the summary counts one active filter, still folded.
    summary.click().await.expect("open the filters");
    let facet = b.link_in("aside", "Lào Cai").await;
    b.click(facet).await;
    let summary = b.find("details.filters-fold > summary").await;
    assert_eq!(summary.text().await.unwrap().trim(), format!("{fold} (1)"));
    let (bottom, screen) = first_result_bottom(&b).await;
    assert!(bottom <= screen, "{bottom} > {screen} with a filter");
    b.shot("search-one-filter").await;
}
