//! Turning an uploaded photo into what pages serve. Pure and synchronous (callers run it on a
//! blocking thread): check the bytes, decode within limits, turn the picture upright from its
//! EXIF orientation, and re-encode it as baseline JPEG in a few widths.
//!
//! Re-encoding from decoded pixels is also what strips the metadata: nothing of the upload but
//! its pixels reaches the output, so a farm's GPS position in the EXIF block, the camera's
//! serial number or an embedded thumbnail cannot leak.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};
use sha2::{Digest, Sha256};

use crate::config::PhotoLimits;
use crate::domain::FieldIssue;

/// Changes whenever the output for the same upload changes (widths, quality, filter): the
/// digest, and so every file name, changes with it, which keeps immutable caching honest.
const PROCESSING_VERSION: &[u8] = b"ocop-photo-v1";

/// Widths pages ask for: a list thumbnail on a phone, a product page on a phone, and a product
/// page on a wide screen or a dense display. Narrower uploads get fewer variants.
pub const VARIANT_WIDTHS: [u32; 3] = [320, 640, 1280];

/// JPEG quality of every variant: 80 keeps product photos sharp at about a tenth of the size
/// of a phone camera's output.
const JPEG_QUALITY: u8 = 80;

/// A photo narrower or lower than this is refused: it would show blurred on every page.
pub const MIN_SIDE: u32 = 160;

/// No side may be longer than this whatever the pixel count (a 1 × 1,000,000 strip is a
/// decoding trap, not a photo).
const MAX_SIDE: u32 = 16_384;

/// Why an upload was refused; each says what the member can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    TooLarge {
        max_bytes: usize,
    },
    /// HEIC/HEIF, what iPhones save by default.
    Heic,
    UnsupportedFormat(&'static str),
    NotAnImage,
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    TooSmall {
        width: u32,
        height: u32,
    },
    Corrupt,
}

impl Rejection {
    /// The field issue a form or the API shows for the `photo` field.
    pub fn to_issue(&self) -> FieldIssue {
        match self {
            Self::Empty => FieldIssue::new("photo_missing", "choose a photo to upload"),
            Self::TooLarge { max_bytes } => FieldIssue::new(
                "photo_too_large",
                format!(
                    "the file is larger than {} MB; send a smaller photo",
                    max_bytes / (1024 * 1024)
                ),
            ),
            Self::Heic => FieldIssue::new(
                "photo_heic",
                "HEIC photos (the iPhone default) are not supported yet; choose \"Most \
                 Compatible\" in Settings > Camera > Formats, or share the photo as JPEG",
            ),
            Self::UnsupportedFormat(format) => FieldIssue::new(
                "photo_format",
                format!("{format} files are not supported; send a JPEG, PNG or WebP photo"),
            ),
            Self::NotAnImage => FieldIssue::new(
                "photo_not_image",
                "this file is not a photo; send a JPEG, PNG or WebP photo",
            ),
            Self::TooManyPixels {
                width,
                height,
                max_pixels,
            } => FieldIssue::new(
                "photo_too_many_pixels",
                format!(
                    "the photo is {width} × {height} pixels, more than {} megapixels",
                    max_pixels / 1_000_000
                ),
            ),
            Self::TooSmall { width, height } => FieldIssue::new(
                "photo_too_small",
                format!(
                    "the photo is only {width} × {height} pixels; send one at least \
                     {MIN_SIDE} pixels wide and high"
                ),
            ),
            Self::Corrupt => FieldIssue::new(
                "photo_corrupt",
                "the photo could not be read (damaged or incomplete file); send it again",
            ),
        }
    }
}

/// One stored size of a photo.
#[derive(Debug, Clone)]
pub struct Variant {
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

/// A photo ready to store: upright, metadata-free, in ascending widths.
#[derive(Debug, Clone)]
pub struct ProcessedPhoto {
    /// 32 hex digits naming the photo's files; equal uploads share it.
    pub digest: String,
    pub variants: Vec<Variant>,
}

impl ProcessedPhoto {
    /// The largest variant (there is always at least one).
    pub fn largest(&self) -> &Variant {
        self.variants
            .last()
            .expect("process() always yields at least one variant")
    }

