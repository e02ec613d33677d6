//! The shopper: home → search "mat ong" → a facet → product → cart with products of two
//! cooperatives → checkout (province, then commune) → VietQR payment page → the bank's
//! notification arrives → the page shows the payment → order page.

use std::time::{Duration, Instant};

use ocop_market::entities::{orders, payments, products};
use ocop_market::i18n::Lang;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::driver::{self, Browser, Setup};
use crate::support::TestApp;
use crate::world::{self, t};

const HONEY_A: &str = "Mật ong bạc hà Gia Phú";
const HONEY_B: &str = "Mật ong hoa ban Mộc Châu";
const COOP_A: &str = "HTX Ong mật Gia Phú";
const COOP_B: &str = "HTX Nông sản Mộc Châu";

#[tokio::test]
async fn a_shopper_buys_from_two_cooperatives_and_pays_by_vietqr_in_vietnamese_with_javascript() {
    journey(true, "vi").await;
}

#[tokio::test]
async fn a_shopper_buys_from_two_cooperatives_and_pays_by_vietqr_in_vietnamese_without_javascript()
{
    journey(false, "vi").await;
}

#[tokio::test]
async fn a_shopper_buys_from_two_cooperatives_and_pays_by_vietqr_in_english_with_javascript() {
    journey(true, "en").await;
}

#[tokio::test]
async fn a_shopper_buys_from_two_cooperatives_and_pays_by_vietqr_in_english_without_javascript() {
    journey(false, "en").await;
}

struct Shop {
    product_a: i64,
    product_b: i64,
    shopper_id: i64,
}

/// Two verified cooperatives, one in Lào Cai and one in Sơn La, each selling a honey.
async fn shop(app: &TestApp) -> Shop {
    let admin = app.admin().await;
    let owner_a = app.user("a@htx.vn").await;
    let owner_b = app.user("b@htx.vn").await;
    let coop_a = world::verified_cooperative(&admin, &owner_a, "5100000001", COOP_A, "02923").await;
    let coop_b = world::verified_cooperative(&admin, &owner_b, "5100000002", COOP_B, "03980").await;
    let product_a = world::published_product(&owner_a, coop_a, HONEY_A, 250_000).await;
    let product_b = world::published_product(&owner_b, coop_b, HONEY_B, 180_000).await;
    let shopper = app.user("lan@example.vn").await;
    world::wait_for_search(app, "mat ong", 2).await;
    Shop {
        product_a,
        product_b,
        shopper_id: shopper.id,
    }
}

async fn journey(javascript: bool, lang: &'static str) {
    let app = world::app().await;
    let shop = shop(&app).await;
    let Some(browser) = driver::open(&app.base, Setup::phone("shopper", javascript, lang)).await
    else {
        return;
    };
    browser
        .run(move |b| async move { walk(b, app, shop).await })
        .await;
}

