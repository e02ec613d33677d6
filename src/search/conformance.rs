//! Backend-neutral conformance suite for [`SearchIndex`] implementations.
//!
//! It seeds a fixed set of realistic OCOP products of Lào Cai and Sơn La through the trait,
//! then checks the contract documented in [`super::model`]: folding, typos, prefixes,
//! synonyms, ranking, every filter, disjunctive facet counts (against a reference computed
//! here from the documents), sorting, paging, highlighting, suggestions, deletes and upserts.
//!
//! Run it from a test against a fresh, empty index built with
//! [`super::model::DEFAULT_SYNONYMS`]:
//!
//! ```ignore
//! #[tokio::test]
//! async fn embedded_index_conforms() {
//!     let index = EmbeddedIndex::in_memory(DEFAULT_SYNONYMS).unwrap();
//!     conformance::run_all(&index).await;
//! }
//! ```
//!
//! [`run_all`] panics with every failed check listed; [`run`] returns them instead. The
//! suite changes the index (it deletes and renames products at the end), so give it an index
//! of its own.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use super::model::{
    FacetCount, Facets, MAX_FACET_VALUES, PRICE_RANGES, SearchDocument, SearchIndex, SearchQuery,
    SearchResults, SearchSort, has_valid_stars, price_range_index,
};

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or(NaiveDate::MIN)
}

/// The day the suite's queries check certificates against.
pub fn today() -> NaiveDate {
    date(2026, 6, 1)
}

/// A cooperative of the fixed set: id, name, commune code.
#[rustfmt::skip]
const COOPERATIVES: [(i64, &str, &str); 15] = [
    (1, "Hợp tác xã Nông nghiệp Gia Phú", "02923"),
    (2, "Hợp tác xã Ong mật Bắc Hà", "02839"),
    (3, "Hợp tác xã Chè Shan tuyết Tả Củ Tỷ", "02842"),
    (4, "Hợp tác xã Nông lâm sản Y Tý", "02701"),
    (5, "Hợp tác xã Dịch vụ Nông nghiệp Mường Khương", "02761"),
    (6, "Hợp tác xã Dệt thổ cẩm Nghĩa Đô", "02953"),
    (7, "Hợp tác xã Quế Dương Quỳ", "03106"),
    (8, "Hợp tác xã Du lịch cộng đồng Sa Pa", "03006"),
    (9, "Hợp tác xã Chè Mộc Châu", "03980"),
    (10, "Hợp tác xã Mận hậu Thảo Nguyên", "03982"),
    (11, "Hợp tác xã Cà phê Thuận Châu", "03721"),
    (12, "Hợp tác xã Mía đường Mai Sơn", "04105"),
    (13, "Hợp tác xã Chè cổ thụ Tà Xùa", "03868"),
    (14, "Hợp tác xã Nông sản Cam Đường", "02674"),
    (15, "Hợp tác xã Nông sản Sa Pa", "03006"),
];

/// Commune code, commune name, province code, province name.
#[rustfmt::skip]
const COMMUNES: [(&str, &str, &str, &str); 14] = [
    ("02923", "Xã Gia Phú", "15", "Tỉnh Lào Cai"),
    ("02839", "Xã Bắc Hà", "15", "Tỉnh Lào Cai"),
    ("02842", "Xã Tả Củ Tỷ", "15", "Tỉnh Lào Cai"),
    ("02701", "Xã Y Tý", "15", "Tỉnh Lào Cai"),
    ("02761", "Xã Mường Khương", "15", "Tỉnh Lào Cai"),
    ("02953", "Xã Nghĩa Đô", "15", "Tỉnh Lào Cai"),
    ("03106", "Xã Dương Quỳ", "15", "Tỉnh Lào Cai"),
    ("03006", "Phường Sa Pa", "15", "Tỉnh Lào Cai"),
    ("02674", "Phường Cam Đường", "15", "Tỉnh Lào Cai"),
    ("03980", "Phường Mộc Châu", "14", "Tỉnh Sơn La"),
    ("03982", "Phường Thảo Nguyên", "14", "Tỉnh Sơn La"),
    ("03721", "Xã Thuận Châu", "14", "Tỉnh Sơn La"),
    ("04105", "Xã Mai Sơn", "14", "Tỉnh Sơn La"),
    ("03868", "Xã Tà Xùa", "14", "Tỉnh Sơn La"),
];

/// Category code, group code, Vietnamese name, English name.
#[rustfmt::skip]
const CATEGORIES: [(&str, &str, &str, &str); 11] = [
    ("food-fresh", "food", "Thực phẩm tươi sống", "Fresh produce"),
    ("food-raw", "food", "Thực phẩm thô, sơ chế", "Raw and semi-processed food"),
    ("food-processed", "food", "Thực phẩm chế biến", "Processed food"),
    ("food-spice", "food", "Gia vị", "Spices and condiments"),
    ("food-tea", "food", "Chè", "Tea"),
    ("food-coffee-cocoa", "food", "Cà phê, ca cao", "Coffee and cocoa"),
    ("beverage-alcoholic", "beverage", "Đồ uống có cồn", "Alcoholic beverages"),
    ("herbal-health", "herbal", "Thực phẩm chức năng, thuốc từ dược liệu", "Herbal health products and remedies"),
    ("herbal-other", "herbal", "Sản phẩm khác từ thảo dược", "Other herbal products"),
    ("textile-fabric", "textile", "Vải, thổ cẩm", "Fabrics and brocade"),
    ("tourism-community", "tourism", "Du lịch cộng đồng, điểm du lịch", "Community tourism and destinations"),
];

/// Additional categories the suite uses.
#[rustfmt::skip]
const MORE_CATEGORIES: [(&str, &str, &str, &str); 2] = [
    ("textile-garment", "textile", "May mặc", "Garments"),
    ("herbal-cosmetic", "herbal", "Mỹ phẩm từ thảo dược", "Herbal cosmetics"),
];

/// One product row: id, name, category, cooperative, price, stars, certificate end,
/// in stock, sold, days since publication (all distinct), description.
type Row = (
    i64,
    &'static str,
    &'static str,
    i64,
    i64,
    Option<i16>,
    Option<(i32, u32, u32)>,
    bool,
    i64,
    i64,
    &'static str,
);