    pub fn stored_bytes(&self) -> u64 {
        self.variants.iter().map(|v| v.jpeg.len() as u64).sum()
    }
}

/// Checks, decodes, orients and re-encodes an upload.
pub fn process(bytes: &[u8], limits: &PhotoLimits) -> Result<ProcessedPhoto, Rejection> {
    let upright = flatten_to_rgb(decode_upright(bytes, limits, MIN_SIDE)?);
    Ok(ProcessedPhoto {
        digest: digest(bytes),
        variants: encode_variants(&upright),
    })
}

/// An upload decoded within the same limits, upright, in grey levels laid on white: for
/// reading the QR codes in a photo (of stamps on parcels), which is not stored. Any picture
/// from 21 pixels a side (the smallest QR code) is read.
pub fn decode_gray(bytes: &[u8], limits: &PhotoLimits) -> Result<image::GrayImage, Rejection> {
    let upright = flatten_to_rgb(decode_upright(bytes, limits, 21)?);
    Ok(DynamicImage::ImageRgb8(upright).into_luma8())
}

/// Checks the bytes and decodes them within the limits, turned upright.
fn decode_upright(
    bytes: &[u8],
    limits: &PhotoLimits,
    min_side: u32,
) -> Result<DynamicImage, Rejection> {
    if bytes.is_empty() {
        return Err(Rejection::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(Rejection::TooLarge {
            max_bytes: limits.max_bytes,
        });
    }
    let format = sniff_format(bytes)?;
    // The JPEG decoder fills a cut-off photo with grey rather than failing; a photo that
    // stopped arriving halfway must be sent again, not published half grey.
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(Rejection::Corrupt);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(MAX_SIDE);
    decode_limits.max_image_height = Some(MAX_SIDE);
    // The decoded picture (up to 4 bytes a pixel) plus the decoder's own buffers.
    decode_limits.max_alloc = Some(limits.max_pixels.saturating_mul(4) + 64 * 1024 * 1024);
    reader.limits(decode_limits);
    let mut decoder = reader.into_decoder().map_err(|e| refusal(e, limits))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(Rejection::TooManyPixels {
            width,
            height,
            max_pixels: limits.max_pixels,
        });
    }
    if width < min_side || height < min_side {
        return Err(Rejection::TooSmall { width, height });
    }
    // A missing or unreadable EXIF block means "as stored".
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut picture = DynamicImage::from_decoder(decoder).map_err(|e| refusal(e, limits))?;
    picture.apply_orientation(orientation);
    Ok(picture)
}

/// The format from the first bytes, refusing what we do not decode with a useful message.
fn sniff_format(bytes: &[u8]) -> Result<ImageFormat, Rejection> {
    if let Some(brand) = iso_media_brand(bytes) {
        return Err(match brand {
            b"avif" | b"avis" => Rejection::UnsupportedFormat("AVIF"),
            _ => Rejection::Heic,
        });
    }
    match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(format),
        Ok(ImageFormat::Gif) => Err(Rejection::UnsupportedFormat("GIF")),
        Ok(ImageFormat::Tiff) => Err(Rejection::UnsupportedFormat("TIFF")),
        Ok(ImageFormat::Bmp) => Err(Rejection::UnsupportedFormat("BMP")),
        Ok(_) => Err(Rejection::UnsupportedFormat("this image format")),
        Err(_) => Err(Rejection::NotAnImage),
    }
}

/// The major brand of an ISO base media file (`....ftypheic`), which HEIC, HEIF and AVIF
/// photos are.
fn iso_media_brand(bytes: &[u8]) -> Option<&[u8; 4]> {
    if bytes.get(4..8)? != b"ftyp" {
        return None;
    }
    bytes.get(8..12)?.try_into().ok()
}

/// Whether a JPEG's compressed picture ends with its end-of-image marker. The marker
/// segments before the first scan are skipped by their lengths (an EXIF thumbnail is a whole
/// JPEG with an end marker of its own); within the scans a 0xFF byte is always followed by 0x00
/// or a restart marker, so 0xFF 0xD9 there is the real end. Data after it (a phone's motion
/// clip) does not matter.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut at = 2; // after the start-of-image marker
    loop {
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1; // fill bytes
        }
        if bytes.get(at) != Some(&0xFF) {
            return false;
        }
        match bytes.get(at + 1) {
            Some(0xDA) => break,
            Some(_) => {}
            None => return false,
        }
        let (Some(&high), Some(&low)) = (bytes.get(at + 2), bytes.get(at + 3)) else {
            return false;
        };
        at += 2 + usize::from(u16::from_be_bytes([high, low]));
    }
    bytes[at..].windows(2).any(|pair| pair == [0xFF, 0xD9])
}

fn refusal(error: ImageError, limits: &PhotoLimits) -> Rejection {
    match error {
        ImageError::Limits(_) => Rejection::TooManyPixels {
            width: 0,
            height: 0,
            max_pixels: limits.max_pixels,
        },
        ImageError::Unsupported(_) => Rejection::UnsupportedFormat("this kind of image"),
        _ => Rejection::Corrupt,
    }
}

/// RGB for JPEG; a transparent PNG or WebP is laid on white, as product photos are shown.
fn flatten_to_rgb(picture: DynamicImage) -> RgbImage {
    if !picture.color().has_alpha() {
        return picture.into_rgb8();
    }
    let rgba = picture.into_rgba8();
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = px.0;
        let over_white = |c: u8| -> u8 {
            let (c, a) = (u16::from(c), u16::from(a));
            // c·a + 255·(255 − a), rounded, over 255.
            ((c * a + 255 * (255 - a) + 127) / 255) as u8
        };
        out.0 = [over_white(r), over_white(g), over_white(b)];
    }
    rgb
}

