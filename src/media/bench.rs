//! `ocop-market bench photos`: how long one phone photo takes to become what pages serve.
//! Generates a photo-like JPEG (smooth gradients with sensor-like noise, so the encoder works
//! as hard as on a real photo) with an EXIF orientation, then times [`process`] on it.

use std::io::Cursor;
use std::time::Instant;

use image::{ImageFormat, Rgb, RgbImage};

use super::processing::process;
use crate::config::PhotoLimits;

pub fn run(megapixels: u32, runs: usize) -> anyhow::Result<()> {
    let pixels = f64::from(megapixels.clamp(1, 48)) * 1_000_000.0;
    let width = (pixels * 4.0 / 3.0).sqrt().round() as u32;
    let height = (f64::from(width) * 3.0 / 4.0).round() as u32;
    let upload = phone_photo(width, height)?;
    println!(
        "photo: {width} × {height} ({:.1} MP), {:.1} MB JPEG; {runs} runs, one at a time",
        f64::from(width) * f64::from(height) / 1e6,
        upload.len() as f64 / 1e6
    );
    let limits = PhotoLimits::default();
    let mut times = Vec::with_capacity(runs);
    let mut output = None;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let processed = process(&upload, &limits).map_err(|r| anyhow::anyhow!("{r:?}"))?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        output = Some(processed);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let p90 = times[(times.len() * 9 / 10).min(times.len() - 1)];
    println!(
        "processing per upload: median {median:.0} ms, p90 {p90:.0} ms, min {:.0} ms",
        times[0]
    );
    if let Some(processed) = output {
        let sizes: Vec<String> = processed
            .variants
            .iter()
            .map(|v| {
                format!(
                    "{}×{} {:.0} KB",
                    v.width,
                    v.height,
                    v.jpeg.len() as f64 / 1024.0
                )
            })
            .collect();
        println!("variants: {}", sizes.join(", "));
    }
    Ok(())
}

fn phone_photo(width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    // A fixed xorshift so every run measures the same picture.
    let mut state: u32 = 0x9e37_79b9;
    let picture = RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 17) as i32 - 8;
        let channel = |base: u32| -> u8 { (base as i32 + noise).clamp(0, 255) as u8 };
        Rgb([
            channel(x * 200 / width + 30),
            channel(y * 180 / height + 40),
            channel(((x + y) * 120 / (width + height)) + 60),
        ])
    });
    let mut jpeg = Vec::new();
    picture.write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)?;
    Ok(jpeg)
}
