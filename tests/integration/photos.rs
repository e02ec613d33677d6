//! Product and batch photos over real HTTP: uploads from the API and from the page form,
//! metadata stripped (GPS included), EXIF orientation applied, refusals that store nothing,
//! the variants served with immutable caching, order, deletion, and one cooperative kept out
//! of another's photos.

use std::io::Cursor;

use image::{ImageDecoder, ImageFormat, ImageReader, Rgb, RgbImage};
use ocop_market::entities::photos;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::support::{
    TestApp, User, into_json, names_field, published_product, verified_cooperative,
};

/// A camera make written into the test photos' EXIF block, to look for in the output.
pub(crate) const SECRET_MAKE: &[u8] = b"OCOPTestCam";

/// A JPEG of `width` × `height` whose top half is red and bottom half blue, with an EXIF
/// block carrying `orientation`, a camera make and a GPS position.
pub(crate) fn jpeg_with_exif(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let picture = RgbImage::from_fn(width, height, |_, y| {
        if y < height / 2 {
            Rgb([220, 20, 20])
        } else {
            Rgb([20, 20, 220])
        }
    });
    let mut jpeg = Vec::new();
    picture
        .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
        .unwrap();
    insert_exif(&jpeg, &exif_block(orientation))
}

/// A little-endian TIFF block: IFD0 with Make, Orientation and a GPS IFD pointer; the GPS
/// IFD with latitude and longitude.
fn exif_block(orientation: u16) -> Vec<u8> {
    fn entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&value);
    }
    fn rationals(out: &mut Vec<u8>, values: [(u32, u32); 3]) {
        for (n, d) in values {
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(&d.to_le_bytes());
        }
    }
    const IFD0: u32 = 8;
    const MAKE: u32 = IFD0 + 2 + 3 * 12 + 4; // 50
    const GPS_IFD: u32 = MAKE + 12; // 62
    const LATITUDE: u32 = GPS_IFD + 2 + 4 * 12 + 4; // 116
    const LONGITUDE: u32 = LATITUDE + 24; // 140
    let mut tiff = b"II\x2a\x00".to_vec();
    tiff.extend_from_slice(&IFD0.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    entry(&mut tiff, 0x010f, 2, 12, MAKE.to_le_bytes());
    let [o0, o1] = orientation.to_le_bytes();
    entry(&mut tiff, 0x0112, 3, 1, [o0, o1, 0, 0]);
    entry(&mut tiff, 0x8825, 4, 1, GPS_IFD.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(SECRET_MAKE);
    tiff.push(0);
    tiff.extend_from_slice(&4u16.to_le_bytes());
    entry(&mut tiff, 0x0001, 2, 2, *b"N\0\0\0");
    entry(&mut tiff, 0x0002, 5, 3, LATITUDE.to_le_bytes());
    entry(&mut tiff, 0x0003, 2, 2, *b"E\0\0\0");
    entry(&mut tiff, 0x0004, 5, 3, LONGITUDE.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    rationals(&mut tiff, [(22, 1), (20, 1), (1234, 100)]);
    rationals(&mut tiff, [(103, 1), (50, 1), (2222, 100)]);
    assert_eq!(tiff.len() as u32, LONGITUDE + 24);
    tiff
}

/// Inserts an APP1 "Exif" segment right after the JPEG's start-of-image marker.
fn insert_exif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], b"\xff\xd8");
    let mut segment = b"Exif\0\0".to_vec();
    segment.extend_from_slice(tiff);
    let length = u16::try_from(segment.len() + 2).unwrap();
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(b"\xff\xe1");
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&segment);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A PNG whose header claims `width` × `height` pixels over a few bytes of data: what a
/// decompression bomb looks like to a server.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &header);
    // A zlib stream of a few empty deflate blocks: far less than the header promises.
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn encoded(picture: &image::DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    picture
        .write_to(&mut Cursor::new(&mut out), format)
        .unwrap();
    out
}

async fn upload(user: &User, path: &str, bytes: Vec<u8>, file_name: &str) -> (StatusCode, Value) {
    let form = Form::new().part("photo", Part::bytes(bytes).file_name(file_name.to_owned()));
    let response = user
        .client
        .post(user.url(path))
        .multipart(form)
        .send()
        .await
        .unwrap();
    into_json(response).await
}