#[rustfmt::skip]
const PRODUCTS: [Row; 43] = [
    (101, "Mật ong bạc hà Bắc Hà", "food-processed", 2, 320_000, Some(4), Some((2028, 10, 1)), true, 540, 200, "Mật ong được khai thác vào mùa hoa bạc hà dại nở tím đồi từ tháng 10 đến tháng 12. Mật sánh, màu hổ phách, thơm mùi bạc hà."),
    (102, "Mật ong hoa rừng Bắc Hà", "food-processed", 2, 450_000, Some(3), Some((2027, 3, 1)), true, 210, 150, "Mật ong từ các đàn ong đặt ven rừng, lấy mật của nhiều loài hoa dại trong năm."),
    (103, "Mật ong rừng Y Tý", "food-processed", 4, 380_000, Some(3), Some((2027, 12, 31)), true, 210, 91, "Mật ong được khai thác từ các đàn ong khoái làm tổ trên cây rừng, thu hoạch một lần mỗi năm."),
    (104, "Mật ong hoa nhãn Gia Phú", "food-processed", 1, 220_000, Some(3), Some((2028, 12, 15)), false, 95, 60, "Mật ong được lấy từ các đàn ong nuôi trong vườn nhãn vào mùa hoa tháng 3 và tháng 4."),
    (105, "Mật ong hoa cà phê Thuận Châu", "food-processed", 11, 230_000, None, None, true, 30, 20, "Mật ong thu vào mùa hoa cà phê nở trắng tháng 2, tháng 3. Màu nâu nhạt, thơm hoa cà phê."),
    (106, "Phấn hoa ong Gia Phú", "herbal-health", 1, 150_000, Some(3), Some((2028, 12, 15)), true, 40, 300, "Phấn hoa được thu bằng cửa hứng đặt ở tổ ong, sau đó sấy nhẹ và sàng sạch tạp chất."),
    (107, "Mứt mận hậu Mộc Châu", "food-processed", 10, 70_000, Some(3), Some((2027, 6, 30)), true, 120, 45, "Mận hậu chín được sên với đường đến khi dẻo trong. Dùng ăn kèm trà hoặc bày mâm ngũ quả ngày Tết."),
    (108, "Chè Shan tuyết Tả Củ Tỷ", "food-tea", 3, 180_000, Some(4), Some((2027, 9, 30)), true, 420, 400, "Búp chè Shan tuyết hái từ những cây chè lâu năm mọc trên núi cao, sao tay bằng chảo gang."),
    (109, "Hồng trà Shan tuyết Tả Củ Tỷ", "food-tea", 3, 250_000, Some(3), Some((2027, 9, 30)), true, 80, 120, "Búp chè được làm héo, vò và lên men hoàn toàn trước khi sấy khô. Nước trà màu đỏ hổ phách."),
    (110, "Chè Shan tuyết cổ thụ Tà Xùa", "food-tea", 13, 380_000, Some(5), Some((2028, 4, 1)), true, 150, 250, "Búp chè được hái từ những cây chè Shan tuyết cổ thụ phủ rêu, sống giữa mây núi Tà Xùa."),
    (111, "Trà Shan tuyết túi lọc Mộc Châu", "food-tea", 9, 75_000, Some(4), Some((2025, 12, 31)), true, 600, 500, "Chè Shan tuyết nghiền vụn và đóng túi lọc tiện dụng cho văn phòng. Chứng nhận OCOP đã hết hạn."),
    (112, "Chè xanh Mộc Châu", "food-tea", 9, 150_000, Some(3), Some((2026, 6, 1)), true, 300, 100, "Chè xanh sao sấy từ búp chè hái trên đồi chè trái tim Mộc Châu. Nước xanh, vị chát vừa."),
    (113, "Chè Ô long Mộc Châu", "food-tea", 9, 280_000, Some(4), Some((2028, 1, 1)), false, 90, 30, "Búp chè Ô long được làm héo, lắc và lên men một phần rồi vò viên."),
    (114, "Đường phèn hoa mía Mai Sơn", "food-processed", 12, 60_000, Some(3), Some((2027, 5, 5)), true, 75, 70, "Nước mía được nấu cô đặc và kết tinh chậm thành viên đường phèn vàng trong."),
    (115, "Đường phèn nguyên khối Mai Sơn", "food-processed", 12, 85_000, None, None, true, 20, 10, "Khối đường phèn kết tinh tự nhiên trên sợi chỉ, ngọt thanh, dùng ngâm quả hoặc nấu chè."),
    (116, "Quế ống Dương Quỳ", "food-spice", 7, 90_000, Some(4), Some((2028, 2, 2)), true, 310, 220, "Vỏ quế được bóc vào mùa quế ra nhựa, cuộn ống tự nhiên và phơi khô."),
    (117, "Tinh dầu quế Dương Quỳ", "herbal-other", 7, 150_000, Some(3), Some((2028, 2, 2)), true, 500, 110, "Tinh dầu được chưng cất từ lá và cành quế tươi, lọc và lắng tự nhiên."),
    (118, "Gạo Séng Cù Mường Khương", "food-raw", 5, 150_000, Some(4), Some((2027, 8, 8)), true, 800, 365, "Séng Cù là giống lúa đặc sản, hạt gạo dài, trắng trong. Cơm dẻo, thơm và vẫn mềm khi để nguội."),
    (119, "Gạo lứt Séng Cù Mường Khương", "food-raw", 5, 90_000, Some(3), Some((2027, 8, 8)), true, 120, 201, "Gạo Séng Cù chỉ xay bỏ vỏ trấu, giữ nguyên lớp cám giàu chất xơ."),
    (120, "Bánh gạo Séng Cù", "food-processed", 5, 45_000, Some(3), Some((2027, 8, 8)), true, 60, 180, "Bánh được nén từ gạo Séng Cù và nướng giòn, vị mặn ngọt nhẹ."),
    (121, "Tương ớt Mường Khương", "food-spice", 5, 55_000, Some(3), Some((2027, 8, 8)), true, 260, 330, "Ớt chỉ thiên chín đỏ được xay cùng tỏi, muối và ủ chín tự nhiên trong chum sành."),
    (122, "Gạo đỏ Y Tý", "food-raw", 4, 110_000, Some(3), Some((2027, 1, 1)), false, 50, 140, "Gạo đỏ được trồng trên ruộng bậc thang của người Hà Nhì, mỗi năm một vụ."),
    (123, "Thảo quả khô Y Tý", "food-spice", 4, 180_000, Some(3), Some((2027, 1, 1)), true, 140, 230, "Thảo quả được trồng dưới tán rừng già, thu hái khi chín đỏ và sấy khô trên lò củi."),
    (124, "Rượu thảo quả Y Tý", "beverage-alcoholic", 4, 130_000, Some(3), Some((2027, 1, 1)), true, 90, 210, "Quả thảo quả chín được ngâm trong rượu gạo đỏ Y Tý. Rượu màu hổ phách, thơm ấm."),
    // Written decomposed (base letters + combining marks) on purpose.
    (125, "Ru\u{31b}o\u{31b}\u{323}u ngo\u{302} Ba\u{309}n Pho\u{302}\u{301}", "beverage-alcoholic", 2, 120_000, Some(3), Some((2027, 3, 1)), true, 330, 260, "Ngô nương được nấu chín, ủ với men lá rồi chưng cất thủ công."),
    (126, "Thịt trâu gác bếp Lào Cai", "food-processed", 14, 550_000, Some(4), Some((2027, 11, 11)), true, 700, 80, "Thịt trâu thả đồi được lọc gân, tẩm mắc khén và hun khói trên gác bếp củi."),
    (127, "Thịt lợn gác bếp Gia Phú", "food-processed", 1, 360_000, None, None, true, 160, 50, "Thịt lợn thả vườn thái thành thỏi, tẩm ướp gia vị núi rừng rồi hun khói trên gác bếp."),
    (128, "Lạp xưởng gác bếp Gia Phú", "food-processed", 1, 170_000, Some(3), Some((2028, 12, 15)), true, 190, 40, "Thịt lợn nạc vai và mỡ phần được ướp với rượu ngô, mắc khén, nhồi vào ruột non rồi treo gác bếp củi."),
    (129, "Mận hậu Mộc Châu", "food-fresh", 10, 175_000, Some(3), Some((2027, 6, 30)), true, 410, 35, "Mận hậu chín giòn, ruột vàng, vị ngọt đậm, hái trong mùa từ tháng 5 đến tháng 7."),
    (130, "Rượu mận hậu Mộc Châu", "beverage-alcoholic", 10, 160_000, Some(3), Some((2027, 6, 30)), false, 70, 25, "Mận hậu chín ngâm rượu ngô trong bình sành từ sáu tháng trở lên."),
    (131, "Cà phê Arabica Thuận Châu", "food-coffee-cocoa", 11, 200_000, Some(3), Some((2027, 10, 10)), true, 260, 190, "Cà phê Arabica thu hái quả chín, phơi khô và rang mộc tại hợp tác xã."),
    (132, "Hạt Macadamia sấy nứt vỏ Thuận Châu", "food-processed", 11, 190_000, Some(3), Some((2027, 10, 10)), true, 85, 15, "Hạt mắc ca trồng trên đồi Thuận Châu được sấy khô và tách nứt vỏ, kèm dụng cụ mở."),
    (133, "Khăn thổ cẩm Tày Nghĩa Đô", "textile-fabric", 6, 280_000, Some(3), Some((2027, 7, 7)), true, 45, 310, "Khăn được dệt từ sợi bông, thêu tay hoa văn hình học của người Tày."),
    (134, "Vải thổ cẩm Tày Nghĩa Đô", "textile-fabric", 6, 450_000, Some(4), Some((2027, 7, 7)), true, 25, 280, "Vải được dệt trên khung gỗ truyền thống với hoa văn hình thoi, hình sao tám cánh."),
    (135, "Áo chàm Tày Nghĩa Đô", "textile-garment", 6, 950_000, Some(3), Some((2027, 7, 7)), true, 12, 270, "Áo dài năm thân nhuộm chàm của phụ nữ Tày, may thủ công."),
    (136, "Chăn thổ cẩm Nghĩa Đô", "textile-fabric", 6, 1_200_000, None, None, false, 5, 101, "Mặt chăn dệt thổ cẩm hoa văn Tày, ruột bông gạo nhồi tay."),
    (137, "Homestay nhà Giáy Tả Van", "tourism-community", 8, 600_000, None, None, true, 33, 12, "Phòng nghỉ trong nhà truyền thống của người Giáy, có bữa sáng và trà thảo mộc."),
    (138, "Tour đi bộ ruộng bậc thang Sa Pa", "tourism-community", 8, 1_000_000, None, None, true, 18, 8, "Tour đi bộ nửa ngày qua ruộng bậc thang và các bản Mông, Giáy cùng hướng dẫn viên địa phương."),
    (139, "Miến dong Gia Phú", "food-processed", 1, 60_000, Some(3), Some((2028, 12, 15)), true, 230, 75, "Miến được tráng từ tinh bột dong riềng nguyên chất, cắt sợi và phơi trên giàn tre."),
    (140, "Tinh dầu sả chanh Gia Phú", "herbal-other", 1, 85_000, Some(3), Some((2028, 12, 15)), true, 110, 66, "Sả chanh trồng trên đồi Gia Phú được cắt vào buổi sáng và chưng cất hơi nước ngay trong ngày."),
    (141, "Hộp quà \"Tây Bắc\" <Chè & Mật ong>", "food-processed", 2, 520_000, None, None, true, 14, 5, "Hộp quà gồm một hũ mật ong bạc hà và một túi chè Shan tuyết, in hoa văn thổ cẩm."),
    (142, "Nấm hương khô Sa Pa", "food-raw", 15, 280_000, Some(3), Some((2027, 2, 2)), true, 175, 130, "Nấm hương trồng trên gỗ tự nhiên, thu hái khi mũ nấm còn cụp và sấy khô."),
    (143, "Xà phòng thảo dược Dao đỏ", "herbal-cosmetic", 15, 45_000, Some(3), Some((2027, 2, 2)), true, 260, 95, "Xà phòng thủ công nấu từ dầu dừa và nước cốt lá tắm Dao đỏ. Dùng rửa tay, tắm hằng ngày."),
];

