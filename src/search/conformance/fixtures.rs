//! The fixed catalogue the suite seeds: realistic OCOP products of Lào Cai and Sơn La, their
//! cooperatives, communes and categories, as [`SearchDocument`]s.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use crate::search::model::SearchDocument;

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
                    // Varied averages (some products without reviews) for the rating sort.
                    rating_sum: (id * 7) % 23,
                    rating_count: if (id * 7) % 23 == 0 { 0 } else { id % 5 },
                }
            },
        )
        .collect()
}