/// The widths a picture `width` wide is stored at: every standard width narrower than it,
/// then the picture itself up to the largest standard width. Never enlarged.
pub fn variant_widths(width: u32) -> Vec<u32> {
    let largest = width.min(VARIANT_WIDTHS[VARIANT_WIDTHS.len() - 1]);
    let mut widths: Vec<u32> = VARIANT_WIDTHS
        .iter()
        .copied()
        .filter(|&w| w < largest)
        .collect();
    widths.push(largest);
    widths
}

fn encode_variants(upright: &RgbImage) -> Vec<Variant> {
    let widths = variant_widths(upright.width());
    // Largest first, each from the one before: shrinking a 12-megapixel picture once and then
    // the small copies is several times faster than shrinking the original each time, and
    // looks the same.
    let mut variants = Vec::with_capacity(widths.len());
    let mut source: Option<RgbImage> = None;
    for &width in widths.iter().rev() {
        let from = source.as_ref().unwrap_or(upright);
        let height = scaled_height(upright.width(), upright.height(), width);
        let resized = if from.width() == width {
            from.clone()
        } else {
            image::imageops::thumbnail(from, width, height)
        };
        variants.push(Variant {
            width,
            height,
            jpeg: encode_jpeg(&resized),
        });
        source = Some(resized);
    }
    variants.reverse();
    variants
}

fn scaled_height(width: u32, height: u32, target_width: u32) -> u32 {
    let scaled = (u64::from(height) * u64::from(target_width) + u64::from(width) / 2)
        / u64::from(width).max(1);
    u32::try_from(scaled.max(1)).unwrap_or(u32::MAX)
}

fn encode_jpeg(picture: &RgbImage) -> Vec<u8> {
    let mut out = Vec::with_capacity(picture.as_raw().len() / 8);
    let mut encoder = JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
    // Encoding an in-memory RGB buffer into a Vec fails only on an impossible size, which the
    // limits above exclude.
    encoder
        .encode_image(picture)
        .expect("encoding an RGB picture into memory");
    out
}

fn digest(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(PROCESSING_VERSION);
    hasher.update(bytes);
    let hex = data_encoding::HEXLOWER.encode(&hasher.finalize());
    hex[..32].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_never_enlarged() {
        assert_eq!(variant_widths(4000), vec![320, 640, 1280]);
        assert_eq!(variant_widths(1280), vec![320, 640, 1280]);
        assert_eq!(variant_widths(800), vec![320, 640, 800]);
        assert_eq!(variant_widths(640), vec![320, 640]);
        assert_eq!(variant_widths(200), vec![200]);
    }

    #[test]
    fn heights_keep_the_aspect_ratio() {
        assert_eq!(scaled_height(4000, 3000, 1280), 960);
        assert_eq!(scaled_height(3000, 4000, 320), 427);
    }

    #[test]
    fn iso_media_photos_are_named() {
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        assert_eq!(sniff_format(&heic), Err(Rejection::Heic));
        let mut avif = vec![0, 0, 0, 24];
        avif.extend_from_slice(b"ftypavif\0\0\0\0mif1avif");
        assert_eq!(
            sniff_format(&avif),
            Err(Rejection::UnsupportedFormat("AVIF"))
        );
        assert_eq!(sniff_format(b"hello, world"), Err(Rejection::NotAnImage));
        assert_eq!(
            sniff_format(b"GIF89a\x01\x00\x01\x00"),
            Err(Rejection::UnsupportedFormat("GIF"))
        );
    }

    #[test]
    fn a_cut_off_jpeg_is_incomplete() {
        let picture = RgbImage::from_pixel(64, 64, image::Rgb([10, 200, 30]));
        let mut jpeg = Vec::new();
        picture
            .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        assert!(jpeg_is_complete(&jpeg));
        let mut with_clip = jpeg.clone();
        with_clip.extend_from_slice(b"....ftypmp42 a motion clip");
        assert!(jpeg_is_complete(&with_clip));
        assert!(!jpeg_is_complete(&jpeg[..jpeg.len() - 2]));
        assert!(!jpeg_is_complete(&jpeg[..jpeg.len() / 2]));
        assert!(!jpeg_is_complete(&jpeg[..3]));
    }

    #[test]
    fn transparency_is_laid_on_white() {
        let mut rgba = image::RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, image::Rgba([0, 0, 0, 255]));
        let rgb = flatten_to_rgb(DynamicImage::ImageRgba8(rgba));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(rgb.get_pixel(1, 0).0, [0, 0, 0]);
    }

    #[test]
    fn the_same_upload_has_the_same_digest() {
        assert_eq!(digest(b"abc"), digest(b"abc"));
        assert_ne!(digest(b"abc"), digest(b"abd"));
        assert_eq!(digest(b"abc").len(), 32);
    }
}