/// The fixed documents the suite seeds.
pub fn documents() -> Vec<SearchDocument> {
    let start_of_today = today().and_time(NaiveTime::MIN).and_utc();
    PRODUCTS
        .iter()
        .map(
            |&(
                id,
                name,
                category,
                cooperative,
                price,
                stars,
                expires,
                in_stock,
                sold,
                age,
                description,
            )| {
                let (_, cooperative_name, commune) = COOPERATIVES
                    .iter()
                    .copied()
                    .find(|(coop_id, _, _)| *coop_id == cooperative)
                    .unwrap_or((0, "", ""));
                let (commune_code, commune_name, province_code, province_name) = COMMUNES
                    .iter()
                    .copied()
                    .find(|(code, _, _, _)| *code == commune)
                    .unwrap_or(("", "", "", ""));
                let (category_code, group_code, category_vi, category_en) = CATEGORIES
                    .iter()
                    .chain(MORE_CATEGORIES.iter())
                    .copied()
                    .find(|(code, _, _, _)| *code == category)
                    .unwrap_or(("", "", "", ""));
                let published_at: DateTime<Utc> =
                    start_of_today - Duration::days(age) + Duration::hours(8);
                SearchDocument {
                    product_id: id,
                    name: name.to_owned(),
                    short_name: name.to_owned(),
                    description: description.to_owned(),
                    category_code: category_code.to_owned(),
                    group_code: group_code.to_owned(),
                    category_name_vi: category_vi.to_owned(),
                    category_name_en: category_en.to_owned(),
                    cooperative_id: cooperative,
                    cooperative_name: cooperative_name.to_owned(),
                    province_code: province_code.to_owned(),
                    province_name: province_name.to_owned(),
                    commune_code: commune_code.to_owned(),
                    commune_name: commune_name.to_owned(),
                    price_vnd: price,
                    ocop_stars: stars,
                    ocop_expires_on: expires.map(|(y, m, d)| date(y, m, d)),
                    in_stock,
                    sold_count: sold,
                    published_at,
                }
            },
        )
        .collect()
}

