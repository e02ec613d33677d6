//! Photos for the demo catalogue, drawn by this code: one illustration per OCOP product group
//! (a bowl for food, a bottle for drinks, a leaf for herbs, woven stripes for textiles, a vase
//! for souvenirs, hills and a sun for tourism) on a background whose shade varies with the
//! product, so no two cards look alike. Each drawing is encoded as PNG and goes through the
//! real upload pipeline (`media::PhotoService::add`): turned into JPEG widths with a `srcset`,
//! metadata stripped. No image comes from outside the project (see `assets/demo/PHOTOS.md`).

use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};

use crate::accounts::CurrentUser;
use crate::entities::{cooperative_members, products};
use crate::media::{PhotoOwner, PhotoService};
use crate::reference::ReferenceData;

/// Size of a drawn photo (4:3, like a phone's photos, big enough for every width).
const WIDTH: u32 = 960;
const HEIGHT: u32 = 720;

/// Draws and uploads a photo for every product that has none. Returns how many it added.
pub async fn add_missing(
    db: &(impl ConnectionTrait + TransactionTrait),
    reference: &ReferenceData,
    photos: &PhotoService,
) -> anyhow::Result<usize> {
    let without_photo = products::Entity::find()
        .filter(products::Column::CoverPhoto.is_null())
        .all(db)
        .await?;
    let mut added = 0;
    for product in without_photo {
        let Some(member) = cooperative_members::Entity::find()
            .filter(cooperative_members::Column::CooperativeId.eq(product.cooperative_id))
            .one(db)
            .await?
        else {
            continue;
        };
        let uploader = CurrentUser {
            id: member.user_id,
            display_name: String::new(),
            is_admin: false,
        };
        let group = reference
            .category(&product.category_code)
            .map(|c| c.group_code.clone())
            .unwrap_or_default();
        let png = png_of(&draw(&group, product.id));
        photos
            .add(
                db,
                &uploader,
                product.cooperative_id,
                PhotoOwner::Product(product.id),
                bytes::Bytes::from(png),
            )
            .await
            .map_err(|e| anyhow::anyhow!("demo photo of {}: {e}", product.name))?;
        added += 1;
    }
    Ok(added)
}

fn png_of(picture: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing a PNG to memory fails only when out of memory.
    if picture
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .is_err()
    {
        out.clear();
    }
    out
}

/// The palette of a group: background, shape, detail.
fn palette(group: &str) -> ([u8; 3], [u8; 3], [u8; 3]) {
    match group {
        "food" => ([246, 226, 180], [196, 112, 44], [250, 246, 232]),
        "beverage" => ([206, 228, 238], [46, 104, 140], [236, 246, 250]),
        "herbal" => ([214, 236, 206], [46, 122, 64], [232, 246, 226]),
        "textile" => ([238, 214, 226], [150, 40, 92], [44, 64, 140]),
        "souvenir" => ([236, 222, 206], [140, 84, 40], [248, 240, 226]),
        "tourism" => ([210, 230, 248], [52, 120, 72], [250, 196, 64]),
        _ => ([232, 232, 228], [90, 90, 90], [250, 250, 250]),
    }
}

/// A colour lightened or darkened by `amount` (−40…40).
fn shade(colour: [u8; 3], amount: i32) -> Rgb<u8> {
    Rgb(colour.map(|c| u8::try_from((i32::from(c) + amount).clamp(0, 255)).unwrap_or(255)))
}