async fn fetch(app: &TestApp, url: &str) -> reqwest::Response {
    app.client().get(app.url(url)).send().await.unwrap()
}

/// Every file under the app's photo folder, with its bytes.
fn stored_files(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    let dir = app.state.config.data_dir.join("media").join("photos");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// An owner with a verified cooperative and one published product: (owner, product id, slug).
async fn shop(app: &TestApp, admin: &User, phone: &str, registration: &str) -> (User, i64, String) {
    let owner = app.user(phone).await;
    let cooperative = verified_cooperative(admin, &owner, registration, "HTX Ảnh Đẹp").await;
    let (product, slug) = published_product(&owner, cooperative, "Mật ong bạc hà").await;
    (owner, product, slug)
}

#[tokio::test]
async fn a_photo_loses_its_gps_position_and_is_turned_upright() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (owner, product, slug) = shop(&app, &admin, "0912000001", "PH-001").await;

    // Stored 1000 × 600 with orientation 6: the camera was held upright, so the photo is
    // 600 wide and 1000 high, and what is stored at the top shows on the right.
    let upload_bytes = jpeg_with_exif(1000, 600, 6);
    assert!(contains(&upload_bytes, SECRET_MAKE));
    let (status, photo) = upload(
        &owner,
        &format!("/api/v1/products/{product}/photos"),
        upload_bytes,
        "IMG_0001.jpg",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{photo}");
    assert_eq!(
        (photo["width"].as_u64(), photo["height"].as_u64()),
        (Some(600), Some(1000))
    );
    let widths: Vec<u64> = photo["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["width"].as_u64().unwrap())
        .collect();
    assert_eq!(widths, vec![320, 600]);

    for variant in photo["variants"].as_array().unwrap() {
        let response = fetch(&app, variant["url"].as_str().unwrap()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "image/jpeg");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let bytes = response.bytes().await.unwrap();
        // No EXIF block at all, so neither the make nor the position.
        assert!(!contains(&bytes, b"Exif\0\0"), "an EXIF block survived");
        assert!(!contains(&bytes, SECRET_MAKE));
        let mut decoder = ImageReader::with_format(Cursor::new(&bytes), ImageFormat::Jpeg)
            .into_decoder()
            .unwrap();
        assert_eq!(decoder.exif_metadata().unwrap(), None);
        let picture = image::DynamicImage::from_decoder(decoder)
            .unwrap()
            .into_rgb8();
        let (w, h) = picture.dimensions();
        assert!(h > w, "upright: {w} × {h}");
        // Red (stored top) on the right, blue on the left.
        let right = picture.get_pixel(w * 3 / 4, h / 2).0;
        let left = picture.get_pixel(w / 4, h / 2).0;
        assert!(right[0] > 150 && right[2] < 100, "right is red: {right:?}");
        assert!(left[2] > 150 && left[0] < 100, "left is blue: {left:?}");
    }
    // Nothing on disk carries the metadata either (the upload itself is never stored).
    let files = stored_files(&app);
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|(_, bytes)| !contains(bytes, SECRET_MAKE)));

    // The product page shows it at a fixed size with a srcset; the list shows the cover.
    let (status, html) = owner.page(&format!("/products/{slug}")).await;
    assert_eq!(status, StatusCode::OK);
    let src = photo["src"].as_str().unwrap();
    assert!(html.contains(src), "product page shows the photo");
    assert!(html.contains("srcset=\"") && html.contains("width=\"600\" height=\"1000\""));
    let (_, list) = owner.page("/products").await;
    assert!(list.contains(src) && list.contains("loading=\"lazy\""));
    let (_, detail) = owner.get(&format!("/api/v1/products/{product}")).await;
    assert_eq!(detail["photo"]["src"], photo["src"]);
    assert_eq!(detail["photos"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn png_and_webp_become_jpeg_and_transparency_is_white() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (owner, product, _) = shop(&app, &admin, "0912000002", "PH-002").await;

    let transparent =
        image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(400, 300, |x, _| {
            if x < 200 {
                image::Rgba([0, 0, 0, 0])
            } else {
                image::Rgba([10, 120, 10, 255])
            }
        }));
    for (format, name) in [
        (ImageFormat::Png, "leaf.png"),
        (ImageFormat::WebP, "leaf.webp"),
    ] {
        let (status, photo) = upload(
            &owner,
            &format!("/api/v1/products/{product}/photos"),
            encoded(&transparent, format),
            name,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {photo}");
        let bytes = fetch(&app, photo["src"].as_str().unwrap())
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Jpeg);
        let picture = image::load_from_memory(&bytes).unwrap().into_rgb8();
        let clear = picture.get_pixel(50, 150).0;
        assert!(
            clear.iter().all(|&c| c > 240),
            "{name}: transparent is white: {clear:?}"
        );
    }
}

#[tokio::test]
async fn bombs_and_other_files_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (owner, product, _) = shop(&app, &admin, "0912000003", "PH-003").await;
    let path = format!("/api/v1/products/{product}/photos");

    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.extend_from_slice(&[0u8; 512]);
    let good = jpeg_with_exif(800, 600, 1);
    let mut truncated = good.clone();
    truncated.truncate(good.len() / 3);
    let oversized = vec![0xffu8; 21 * 1024 * 1024];
    let tiny = encoded(
        &image::DynamicImage::ImageRgb8(RgbImage::new(100, 80)),
        ImageFormat::Png,
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bomb.png",
            png_bomb(30_000, 30_000),
            "photo_too_many_pixels",
        ),
        ("notes.txt", b"Giao hang thu 3".to_vec(), "photo_not_image"),
        ("IMG_0002.HEIC", heic, "photo_heic"),
        ("cut.jpg", truncated, "photo_corrupt"),
        ("huge.jpg", oversized, "photo_too_large"),
        ("tiny.png", tiny, "photo_too_small"),
        ("empty.jpg", Vec::new(), "photo_missing"),
    ];
    for (name, bytes, code) in cases {
        let (status, problem) = upload(&owner, &path, bytes, name).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {problem}"
        );
        assert!(names_field(&problem, "photo"), "{name}: {problem}");
        assert_eq!(problem["errors"][0]["code"], code, "{name}: {problem}");
    }
    // A form without the file, and a body that is not a form at all.
    let form = Form::new().text("caption", "no file");
    let response = owner
        .client
        .post(owner.url(&path))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, problem) = into_json(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["code"], "photo_missing");
    let (status, _) = owner.post(&path, json!({"photo": "x"})).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert_eq!(app.count(photos::Entity).await, 0);
    assert!(stored_files(&app).is_empty(), "nothing was stored");

    // The page form shows the reason beside the file field, in Vietnamese.
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    let form = Form::new().part("photo", Part::bytes(heic).file_name("IMG_0003.HEIC"));
    let response = owner
        .client
        .post(owner.url(&format!("/workspace/products/{product}/photos")))
        .header("sec-fetch-site", "same-origin")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("id=\"photo-error\""),
        "error beside the field"
    );
    assert!(
        html.contains("HEIC") && html.contains("Tương thích nhất"),
        "says what to do"
    );
    assert_eq!(app.count(photos::Entity).await, 0);
}

