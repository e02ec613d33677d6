#![allow(clippy::unwrap_used)]
//! In-process benchmark of the embedded index: 100,000 synthetic products.
//!
//! cargo test --release --test search_bench -- --ignored --nocapture

use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveTime};
use ocop_market::search::embedded::EmbeddedIndex;
use ocop_market::search::model::{
    DEFAULT_SYNONYMS, SearchDocument, SearchIndex, SearchQuery, SearchSort,
};

const DOCS: usize = 100_000;
const BATCH: usize = 10_000;
fn batch_size() -> usize {
    std::env::var("BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(BATCH)
}

/// Product base name, category code, group, category vi, category en, base price, description.
const PRODUCTS: [(&str, &str, &str, &str, &str, i64, &str); 24] = [
    (
        "Mật ong bạc hà",
        "food-processed",
        "food",
        "Thực phẩm chế biến",
        "Processed food",
        300_000,
        "Mật ong được khai thác vào mùa hoa bạc hà dại nở tím đồi. Mật sánh, màu hổ phách, thơm mùi bạc hà.",
    ),
    (
        "Mật ong hoa rừng",
        "food-processed",
        "food",
        "Thực phẩm chế biến",
        "Processed food",
        400_000,
        "Mật ong từ các đàn ong đặt ven rừng, lấy mật của nhiều loài hoa dại trong năm.",
    ),
    (
        "Chè Shan tuyết",
        "food-tea",
        "food",
        "Chè",
        "Tea",
        200_000,
        "Búp chè Shan tuyết hái từ những cây chè lâu năm mọc trên núi cao, sao tay bằng chảo gang.",
    ),
    (
        "Hồng trà Shan tuyết",
        "food-tea",
        "food",
        "Chè",
        "Tea",
        250_000,
        "Búp chè được làm héo, vò và lên men hoàn toàn trước khi sấy khô. Nước trà màu đỏ hổ phách.",
    ),
    (
        "Gạo Séng Cù",
        "food-raw",
        "food",
        "Thực phẩm thô, sơ chế",
        "Raw and semi-processed food",
        150_000,
        "Séng Cù là giống lúa đặc sản, hạt gạo dài, trắng trong. Cơm dẻo, thơm và vẫn mềm khi để nguội.",
    ),
    (
        "Gạo nếp cái hoa vàng",
        "food-raw",
        "food",
        "Thực phẩm thô, sơ chế",
        "Raw and semi-processed food",
        90_000,
        "Lúa nếp cái hoa vàng được cấy trên chân ruộng phù sa, chỉ làm một vụ mùa mỗi năm.",
    ),
    (
        "Thịt trâu gác bếp",
        "food-processed",
        "food",
        "Thực phẩm chế biến",
        "Processed food",
        550_000,
        "Thịt trâu thả đồi được lọc gân, tẩm mắc khén, gừng, ớt và hun khói trên gác bếp củi.",
    ),
    (
        "Thịt lợn gác bếp",
        "food-processed",
        "food",
        "Thực phẩm chế biến",
        "Processed food",
        360_000,
        "Thịt lợn bản thái miếng dài, tẩm ướp gia vị rừng và hun khói trên gác bếp.",
    ),
    (
        "Lạp xưởng gác bếp",
        "food-processed",
        "food",
        "Thực phẩm chế biến",
        "Processed food",
        170_000,
        "Thịt lợn nạc vai ướp rượu ngô, mắc khén, nhồi vào ruột non rồi treo gác bếp củi.",
    ),
    (
        "Cà phê Arabica",
        "food-coffee-cocoa",
        "food",
        "Cà phê, ca cao",
        "Coffee and cocoa",
        200_000,
        "Cà phê Arabica thu hái quả chín, phơi khô và rang mộc tại hợp tác xã.",
    ),
    (
        "Mận hậu sấy dẻo",
        "food-processed",
        "food",
        "Thực phẩm chế biến",
        "Processed food",
        110_000,
        "Mận hậu chín được bỏ hạt, ngâm đường và sấy lạnh. Miếng mận dẻo, chua ngọt hài hòa.",
    ),
    (
        "Rượu ngô men lá",
        "beverage-alcoholic",
        "beverage",
        "Đồ uống có cồn",
        "Alcoholic beverages",
        120_000,
        "Ngô nương được nấu chín, ủ với men lá rồi chưng cất thủ công. Nồng độ 40%.",
    ),
    (
        "Rượu táo mèo",
        "beverage-alcoholic",
        "beverage",
        "Đồ uống có cồn",
        "Alcoholic beverages",
        150_000,
        "Quả táo mèo chín được ngâm với rượu ngô trong bình sành ít nhất 6 tháng.",
    ),
    (
        "Thảo quả khô",
        "food-spice",
        "food",
        "Gia vị",
        "Spices and condiments",
        180_000,
        "Thảo quả được trồng dưới tán rừng già, thu hái khi chín đỏ và sấy khô trên lò củi.",
    ),
    (
        "Quế ống",
        "food-spice",
        "food",
        "Gia vị",
        "Spices and condiments",
        90_000,
        "Vỏ quế được bóc vào mùa quế ra nhựa, cuộn ống tự nhiên và phơi khô.",
    ),
    (
        "Tinh dầu quế",
        "herbal-other",
        "herbal",
        "Sản phẩm khác từ thảo dược",
        "Other herbal products",
        150_000,
        "Tinh dầu được chưng cất từ lá và cành quế tươi, lọc và lắng tự nhiên.",
    ),
    (
        "Nấm hương khô",
        "food-raw",
        "food",
        "Thực phẩm thô, sơ chế",
        "Raw and semi-processed food",
        280_000,
        "Nấm hương trồng trên gỗ tự nhiên, thu hái khi mũ nấm còn cụp và sấy khô.",
    ),
    (
        "Măng rừng khô",
        "food-raw",
        "food",
        "Thực phẩm thô, sơ chế",
        "Raw and semi-processed food",
        160_000,
        "Măng vầu rừng được luộc kỹ, xé sợi và phơi trên gác bếp.",
    ),
    (
        "Miến dong",
        "food-processed",
        "food",
        "Thực phẩm chế biến",
        "Processed food",
        60_000,
        "Miến được tráng từ tinh bột dong riềng nguyên chất, cắt sợi và phơi trên giàn tre.",
    ),
    (
        "Đường phèn",
        "food-processed",
        "food",
        "Thực phẩm chế biến",
        "Processed food",
        70_000,
        "Nước mía được nấu cô đặc và kết tinh chậm thành viên đường phèn vàng trong.",
    ),
    (
        "Khăn thổ cẩm",
        "textile-fabric",
        "textile",
        "Vải, thổ cẩm",
        "Fabrics and brocade",
        280_000,
        "Khăn được dệt từ sợi bông, thêu tay hoa văn hình học của người Mông.",
    ),
    (
        "Túi thổ cẩm",
        "textile-fabric",
        "textile",
        "Vải, thổ cẩm",
        "Fabrics and brocade",
        350_000,
        "Túi đeo chéo may từ vải thổ cẩm thêu tay, lót vải bông và có khóa kéo.",
    ),
    (
        "Xà phòng thảo dược",
        "herbal-cosmetic",
        "herbal",
        "Mỹ phẩm từ thảo dược",
        "Herbal cosmetics",
        45_000,
        "Xà phòng thủ công nấu từ dầu dừa và nước cốt lá tắm Dao đỏ.",
    ),
    (
        "Tương ớt",
        "food-spice",
        "food",
        "Gia vị",
        "Spices and condiments",
        55_000,
        "Ớt chỉ thiên chín đỏ được xay cùng tỏi, muối và ủ chín tự nhiên trong chum sành.",
    ),
];

const SUFFIXES: [&str; 8] = [
    "",
    "loại 1",
    "loại 2",
    "loại 3",
    "hộp quà",
    "túi 500 g",
    "hũ 1 kg",
    "đặc biệt",
];

const EXTRA_SENTENCES: [&str; 8] = [
    "Sản phẩm đạt chứng nhận OCOP của tỉnh, có tem truy xuất nguồn gốc.",
    "Bảo quản nơi khô ráo, thoáng mát, tránh ánh nắng trực tiếp.",
    "Hợp tác xã liên kết với các hộ đồng bào dân tộc thiểu số trong xã.",
    "Đóng gói thủ công, thích hợp làm quà biếu người thân và bạn bè.",
    "Giao hàng toàn quốc, đổi trả trong bảy ngày nếu sản phẩm lỗi.",
    "Nguyên liệu được thu mua trực tiếp từ bà con vùng cao Tây Bắc.",
    "Không dùng chất bảo quản, phẩm màu hay hương liệu tổng hợp.",
    "Quy trình sản xuất theo tiêu chuẩn VietGAP và an toàn thực phẩm.",
];

/// Deterministic pseudo-random numbers (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Commune {
    code: String,
    name: String,
    province_code: String,
    province_name: String,
}