/// The illustration of a product of `group`; `seed` (the product id) varies its shade and the
/// shape's place a little.
pub fn draw(group: &str, seed: i64) -> RgbImage {
    let (background, shape, detail) = palette(group);
    let variation = i32::try_from(seed.rem_euclid(9)).unwrap_or(0) * 6 - 24;
    let offset = f64::from(i32::try_from(seed.rem_euclid(7)).unwrap_or(0) - 3) * 12.0;
    let (w, h) = (f64::from(WIDTH), f64::from(HEIGHT));
    let (cx, cy) = (w / 2.0 + offset, h / 2.0 + 20.0);
    RgbImage::from_fn(WIDTH, HEIGHT, |px, py| {
        let (x, y) = (f64::from(px), f64::from(py));
        // A soft diagonal gradient in the background.
        let gradient = i32::try_from((px + py) / 48).unwrap_or(0) % 2 * 6;
        let back = shade(background, variation + gradient);
        let inside_circle = |ox: f64, oy: f64, r: f64| (x - ox).powi(2) + (y - oy).powi(2) <= r * r;
        match group {
            "food" => {
                // A bowl: the lower half of a disc, with a rim and grains above it.
                let bowl = inside_circle(cx, cy - 40.0, 230.0) && y >= cy - 40.0;
                let rim = (y - (cy - 40.0)).abs() < 14.0 && (x - cx).abs() < 250.0;
                let grain = y < cy - 40.0
                    && inside_circle(cx, cy - 40.0, 190.0)
                    && ((px / 22 + py / 22) % 3 == 0);
                if rim {
                    shade(shape, -30)
                } else if bowl {
                    shade(shape, 0)
                } else if grain {
                    shade(detail, -10)
                } else {
                    back
                }
            }
            "beverage" => {
                // A bottle: a body, a neck and a label.
                let body = (x - cx).abs() < 120.0 && y > cy - 120.0 && y < cy + 250.0;
                let shoulder = inside_circle(cx, cy - 120.0, 120.0) && y <= cy - 120.0;
                let neck = (x - cx).abs() < 40.0 && y > cy - 310.0 && y <= cy - 120.0;
                let label = (x - cx).abs() < 100.0 && y > cy && y < cy + 140.0;
                if label && body {
                    shade(detail, 0)
                } else if body || shoulder || neck {
                    shade(shape, 0)
                } else {
                    back
                }
            }
            "herbal" => {
                // A leaf: where two discs overlap, with a vein along it.
                let leaf =
                    inside_circle(cx - 150.0, cy, 300.0) && inside_circle(cx + 150.0, cy, 300.0);
                let vein = (x - cx).abs() < 6.0 && leaf;
                if vein {
                    shade(detail, 0)
                } else if leaf {
                    shade(shape, 0)
                } else {
                    back
                }
            }
            "textile" => {
                // Woven stripes in a square of cloth.
                let cloth = (x - cx).abs() < 280.0 && (y - cy).abs() < 240.0;
                let warp = (px / 40) % 2 == 0;
                let weft = (py / 40) % 3 == 0;
                if !cloth {
                    back
                } else if weft {
                    shade(detail, 0)
                } else if warp {
                    shade(shape, 0)
                } else {
                    shade(shape, 40)
                }
            }
            "souvenir" => {
                // A vase: a round belly on a foot, with a band.
                let belly = inside_circle(cx, cy + 40.0, 200.0);
                let mouth = (x - cx).abs() < 70.0 && y > cy - 260.0 && y < cy - 120.0;
                let band = (y - (cy + 20.0)).abs() < 16.0 && belly;
                if band {
                    shade(detail, -40)
                } else if belly || mouth {
                    shade(shape, 0)
                } else {
                    back
                }
            }
            "tourism" => {
                // Hills under a sun.
                let sun = inside_circle(cx + 220.0, cy - 200.0, 80.0);
                let hill_a = y > cy + 40.0 - (260.0 - (x - cx + 180.0).abs()).max(0.0);
                let hill_b = y > cy + 120.0 - (220.0 - (x - cx - 160.0).abs()).max(0.0);
                if sun {
                    shade(detail, 0)
                } else if hill_b {
                    shade(shape, -20)
                } else if hill_a {
                    shade(shape, 10)
                } else {
                    back
                }
            }
            _ => {
                if inside_circle(cx, cy, 200.0) {
                    shade(shape, 0)
                } else {
                    back
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_gets_a_drawing_that_differs_from_the_others() {
        let groups = [
            "food", "beverage", "herbal", "textile", "souvenir", "tourism",
        ];
        let drawings: Vec<RgbImage> = groups.iter().map(|g| draw(g, 1)).collect();
        for (i, a) in drawings.iter().enumerate() {
            assert_eq!(a.dimensions(), (WIDTH, HEIGHT));
            for b in &drawings[i + 1..] {
                assert_ne!(a.as_raw(), b.as_raw());
            }
        }
        assert_ne!(draw("food", 1).as_raw(), draw("food", 2).as_raw());
        assert!(png_of(&drawings[0]).starts_with(b"\x89PNG"));
    }
}