#[tokio::test]
async fn photos_are_ordered_moved_and_deleted_with_their_files() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (owner, product, _) = shop(&app, &admin, "0912000004", "PH-004").await;
    let path = format!("/api/v1/products/{product}/photos");

    let mut ids = Vec::new();
    for i in 0..3u8 {
        let picture =
            image::DynamicImage::ImageRgb8(RgbImage::from_pixel(400, 300, Rgb([i * 80, 100, 50])));
        // Through the page form for the first, the API for the others.
        if i == 0 {
            let form = Form::new().part(
                "photo",
                Part::bytes(encoded(&picture, ImageFormat::Jpeg)).file_name("a.jpg"),
            );
            let response = owner
                .client
                .post(owner.url(&format!("/workspace/products/{product}/photos")))
                .header("sec-fetch-site", "same-origin")
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            let (_, list) = owner.get(&path).await;
            ids.push(list[0]["id"].as_i64().unwrap());
        } else {
            let (status, photo) =
                upload(&owner, &path, encoded(&picture, ImageFormat::Jpeg), "b.jpg").await;
            assert_eq!(status, StatusCode::CREATED);
            ids.push(photo["id"].as_i64().unwrap());
        }
    }
    let cover = |detail: &Value| {
        detail["photo"]["src"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let (_, list) = owner.get(&path).await;
    let src_of = |id: i64| -> String {
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap()["src"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (_, detail) = owner.get(&format!("/api/v1/products/{product}")).await;
    assert_eq!(cover(&detail), src_of(ids[0]));

    // A new order through the API; the cover follows.
    let (status, reordered) = owner
        .put(
            &format!("{path}/order"),
            json!({"photo_ids": [ids[2], ids[0], ids[1]]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reordered}");
    let (_, detail) = owner.get(&format!("/api/v1/products/{product}")).await;
    assert_eq!(cover(&detail), src_of(ids[2]));
    // An order that leaves one out, or names one twice, changes nothing.
    for bad in [json!([ids[0], ids[1]]), json!([ids[0], ids[0], ids[1]])] {
        let (status, problem) = owner
            .put(&format!("{path}/order"), json!({"photo_ids": bad}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    }
    // The page's "move up" button.
    let response = owner
        .form(
            &format!("/workspace/photos/{}/move", ids[0]),
            &[("direction", "up")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, list_now) = owner.get(&path).await;
    assert_eq!(list_now[0]["id"], ids[0]);

    // Deleting a photo removes its files.
    let deleted_src = src_of(ids[1]);
    assert_eq!(fetch(&app, &deleted_src).await.status(), StatusCode::OK);
    let response = owner
        .client
        .delete(owner.url(&format!("/api/v1/photos/{}", ids[1])))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        fetch(&app, &deleted_src).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        stored_files(&app).len(),
        2 * 2,
        "two photos of two widths remain"
    );

    // Deleting the product removes the rest.
    let response = owner
        .client
        .delete(owner.url(&format!("/api/v1/products/{product}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(stored_files(&app).is_empty());
    assert_eq!(app.count(photos::Entity).await, 0);
}

#[tokio::test]
async fn a_product_with_a_batch_is_archived_not_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (owner, product, _) = shop(&app, &admin, "0912000005", "PH-005").await;
    let (status, batch) = owner
        .post(
            &format!("/api/v1/products/{product}/batches"),
            json!({"lot_code": "L01", "quantity": "100", "quantity_unit": "chai"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let batch_id = batch["id"].as_i64().unwrap();
    let (status, photo) = upload(
        &owner,
        &format!("/api/v1/batches/{batch_id}/photos"),
        jpeg_with_exif(640, 480, 1),
        "harvest.jpg",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{photo}");

    let response = owner
        .client
        .delete(owner.url(&format!("/api/v1/products/{product}")))
        .send()
        .await
        .unwrap();
    let (status, problem) = into_json(response).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["code"], "product_in_use");
    assert_eq!(app.count(photos::Entity).await, 1);
    assert_eq!(
        fetch(&app, photo["src"].as_str().unwrap()).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn another_cooperative_cannot_touch_photos() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (owner_a, product_a, _) = shop(&app, &admin, "0912000006", "PH-006").await;
    let (owner_b, _, _) = shop(&app, &admin, "0912000007", "PH-007").await;
    let (status, photo) = upload(
        &owner_a,
        &format!("/api/v1/products/{product_a}/photos"),
        jpeg_with_exif(640, 480, 1),
        "a.jpg",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let photo_id = photo["id"].as_i64().unwrap();
    let files_before = stored_files(&app);

    let (status, _) = upload(
        &owner_b,
        &format!("/api/v1/products/{product_a}/photos"),
        jpeg_with_exif(640, 480, 1),
        "b.jpg",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = owner_b
        .get(&format!("/api/v1/products/{product_a}/photos"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = owner_b
        .put(
            &format!("/api/v1/products/{product_a}/photos/order"),
            json!({"photo_ids": [photo_id]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = owner_b
        .client
        .delete(owner_b.url(&format!("/api/v1/photos/{photo_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    for action in ["move", "delete"] {
        let response = owner_b
            .form(
                &format!("/workspace/photos/{photo_id}/{action}"),
                &[("direction", "down")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
    }
    let response = owner_b
        .form(&format!("/workspace/products/{product_a}/delete"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    assert_eq!(app.count(photos::Entity).await, 1);
    assert_eq!(stored_files(&app), files_before);
    // Anonymous visitors cannot upload either.
    let response = app
        .client()
        .post(app.url(&format!("/api/v1/products/{product_a}/photos")))
        .multipart(Form::new().part("photo", Part::bytes(jpeg_with_exif(640, 480, 1))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

/// A local S3 service: moto's server (PyPI `moto[server]`, installed by `.ci/run`), on a free
/// port, killed when dropped. `None` (the test says it skipped) when moto is not installed,
/// unless `CI=true`.
struct MotoServer {
    child: std::process::Child,
    endpoint: String,
}

impl MotoServer {
    async fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(err) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!(
                    "SKIPPED: moto_server (pip install 'moto[server]') is not installed: {err}"
                );
                return None;
            }
            Err(err) => panic!("moto_server is needed in CI (pip install 'moto[server]'): {err}"),
        };
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..200 {
            if reqwest::get(&server.endpoint).await.is_ok() {
                return Some(server);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("moto_server did not answer at {}", server.endpoint);
    }

    /// The names of the objects in `bucket`, by the S3 API's ListObjectsV2 (which moto answers
    /// unsigned).
    async fn object_names(&self, bucket: &str) -> Vec<String> {
        let listing = reqwest::get(format!("{}/{bucket}?list-type=2", self.endpoint))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        listing
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
            .collect()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn photos_live_in_an_s3_bucket_when_one_is_configured() {
    let Some(s3) = MotoServer::start().await else {
        return;
    };
    let bucket = "ocop-photos";
    let created = reqwest::Client::new()
        .put(format!("{}/{bucket}", s3.endpoint))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "bucket: {}",
        created.status()
    );

    let endpoint = s3.endpoint.clone();
    let app = TestApp::spawn_with(move |config| {
        config.media.storage =
            ocop_market::config::MediaStorage::S3(ocop_market::config::S3Storage {
                bucket: bucket.to_owned(),
                region: "us-east-1".to_owned(),
                endpoint: Some(endpoint),
                credentials: Some((
                    "test-key-id".to_owned(),
                    ocop_market::config::Secret::new("test-secret"),
                )),
            });
    })
    .await;
    let admin = app.admin().await;
    let (owner, product, _) = shop(&app, &admin, "0912000009", "PH-009").await;

    let (status, photo) = upload(
        &owner,
        &format!("/api/v1/products/{product}/photos"),
        jpeg_with_exif(1000, 600, 1),
        "ruong-bac-thang.jpg",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{photo}");
    let src = photo["src"].as_str().unwrap().to_owned();
    let key = src.trim_start_matches("/media/");
    assert!(key.starts_with("photos/"), "{src}");

    // The file is in the bucket, not on the app server's disk, and is served from the bucket.
    let objects = s3.object_names(bucket).await;
    assert!(objects.contains(&key.to_owned()), "{key} in {objects:?}");
    assert!(objects.iter().all(|name| name.starts_with("photos/")));
    assert!(stored_files(&app).is_empty(), "nothing under ./data/media");
    let served = fetch(&app, &src).await;
    assert_eq!(served.status(), StatusCode::OK);
    let bytes = served.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");
    assert!(
        !contains(&bytes, SECRET_MAKE),
        "no metadata in the bucket either"
    );

    // Deleting the photo deletes its objects.
    let response = owner
        .client
        .delete(owner.url(&format!("/api/v1/photos/{}", photo["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        s3.object_names(bucket).await,
        Vec::<String>::new(),
        "every width deleted"
    );
    assert_eq!(fetch(&app, &src).await.status(), StatusCode::NOT_FOUND);
}