async fn walk(mut b: Browser, app: TestApp, shop: Shop) {
    let lang = b.setup.lang;
    let messages = Lang::parse(lang).unwrap().messages();

    world::log_in(&mut b, "lan@example.vn").await;
    b.goto("/").await;
    b.assert_javascript_state().await;
    assert_eq!(b.page_lang().await, lang);
    b.sees(match lang {
        "vi" => "Sản phẩm OCOP từ tận nơi làm ra",
        _ => "OCOP products from where they are made",
    })
    .await;
    b.shot("home").await;

    // The first honey: search, narrow to Lào Cai, open it, put two in the cart.
    search_for_honey(&mut b).await;
    b.sees(&messages.format("search.results_for", &[("count", "2"), ("q", "mat ong")]))
        .await;
    b.sees(HONEY_A).await;
    b.sees(HONEY_B).await;
    b.shot("search").await;
    open_filters(&b).await;
    let facet = b.link_in("aside", "Lào Cai").await;
    b.click(facet).await;
    b.sees(&messages.format("search.results_for", &[("count", "1"), ("q", "mat ong")]))
        .await;
    b.does_not_see(HONEY_B).await;
    assert!(b.path().await.contains("province=15"), "{}", b.path().await);
    b.shot("facet-lao-cai").await;
    let product = b.link(HONEY_A).await;
    b.click(product).await;
    b.sees(COOP_A).await;
    b.sees("250.000").await;
    b.shot("product").await;
    b.fill("quantity", "2").await;
    b.click_button(t(lang, "cart.add")).await;
    assert_eq!(b.path().await, "/cart");
    b.sees(HONEY_A).await;
    b.shot("cart-one-cooperative").await;

    // The second honey, from another cooperative in another province.
    search_for_honey(&mut b).await;
    open_filters(&b).await;
    let facet = b.link_in("aside", "Sơn La").await;
    b.click(facet).await;
    b.does_not_see(HONEY_A).await;
    let product = b.link(HONEY_B).await;
    b.click(product).await;
    b.sees(COOP_B).await;
    b.shot("second-product").await;
    b.click_button(t(lang, "cart.add")).await;

    // One cart, two cooperatives, a delivery fee each.
    let groups = b.find_all("main section.card h2").await;
    let mut names = Vec::new();
    for g in groups {
        names.push(g.text().await.unwrap());
    }
    names.sort();
    let mut expected = [COOP_A, COOP_B];
    expected.sort();
    assert_eq!(names, expected, "one group per cooperative");
    b.sees("740.000").await; // 2 × 250.000 + 180.000 + 2 × 30.000 delivery
    b.shot("cart-two-cooperatives").await;

    // Checkout: the province first (a plain GET form), then its communes.
    b.click_link(t(lang, "cart.checkout")).await;
    b.sees(t(lang, "checkout.title")).await;
    b.select("province_pick", "14").await;
    b.shot("checkout-province").await;
    b.click_button(t(lang, "checkout.choose_province")).await;
    assert!(b.path().await.contains("province=14"));
    b.select("commune_code", "03980").await;
    b.fill("street", "Tiểu khu 4").await;
    b.fill("recipient_name", "Nguyễn Thị Lan").await;
    b.fill("recipient_phone", "0912 345 678").await;
    b.shot("checkout-address").await;
    b.click_button(t(lang, "checkout.submit")).await;

    // The VietQR page: a QR code, the amount and the reference to type by hand.
    assert!(
        b.path().await.starts_with("/payments/"),
        "{}",
        b.path().await
    );
    b.sees(t(lang, "payment.status_pending")).await;
    b.find("figure.qr svg").await;
    let payment = payments::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .expect("the checkout made a payment");
    assert_eq!(payment.status, "pending");
    assert_eq!(payment.amount_vnd, 740_000);
    assert_eq!(payment.buyer_user_id, Some(shop.shopper_id));
    b.sees(&payment.reference).await;
    let placed = orders::Entity::find()
        .filter(orders::Column::PaymentId.eq(payment.id))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(placed.len(), 2, "one order per cooperative");
    assert!(placed.iter().all(|o| o.status == "pending_payment"
        && o.commune_code == "03980"
        && o.recipient_name == "Nguyễn Thị Lan"));
    assert_eq!(stock(&app, shop.product_a).await, 38, "stock is held");
    assert_eq!(stock(&app, shop.product_b).await, 39);
    b.shot("payment-pending").await;

    // The bank tells the shop the transfer arrived.
    world::bank_notification(
        &app,
        "FT25330BROWSER",
        payment.amount_vnd,
        &format!("NGUYEN THI LAN CHUYEN TIEN {}", payment.reference),
    )
    .await;
    let paid = t(lang, "payment.status_paid");
    if b.setup.javascript {
        // app.js polls the payment and reloads the page: no tap needed.
        let deadline = Instant::now() + Duration::from_secs(12);
        while !b.text().await.contains(paid) {
            assert!(
                Instant::now() < deadline,
                "the payment page did not notice the payment by itself"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    } else {
        b.click_link(t(lang, "payment.refresh")).await;
    }
    b.sees(paid).await;
    b.shot("payment-paid").await;
    let placed = orders::Entity::find()
        .filter(orders::Column::PaymentId.eq(payment.id))
        .all(app.db())
        .await
        .unwrap();
    assert!(placed.iter().all(|o| o.status == "paid"), "{placed:?}");

    // The order page, from the payment page.
    let first = placed.iter().min_by_key(|o| o.id).unwrap();
    let link = b
        .find(&format!("main a[href=\"/orders/{}\"]", first.id))
        .await;
    b.click(link).await;
    assert_eq!(b.path().await, format!("/orders/{}", first.id));
    b.sees(t(lang, "order.status_paid")).await;
    b.sees("Tiểu khu 4").await;
    assert_eq!(b.page_lang().await, lang);
    b.shot("order").await;
}

/// Types "mat ong" (no diacritics, as on a phone keyboard without Vietnamese input) into the
/// search box of the header and submits it.
async fn search_for_honey(b: &mut Browser) {
    b.fill("top-q", "mat ong").await;
    let submit = b.find("form.search-box button[type=submit]").await;
    b.click(submit).await;
    assert!(b.path().await.starts_with("/search?"), "{}", b.path().await);
}

async fn stock(app: &TestApp, product: i64) -> i64 {
    products::Entity::find_by_id(product)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .stock_quantity
}

/// Opens the search filters, folded on a phone.
async fn open_filters(b: &Browser) {
    let summary = b.find("details.filters-fold > summary").await;
    summary.click().await.expect("open the filters");
}