/// Runs every check against `index` (which must be empty and use the project's synonyms)
/// and panics listing the checks that failed.
pub async fn run_all(index: &dyn SearchIndex) {
    let failures = run(index).await;
    assert!(
        failures.is_empty(),
        "{} search conformance check(s) failed:\n- {}",
        failures.len(),
        failures.join("\n- ")
    );
}

/// Runs every check against `index` (which must be empty and use the project's synonyms)
/// and returns a description of each failed check.
pub async fn run(index: &dyn SearchIndex) -> Vec<String> {
    let mut suite = Suite {
        index,
        docs: documents(),
        failures: Vec::new(),
    };
    suite.seed().await;
    if suite.failures.is_empty() {
        suite.matching().await;
        suite.typos().await;
        suite.ranking().await;
        suite.synonyms().await;
        suite.filters().await;
        suite.facets().await;
        suite.sorting_and_paging().await;
        suite.highlighting().await;
        suite.suggestions().await;
        suite.bad_input().await;
        suite.deletes_and_upserts().await;
    }
    suite.failures
}

struct Suite<'a> {
    index: &'a dyn SearchIndex,
    docs: Vec<SearchDocument>,
    failures: Vec<String>,
}

fn query(text: &str) -> SearchQuery {
    SearchQuery::new(text, today())
}

fn browse() -> SearchQuery {
    let mut query = query("");
    query.per_page = 100;
    query
}

fn ids(results: &SearchResults) -> Vec<i64> {
    results.hits.iter().map(|hit| hit.product_id).collect()
}