fn communes() -> Vec<Commune> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/administrative-units.json"
    ))
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for province in json["provinces"].as_array().unwrap() {
        let code = province["code"].as_str().unwrap();
        // Lào Cai, Sơn La, Lai Châu, Điện Biên, Tuyên Quang: the north-west.
        if !["15", "14", "12", "11", "08"].contains(&code) {
            continue;
        }
        for commune in province["communes"].as_array().unwrap() {
            out.push(Commune {
                code: commune[0].as_str().unwrap().to_owned(),
                name: commune[1].as_str().unwrap().to_owned(),
                province_code: code.to_owned(),
                province_name: province["name"].as_str().unwrap().to_owned(),
            });
        }
    }
    out
}

fn place(commune_name: &str) -> &str {
    commune_name
        .strip_prefix("Xã ")
        .or_else(|| commune_name.strip_prefix("Phường "))
        .unwrap_or(commune_name)
}

fn generate(rng: &mut Rng, id: usize, communes: &[Commune]) -> SearchDocument {
    let (base, category, group, cat_vi, cat_en, price, description) =
        PRODUCTS[rng.below(PRODUCTS.len())];
    // About 2,000 cooperatives, each in one commune.
    let cooperative = rng.below(2_000);
    let commune = &communes[cooperative * 7919 % communes.len()];
    let suffix = SUFFIXES[rng.below(SUFFIXES.len())];
    let name = format!("{base} {} {suffix}", place(&commune.name))
        .trim_end()
        .to_owned();
    let mut text = description.to_owned();
    for _ in 0..2 {
        text.push(' ');
        text.push_str(EXTRA_SENTENCES[rng.below(EXTRA_SENTENCES.len())]);
    }
    let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let stars = match rng.below(10) {
        0..=2 => None,
        3..=6 => Some(3),
        7..=8 => Some(4),
        _ => Some(5),
    };
    let expires = stars.map(|_| today + chrono::Duration::days(rng.below(1400) as i64 - 300));
    SearchDocument {
        product_id: id as i64,
        short_name: format!("{base} {}", place(&commune.name)),
        name,
        description: text,
        category_code: category.into(),
        group_code: group.into(),
        category_name_vi: cat_vi.into(),
        category_name_en: cat_en.into(),
        cooperative_id: cooperative as i64 + 1,
        cooperative_name: format!(
            "Hợp tác xã {} {}",
            base.split(' ').next().unwrap_or(""),
            place(&commune.name)
        ),
        province_code: commune.province_code.clone(),
        province_name: commune.province_name.clone(),
        commune_code: commune.code.clone(),
        commune_name: commune.name.clone(),
        price_vnd: price / 2 + (rng.below(20) as i64) * price / 10,
        ocop_stars: stars,
        ocop_expires_on: expires,
        in_stock: rng.below(5) != 0,
        sold_count: rng.below(2_000) as i64,
        rating_sum: 0,
        rating_count: 0,
        published_at: today.and_time(NaiveTime::MIN).and_utc()
            - chrono::Duration::minutes(rng.below(1_000_000) as i64),
    }
}

fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|line| line.starts_with(field))
        .map(|line| {
            line.split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn rollup() -> String {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .unwrap()
        .lines()
        .filter(|l| {
            l.starts_with("Rss")
                || l.starts_with("Anonymous")
                || l.starts_with("Pss_File")
                || l.starts_with("Pss_Anon")
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

fn big_mappings() -> String {
    let text = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut out = Vec::new();
    let mut header = String::new();
    for line in text.lines() {
        if !line.starts_with(|c: char| c.is_ascii_uppercase())
            || line.contains('-') && !line.contains(':')
        {
            header = line.to_owned();
        } else if let Some(rest) = line.strip_prefix("Rss:") {
            let kb: u64 = rest
                .trim()
                .trim_end_matches(" kB")
                .trim()
                .parse()
                .unwrap_or(0);
            if kb > 4096 {
                out.push(format!("{kb} kB {header}"));
            }
        }
    }
    out.join("\n")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let total: Duration = times.iter().sum();
    println!(
        "{name}: n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms mean={:.2} ms",
        times.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3 / times.len() as f64,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn bench_100k() {
    let communes = communes();
    let dir = tempfile::tempdir().unwrap();
    let index = EmbeddedIndex::open(dir.path(), DEFAULT_SYNONYMS).unwrap();
    let mut rng = Rng(42);
    println!("opened: VmRSS {} / {}", status("VmRSS"), rollup());

    let started = Instant::now();
    let mut generating = Duration::ZERO;
    let size = batch_size();
    for batch in 0..DOCS / size {
        let gen_start = Instant::now();
        let docs: Vec<SearchDocument> = (0..size)
            .map(|i| generate(&mut rng, batch * size + i + 1, &communes))
            .collect();
        generating += gen_start.elapsed();
        index.upsert(docs).await.unwrap();
    }
    index.refresh().await.unwrap();
    let build = started.elapsed();
    println!(
        "index build: {:.2} s for {DOCS} documents ({:.2} s of it generating documents), {} segments, count {}",
        build.as_secs_f64(),
        generating.as_secs_f64(),
        index.segment_count(),
        index.count().await.unwrap()
    );
    println!(
        "after build: VmRSS {} / VmHWM {}",
        status("VmRSS"),
        status("VmHWM")
    );
    let size: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|entry| entry.ok()?.metadata().ok())
        .map(|meta| meta.len())
        .sum();
    println!("index on disk: {:.1} MB", size as f64 / 1e6);

    let queries: Vec<String> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/search/queries.txt"
    ))
    .unwrap()
    .lines()
    .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
    .map(str::to_owned)
    .collect();
    let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let plain = |text: &str| {
        let mut q = SearchQuery::new(text, today);
        q.per_page = 20;
        q
    };
    let faceted = |index: usize, text: &str| {
        let mut q = plain(text);
        q.with_facets = true;
        match index % 3 {
            0 => q.province = Some("15".into()),
            1 => q.category = Some("food".into()),
            _ => q.min_stars = Some(4),
        }
        q
    };

    // Warm-up pass (page cache, dictionary cache).
    for (i, text) in queries.iter().enumerate() {
        index.search(&plain(text)).await.unwrap();
        index.search(&faceted(i, text)).await.unwrap();
    }

    let mut plain_times = Vec::new();
    let mut zero_hits = Vec::new();
    let mut total_hits = 0u64;
    for _ in 0..3 {
        for text in &queries {
            let started = Instant::now();
            let results = index.search(&plain(text)).await.unwrap();
            plain_times.push(started.elapsed());
            total_hits += results.total;
            if results.total == 0 && !zero_hits.contains(text) {
                zero_hits.push(text.clone());
            }
        }
    }
    let mut slowest: Vec<(Duration, &String)> = plain_times
        .iter()
        .copied()
        .zip(queries.iter().cycle())
        .collect();
    slowest.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    println!(
        "slowest plain: {:?}",
        slowest
            .iter()
            .take(12)
            .map(|(d, q)| format!("{q} {:.1}ms", d.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
    );
    report("plain queries (20 hits)", plain_times);
    println!(
        "mean total per query {:.0}; queries with no hit: {zero_hits:?}",
        total_hits as f64 / (3 * queries.len()) as f64
    );

    let mut facet_times = Vec::new();
    for _ in 0..3 {
        for (i, text) in queries.iter().enumerate() {
            let started = Instant::now();
            index.search(&faceted(i, text)).await.unwrap();
            facet_times.push(started.elapsed());
        }
    }
    report("facets + one filter (20 hits)", facet_times);

    let mut browse_times = Vec::new();
    for i in 0..60 {
        let mut q = faceted(i, "");
        q.sort = [
            SearchSort::Relevance,
            SearchSort::PriceAsc,
            SearchSort::BestSelling,
        ][i % 3];
        let started = Instant::now();
        index.search(&q).await.unwrap();
        browse_times.push(started.elapsed());
    }
    report("browse (empty text) + facets + one filter", browse_times);

    let mut browse_plain_times = Vec::new();
    for i in 0..60 {
        let mut q = plain("");
        q.sort = [
            SearchSort::Relevance,
            SearchSort::PriceAsc,
            SearchSort::BestSelling,
        ][i % 3];
        let started = Instant::now();
        index.search(&q).await.unwrap();
        browse_plain_times.push(started.elapsed());
    }
    report(
        "browse (empty text), no facet, no filter",
        browse_plain_times,
    );

    let mut suggest_times = Vec::new();
    for text in &queries {
        let prefix: String = text.chars().take(4).collect();
        let started = Instant::now();
        index.suggest(&prefix, 8).await.unwrap();
        suggest_times.push(started.elapsed());
    }
    report("suggest (first 4 characters, 8 names)", suggest_times);

    // Show a few results for eyeballing.
    for text in [
        "mat ong bac ha",
        "đường",
        "shann",
        "che shan tuyet y ty",
        "honey",
        "thit trau gac bepp",
    ] {
        let r = index.search(&plain(text)).await.unwrap();
        println!(
            "{text:?}: total {} first {:?}",
            r.total,
            r.hits
                .iter()
                .take(3)
                .map(|h| h.highlighted_name.as_str())
                .collect::<Vec<_>>()
        );
    }
    println!("segments at the end: {}", index.segment_count());
    if std::env::var("MAPPINGS").is_ok() {
        println!("{}", big_mappings());
    }
    println!(
        "steady (index open, after all queries): VmRSS {} / peak VmHWM {} / {}",
        status("VmRSS"),
        status("VmHWM"),
        rollup()
    );
}