impl Suite<'_> {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(what());
        }
    }

    fn doc(&self, id: i64) -> Option<&SearchDocument> {
        self.docs.iter().find(|doc| doc.product_id == id)
    }

    async fn search(&mut self, query: &SearchQuery) -> SearchResults {
        match self.index.search(query).await {
            Ok(results) => results,
            Err(error) => {
                self.failures
                    .push(format!("search {:?} failed: {error}", query.text));
                SearchResults {
                    hits: Vec::new(),
                    total: 0,
                    facets: None,
                }
            }
        }
    }

    async fn text(&mut self, text: &str) -> SearchResults {
        let mut query = query(text);
        query.per_page = 100;
        self.search(&query).await
    }

    /// Checks that `text` finds every id of `expected` among its hits.
    async fn finds(&mut self, text: &str, expected: &[i64]) {
        let results = self.text(text).await;
        let found = ids(&results);
        for id in expected {
            self.check(found.contains(id), || {
                format!("{text:?} should find product {id}; found {found:?}")
            });
        }
    }

    /// Checks that `text` finds none of `unexpected`.
    async fn misses(&mut self, text: &str, unexpected: &[i64]) {
        let results = self.text(text).await;
        let found = ids(&results);
        for id in unexpected {
            self.check(!found.contains(id), || {
                format!("{text:?} should not find product {id}; found {found:?}")
            });
        }
    }

    async fn seed(&mut self) {
        if let Err(error) = self.index.upsert(self.docs.clone()).await {
            self.failures
                .push(format!("upsert of the fixed documents failed: {error}"));
        }
        if let Err(error) = self.index.refresh().await {
            self.failures.push(format!("refresh failed: {error}"));
        }
        let expected = self.docs.len() as u64;
        match self.index.count().await {
            Ok(count) => self.check(count == expected, || {
                format!("count() should be {expected} after seeding an empty index, is {count}")
            }),
            Err(error) => self.failures.push(format!("count failed: {error}")),
        }
    }

    async fn matching(&mut self) {
        self.finds("mat ong", &[101, 102, 103, 104, 105, 141, 125])
            .await;
        self.finds("Mật ong bạc hà", &[101]).await;
        self.finds("duong phen", &[114, 115]).await;
        self.finds("che shan tuyet", &[108, 110]).await;
        self.finds("shan", &[108, 109, 110, 111]).await;
        self.finds("gao seng cu", &[118, 119, 120]).await;
        self.finds("thit trau gac bep", &[126]).await;
        self.finds("ca phe arabica", &[131]).await;
        self.finds("man hau moc chau", &[129, 130]).await;
        // Every word must match somewhere: the province and category names count.
        self.finds("mat ong lao cai", &[101, 102, 103, 104]).await;
        self.misses("mat ong lao cai", &[105]).await;
        self.finds("tra son la", &[111, 112, 113]).await;
        self.misses("tra son la", &[108, 109]).await;
        // Prefix of the last word, as typed.
        self.finds("mat o", &[101, 102, 103]).await;
        self.finds("thao qu", &[123, 124]).await;
        // Decomposed query text (base letter + combining marks).
        self.finds("Ma\u{323}\u{302}t ong", &[101]).await;
        self.finds("\u{110}u\u{31b}o\u{31b}\u{300}ng phe\u{300}n", &[114])
            .await;
        // A document written decomposed is found by a composed query, and the other way.
        self.finds("Rượu ngô Bản Phố", &[125]).await;
        self.finds("ruou ngo", &[125]).await;
        // Case does not matter.
        self.finds("MẬT ONG", &[101]).await;
        // Nonsense finds nothing.
        let nonsense = self.text("xyzzyqwk zzkq").await;
        self.check(nonsense.total == 0 && nonsense.hits.is_empty(), || {
            format!("nonsense should find nothing; found {:?}", ids(&nonsense))
        });
        // Browsing (empty text) finds everything.
        let all = self.search(&browse()).await;
        let expected = self.docs.len() as u64;
        self.check(all.total == expected, || {
            format!(
                "empty text should browse all {expected} documents, total {}",
                all.total
            )
        });
    }

    async fn typos(&mut self) {
        // One typo from 5 letters.
        self.finds("shann", &[108, 110]).await;
        self.finds("arabika", &[131]).await;
        // Two typos from 9 letters.
        self.finds("makadamya", &[132]).await;
        // No typo under 5 letters: mứt and mật never match each other.
        self.misses("mứt", &[101, 102, 103, 104, 105]).await;
        self.finds("mứt", &[107]).await;
        self.misses("mật", &[107]).await;
        self.misses("mut", &[101, 102, 103, 104, 105]).await;
        let shab = self.text("shab").await;
        self.check(shab.total == 0, || {
            format!(
                "\"shab\" (4 letters, 1 typo from shan) should find nothing; found {:?}",
                ids(&shab)
            )
        });
        // Three typos in 9 letters are too many.
        let far = self.text("mukudumyu").await;
        self.check(!ids(&far).contains(&132), || {
            "\"mukudumyu\" (3 typos) should not find Macadamia".to_owned()
        });
    }

    async fn ranking(&mut self) {
        // Exact diacritics first: "đường" ranks Đường phèn above Dương Quỳ.
        let results = self.text("đường").await;
        let found = ids(&results);
        let position = |id: i64| found.iter().position(|&hit| hit == id);
        let exact: Vec<Option<usize>> = [114, 115].iter().map(|&id| position(id)).collect();
        let other: Vec<Option<usize>> = [116, 117].iter().map(|&id| position(id)).collect();
        self.check(exact.iter().all(Option::is_some), || {
            format!("\"đường\" should find 114 and 115; found {found:?}")
        });
        let last_exact = exact.iter().flatten().max().copied();
        let first_other = other.iter().flatten().min().copied();
        if let (Some(last_exact), Some(first_other)) = (last_exact, first_other) {
            self.check(last_exact < first_other, || {
                format!("\"đường\" should rank Đường phèn (114, 115) above Dương Quỳ (116, 117): {found:?}")
            });
        }
        self.check(
            found.first() == Some(&114) || found.first() == Some(&115),
            || format!("\"đường\" should rank a Đường phèn product first: {found:?}"),
        );
        // Without tone marks both are found.
        self.finds("duong", &[114, 115, 116, 117]).await;
        // Exact words above typos: Miến dong (1 typo from "duong") after all exact matches.
        let results = self.text("duong").await;
        let found = ids(&results);
        if let Some(dong) = found.iter().position(|&id| id == 139) {
            let exact_last = found
                .iter()
                .enumerate()
                .filter(|(_, id)| [114, 115, 116, 117].contains(*id))
                .map(|(index, _)| index)
                .max();
            self.check(exact_last.is_none_or(|last| last < dong), || {
                format!("\"duong\": exact matches should rank above the typo match 139: {found:?}")
            });
        }
        // A name match ranks above a description-only match.
        let results = self.text("bạc hà").await;
        let found = ids(&results);
        self.check(found.first() == Some(&101), || {
            format!("\"bạc hà\" should rank 101 (in the name) first: {found:?}")
        });
        // Equal matches: most sold first, then newest.
        let results = self.text("mật ong").await;
        let mut expected: Vec<&SearchDocument> = self
            .docs
            .iter()
            .filter(|doc| doc.name.contains("Mật ong"))
            .collect();
        expected.sort_by(|a, b| {
            b.sold_count
                .cmp(&a.sold_count)
                .then(b.published_at.cmp(&a.published_at))
        });
        let expected: Vec<i64> = expected.iter().map(|doc| doc.product_id).collect();
        let found: Vec<i64> = ids(&results)
            .into_iter()
            .filter(|id| expected.contains(id))
            .collect();
        self.check(found == expected, || {
            format!("\"mật ong\": equal name matches should rank by sold count then newest: expected {expected:?}, got {found:?}")
        });
        let top: Vec<i64> = ids(&results).into_iter().take(expected.len()).collect();
        self.check(top == expected, || {
            format!(
                "\"mật ong\": name matches should come first: expected {expected:?}, got {top:?}"
            )
        });
    }

    async fn synonyms(&mut self) {
        // chè ⇄ trà: 112 and 108 never say "trà".
        self.finds("trà", &[108, 112]).await;
        self.finds("tra", &[108, 112]).await;
        self.finds("chè", &[109, 111]).await;
        // A phrase and a word: honey ⇄ mật ong.
        self.finds("honey", &[101, 102, 103, 104, 105]).await;
        self.finds("plum", &[129]).await;
        self.finds("buffalo meat", &[126]).await;
        self.finds("black cardamom", &[123]).await;
        self.finds("brocade", &[133, 134]).await;
    }

    async fn filtered(&mut self, what: &str, mut query: SearchQuery, expected: &[i64]) {
        query.per_page = 100;
        let results = self.search(&query).await;
        let mut found = ids(&results);
        found.sort_unstable();
        let mut expected = expected.to_vec();
        expected.sort_unstable();
        let total = results.total;
        self.check(found == expected && total == expected.len() as u64, || {
            format!("{what}: expected {expected:?}, found {found:?} (total {total})")
        });
    }

    /// Ids of the fixed documents passing `keep`.
    fn where_docs(&self, keep: impl Fn(&SearchDocument) -> bool) -> Vec<i64> {
        self.docs
            .iter()
            .filter(|doc| keep(doc))
            .map(|doc| doc.product_id)
            .collect()
    }

    async fn filters(&mut self) {
        let mut q = browse();
        q.province = Some("14".into());
        let expected = self.where_docs(|doc| doc.province_code == "14");
        self.filtered("province 14", q, &expected).await;

        let mut q = browse();
        q.commune = Some("02923".into());
        let expected = self.where_docs(|doc| doc.commune_code == "02923");
        self.filtered("commune 02923", q, &expected).await;

        let mut q = browse();
        q.category = Some("food-tea".into());
        let expected = self.where_docs(|doc| doc.category_code == "food-tea");
        self.filtered("category food-tea", q, &expected).await;

        let mut q = browse();
        q.category = Some("textile".into());
        let expected = self.where_docs(|doc| doc.group_code == "textile");
        self.filtered("group textile", q, &expected).await;

        // 111 has 4 stars but its certificate ended; 112's ends today and still counts.
        let mut q = browse();
        q.min_stars = Some(4);
        let expected =
            self.where_docs(|doc| has_valid_stars(doc.ocop_stars, doc.ocop_expires_on, 4, today()));
        self.check(!expected.contains(&111), || {
            "fixture: 111 expired".to_owned()
        });
        self.filtered("min_stars 4", q, &expected).await;
        let mut q = browse();
        q.min_stars = Some(3);
        q.category = Some("food-tea".into());
        self.filtered("min_stars 3 + food-tea", q, &[108, 109, 110, 112, 113])
            .await;
        let mut q = browse();
        q.min_stars = Some(5);
        self.filtered("min_stars 5", q, &[110]).await;

        // Price bounds are inclusive.
        let mut q = browse();
        q.min_price = Some(150_000);
        q.max_price = Some(200_000);
        let expected = self.where_docs(|doc| (150_000..=200_000).contains(&doc.price_vnd));
        self.filtered("price 150000..=200000", q, &expected).await;
        let mut q = browse();
        q.min_price = Some(1_000_000);
        self.filtered("price from 1000000", q, &[136, 138]).await;

        let mut q = browse();
        q.in_stock = Some(false);
        let expected = self.where_docs(|doc| !doc.in_stock);
        self.filtered("out of stock", q, &expected).await;

        let mut q = browse();
        q.cooperative_id = Some(6);
        self.filtered("cooperative 6", q, &[133, 134, 135, 136])
            .await;

        // Text and filters together.
        let mut q = query("mat ong");
        q.province = Some("15".into());
        // 125 is sold by "Hợp tác xã Ong mật Bắc Hà": the cooperative name is searchable.
        self.filtered(
            "\"mat ong\" in province 15",
            q,
            &[101, 102, 103, 104, 125, 141],
        )
        .await;
        let mut q = query("shan");
        q.in_stock = Some(true);
        q.min_stars = Some(4);
        q.province = Some("15".into());
        self.filtered("\"shan\" in stock 4★ in 15", q, &[108]).await;
        // A value in no document filters everything out.
        let mut q = browse();
        q.province = Some("99".into());
        self.filtered("unknown province", q, &[]).await;
    }

    /// Reference facets over the fixed documents for a browse query (see the model docs).
    fn reference_facets(&self, q: &SearchQuery) -> Facets {
        let passes = |doc: &SearchDocument, skip: &str| -> bool {
            (skip == "province" || q.province.as_ref().is_none_or(|p| *p == doc.province_code))
                && (skip == "commune" || q.commune.as_ref().is_none_or(|c| *c == doc.commune_code))
                && (skip == "category"
                    || q.category
                        .as_ref()
                        .is_none_or(|c| *c == doc.category_code || *c == doc.group_code))
                && (skip == "stars"
                    || q.min_stars.is_none_or(|s| {
                        has_valid_stars(doc.ocop_stars, doc.ocop_expires_on, s, q.today)
                    }))
                && (skip == "price"
                    || (q.min_price.is_none_or(|min| doc.price_vnd >= min)
                        && q.max_price.is_none_or(|max| doc.price_vnd <= max)))
                && (skip == "stock" || q.in_stock.is_none_or(|s| s == doc.in_stock))
                && (skip == "cooperative"
                    || q.cooperative_id.is_none_or(|c| c == doc.cooperative_id))
        };
        let list = |skip: &str, value: &dyn Fn(&SearchDocument) -> String| -> Vec<FacetCount> {
            let mut counts: Vec<FacetCount> = Vec::new();
            for doc in self.docs.iter().filter(|doc| passes(doc, skip)) {
                let value = value(doc);
                match counts.iter_mut().find(|count| count.value == value) {
                    Some(count) => count.count += 1,
                    None => counts.push(FacetCount { value, count: 1 }),
                }
            }
            counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            counts.truncate(MAX_FACET_VALUES);
            counts
        };
        let count = |skip: &str, keep: &dyn Fn(&SearchDocument) -> bool| -> u64 {
            self.docs
                .iter()
                .filter(|doc| passes(doc, skip) && keep(doc))
                .count() as u64
        };
        Facets {
            provinces: list("province", &|doc| doc.province_code.clone()),
            communes: list("commune", &|doc| doc.commune_code.clone()),
            categories: list("category", &|doc| doc.category_code.clone()),
            groups: list("category", &|doc| doc.group_code.clone()),
            stars: [3, 4, 5]
                .iter()
                .map(|&stars| FacetCount {
                    value: stars.to_string(),
                    count: count("stars", &|doc| {
                        has_valid_stars(doc.ocop_stars, doc.ocop_expires_on, stars, q.today)
                    }),
                })
                .collect(),
            price_ranges: PRICE_RANGES
                .iter()
                .enumerate()
                .map(|(index, (value, _, _))| FacetCount {
                    value: (*value).to_owned(),
                    count: count("price", &|doc| price_range_index(doc.price_vnd) == index),
                })
                .collect(),
            in_stock: count("stock", &|doc| doc.in_stock),
            cooperatives: list("cooperative", &|doc| doc.cooperative_id.to_string()),
        }
    }

    async fn facets_match(&mut self, what: &str, mut q: SearchQuery) {
        q.with_facets = true;
        let results = self.search(&q).await;
        let expected = self.reference_facets(&q);
        match results.facets {
            Some(facets) => {
                let pairs: [(&str, &Vec<FacetCount>, &Vec<FacetCount>); 7] = [
                    ("provinces", &facets.provinces, &expected.provinces),
                    ("communes", &facets.communes, &expected.communes),
                    ("categories", &facets.categories, &expected.categories),
                    ("groups", &facets.groups, &expected.groups),
                    ("stars", &facets.stars, &expected.stars),
                    ("price_ranges", &facets.price_ranges, &expected.price_ranges),
                    ("cooperatives", &facets.cooperatives, &expected.cooperatives),
                ];
                for (name, got, want) in pairs {
                    self.check(got == want, || {
                        format!("{what}: facet {name} should be {want:?}, is {got:?}")
                    });
                }
                self.check(facets.in_stock == expected.in_stock, || {
                    format!(
                        "{what}: facet in_stock should be {}, is {}",
                        expected.in_stock, facets.in_stock
                    )
                });
            }
            None => self
                .failures
                .push(format!("{what}: facets were asked for but not returned")),
        }
    }

    async fn facets(&mut self) {
        self.facets_match("browse", browse()).await;
        let mut q = browse();
        q.province = Some("15".into());
        self.facets_match("province 15", q).await;
        let mut q = browse();
        q.province = Some("14".into());
        q.category = Some("food".into());
        q.min_stars = Some(4);
        self.facets_match("province 14 + group food + 4★", q).await;
        let mut q = browse();
        q.commune = Some("02923".into());
        q.in_stock = Some(true);
        q.min_price = Some(100_000);
        q.max_price = Some(400_000);
        self.facets_match("commune + in stock + price", q).await;
        let mut q = browse();
        q.cooperative_id = Some(9);
        q.category = Some("food-tea".into());
        q.min_stars = Some(3);
        self.facets_match("cooperative 9 + tea + 3★", q).await;
        // Facets of a text query: "mật ong" matches 101–105, 141 and 125 (by its cooperative).
        let mut q = query("mật ong");
        q.province = Some("15".into());
        q.with_facets = true;
        let results = self.search(&q).await;
        let provinces = results.facets.map(|facets| facets.provinces);
        let expected = vec![
            FacetCount {
                value: "15".into(),
                count: 6,
            },
            FacetCount {
                value: "14".into(),
                count: 1,
            },
        ];
        self.check(provinces.as_ref() == Some(&expected), || {
            format!("\"mật ong\" in 15: province facet should be {expected:?}, is {provinces:?}")
        });
        // No facets unless asked.
        let results = self.search(&browse()).await;
        self.check(results.facets.is_none(), || {
            "facets returned without being asked for".to_owned()
        });
    }

    async fn sorted(&mut self, sort: SearchSort, key: impl Fn(&SearchDocument) -> i64, name: &str) {
        let mut q = browse();
        q.sort = sort;
        let results = self.search(&q).await;
        let keys: Vec<i64> = ids(&results)
            .iter()
            .filter_map(|&id| self.doc(id).map(&key))
            .collect();
        let ordered = keys.windows(2).all(|pair| pair[0] >= pair[1]);
        let complete = results.hits.len() == self.docs.len();
        self.check(ordered && complete, || {
            format!(
                "browse sorted {name}: {} hits, keys {keys:?}",
                results.hits.len()
            )
        });
    }

    async fn sorting_and_paging(&mut self) {
        self.sorted(
            SearchSort::PriceAsc,
            |doc| -doc.price_vnd,
            "by price ascending",
        )
        .await;
        self.sorted(
            SearchSort::PriceDesc,
            |doc| doc.price_vnd,
            "by price descending",
        )
        .await;
        self.sorted(
            SearchSort::Newest,
            |doc| doc.published_at.timestamp(),
            "newest first",
        )
        .await;
        self.sorted(
            SearchSort::BestSelling,
            |doc| doc.sold_count,
            "best selling first",
        )
        .await;
        self.sorted(
            SearchSort::Relevance,
            |doc| doc.published_at.timestamp(),
            "by relevance (browse: newest)",
        )
        .await;
        // A sort applies to text queries too.
        let mut q = query("chè");
        q.per_page = 100;
        q.sort = SearchSort::PriceAsc;
        let results = self.search(&q).await;
        let prices: Vec<i64> = ids(&results)
            .iter()
            .filter_map(|&id| self.doc(id).map(|doc| doc.price_vnd))
            .collect();
        self.check(
            prices.len() >= 5 && prices.windows(2).all(|p| p[0] <= p[1]),
            || format!("\"chè\" by price ascending: {prices:?}"),
        );

        // Pages.
        let mut q = browse();
        q.sort = SearchSort::Newest;
        let all = ids(&self.search(&q).await);
        q.per_page = 10;
        q.page = 2;
        let page = self.search(&q).await;
        let expected: Vec<i64> = all.iter().skip(10).take(10).copied().collect();
        let total = self.docs.len() as u64;
        self.check(ids(&page) == expected && page.total == total, || {
            format!(
                "page 2 of 10: expected {expected:?} (total {total}), got {:?} (total {})",
                ids(&page),
                page.total
            )
        });
        q.page = 5;
        let last = self.search(&q).await;
        let expected: Vec<i64> = all.iter().skip(40).copied().collect();
        self.check(ids(&last) == expected && last.total == total, || {
            format!("last page: expected {expected:?}, got {:?}", ids(&last))
        });
        q.page = 50;
        let beyond = self.search(&q).await;
        self.check(beyond.hits.is_empty() && beyond.total == total, || {
            format!(
                "a page past the end should be empty with the same total, got {:?} (total {})",
                ids(&beyond),
                beyond.total
            )
        });
        let mut q = query("mat ong");
        q.per_page = 2;
        q.page = 2;
        let second = self.search(&q).await;
        self.check(second.hits.len() == 2 && second.total == 7, || {
            format!(
                "\"mat ong\" page 2 of 2: {:?} (total {})",
                ids(&second),
                second.total
            )
        });
    }

    async fn highlighting(&mut self) {
        let results = self.text("mat ong").await;
        let hit = results.hits.iter().find(|hit| hit.product_id == 101);
        let highlighted = hit
            .map(|hit| hit.highlighted_name.clone())
            .unwrap_or_default();
        self.check(highlighted == "<mark>Mật</mark> <mark>ong</mark> bạc hà Bắc Hà", || {
            format!("\"mat ong\" should highlight 101 as <mark>Mật</mark> <mark>ong</mark> bạc hà Bắc Hà, got {highlighted:?}")
        });
        let results = self.text("shann").await;
        let highlighted = results
            .hits
            .iter()
            .find(|hit| hit.product_id == 108)
            .map(|hit| hit.highlighted_name.clone())
            .unwrap_or_default();
        self.check(highlighted.contains("<mark>Shan</mark>"), || {
            format!("a typo match should be highlighted: {highlighted:?}")
        });
        // Names are HTML-escaped around the marks.
        let results = self.text("hop qua").await;
        let highlighted = results
            .hits
            .iter()
            .find(|hit| hit.product_id == 141)
            .map(|hit| hit.highlighted_name.clone())
            .unwrap_or_default();
        self.check(
            highlighted.starts_with("<mark>Hộp</mark> <mark>quà</mark> ")
                && highlighted.contains("&lt;Chè &amp; Mật ong&gt;")
                && !highlighted.contains("<Chè"),
            || format!("141 should be highlighted and escaped, got {highlighted:?}"),
        );
        // Browsing marks nothing but still escapes.
        let mut q = browse();
        q.cooperative_id = Some(2);
        let results = self.search(&q).await;
        let highlighted = results
            .hits
            .iter()
            .find(|hit| hit.product_id == 141)
            .map(|hit| hit.highlighted_name.clone())
            .unwrap_or_default();
        self.check(
            !highlighted.contains("<mark>") && highlighted.contains("&lt;Chè"),
            || format!("browse should not mark but should escape: {highlighted:?}"),
        );
    }

    async fn suggestions(&mut self) {
        match self.index.suggest("mat", 5).await {
            Ok(names) => {
                let unique = names
                    .iter()
                    .enumerate()
                    .all(|(index, name)| !names[..index].contains(name));
                self.check(
                    !names.is_empty()
                        && names.len() <= 5
                        && unique
                        && names.iter().all(|name| name.contains("Mật ong"))
                        && names.iter().any(|name| name.starts_with("Mật ong")),
                    || format!("suggest(\"mat\", 5) should give distinct \"Mật ong…\" names, got {names:?}"),
                );
            }
            Err(error) => self.failures.push(format!("suggest failed: {error}")),
        }
        match self.index.suggest("che shan t", 3).await {
            Ok(names) => self.check(
                !names.is_empty()
                    && names.len() <= 3
                    && names.iter().all(|n| n.contains("Shan tuyết")),
                || format!("suggest(\"che shan t\", 3): {names:?}"),
            ),
            Err(error) => self.failures.push(format!("suggest failed: {error}")),
        }
        match self.index.suggest("", 5).await {
            Ok(names) => self.check(names.is_empty(), || {
                format!("suggest(\"\") should be empty, got {names:?}")
            }),
            Err(error) => self.failures.push(format!("suggest(\"\") failed: {error}")),
        }
    }

    async fn bad_input(&mut self) {
        let mut q = browse();
        q.per_page = 0;
        self.check(self.index.search(&q).await.is_err(), || {
            "per_page 0 should be refused".to_owned()
        });
        let mut q = browse();
        q.per_page = 101;
        self.check(self.index.search(&q).await.is_err(), || {
            "per_page 101 should be refused".to_owned()
        });
        let mut q = browse();
        q.page = 0;
        self.check(self.index.search(&q).await.is_err(), || {
            "page 0 should be refused".to_owned()
        });
        let long = "mật ong ".repeat(2_000);
        for text in [
            long.as_str(),
            "!!! ??? ...",
            "\"mật ong\" AND (chè OR trà) -rượu*",
            "🍯🍵",
            "\u{301}\u{303}",
            "a b c d e f g h i j k l m n",
        ] {
            let results = self.index.search(&query(text)).await;
            self.check(results.is_ok(), || {
                format!("search {text:.40?} should not fail: {results:?}")
            });
        }
        // A word too long to be indexed matches nothing (it does not turn into a browse).
        let long_word = self.text(&"a".repeat(60)).await;
        self.check(long_word.total == 0, || {
            format!(
                "a 60-letter word should find nothing, found {}",
                long_word.total
            )
        });
        let mut q = browse();
        q.min_price = Some(500_000);
        q.max_price = Some(100_000);
        self.filtered("min price above max price", q, &[]).await;
    }

    async fn deletes_and_upserts(&mut self) {
        let before = self.index.count().await.unwrap_or_default();
        if let Err(error) = self.index.delete(vec![143, 999_999]).await {
            self.failures.push(format!("delete failed: {error}"));
        }
        if let Err(error) = self.index.refresh().await {
            self.failures.push(format!("refresh failed: {error}"));
        }
        self.misses("xa phong", &[143]).await;
        let after = self.index.count().await.unwrap_or_default();
        self.check(after + 1 == before, || {
            format!("count after deleting one document: {before} then {after}")
        });

        // Renaming replaces the document: found by its new name, not its old one.
        let renamed = self.doc(120).cloned().map(|mut doc| {
            doc.name = "Bánh ngô nướng Si Ma Cai".to_owned();
            doc.short_name = doc.name.clone();
            doc.description = "Bánh làm từ bột ngô nương, nướng trên than củi.".to_owned();
            doc.price_vnd = 48_000;
            doc
        });
        if let Some(renamed) = renamed {
            if let Err(error) = self.index.upsert(vec![renamed]).await {
                self.failures.push(format!("upsert failed: {error}"));
            }
            if let Err(error) = self.index.refresh().await {
                self.failures.push(format!("refresh failed: {error}"));
            }
            self.finds("banh ngo nuong", &[120]).await;
            self.misses("banh gao", &[120]).await;
            let count = self.index.count().await.unwrap_or_default();
            self.check(count == after, || {
                format!("upserting an existing id should not add a document: {after} then {count}")
            });
            let mut q = browse();
            q.max_price = Some(48_000);
            q.min_price = Some(48_000);
            self.filtered("upserted price", q, &[120]).await;
        }
    }
}
