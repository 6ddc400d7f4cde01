//! The demo's map images: no tile can be recorded once for all, so the replay draws them — a
//! labelled grid (the word DEMO, the tile's z/x/y and the place at its centre, the layer's name)
//! that makes a map legible and shows at a glance that it is not the real basemap.

/// An RGB canvas.
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

type Rgb = [u8; 3];

const INK: Rgb = [0x27, 0x2f, 0x3f];
const GRID: Rgb = [0xb8, 0xc2, 0xcf];
const BORDER: Rgb = [0x6b, 0x78, 0x8c];

impl Canvas {
    /// A canvas filled with a light colour proper to `seed` (a layer name), so that two demo
    /// layers look different.
    pub fn new(width: u32, height: u32, seed: &str) -> Canvas {
        let hash = seed.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        // Pastel: each channel between 0xd8 and 0xf7.
        let background = [
            0xd8 + (hash & 0x1f) as u8,
            0xd8 + ((hash >> 8) & 0x1f) as u8,
            0xd8 + ((hash >> 16) & 0x1f) as u8,
        ];
        let pixels = background
            .iter()
            .copied()
            .cycle()
            .take(width as usize * height as usize * 3)
            .collect();
        Canvas {
            width,
            height,
            pixels,
        }
    }

    fn set(&mut self, x: u32, y: u32, colour: Rgb) {
        if x < self.width && y < self.height {
            let at = (y as usize * self.width as usize + x as usize) * 3;
            self.pixels[at..at + 3].copy_from_slice(&colour);
        }
    }

    /// Grid lines every `step` pixels and a border one pixel wide (neighbouring tiles meet on it).
    pub fn grid(&mut self, step: u32) {
        let step = step.max(2);
        for y in 0..self.height {
            for x in 0..self.width {
                if x == 0 || y == 0 || x + 1 == self.width || y + 1 == self.height {
                    self.set(x, y, BORDER);
                } else if x % step == 0 || y % step == 0 {
                    self.set(x, y, GRID);
                }
            }
        }
    }

    /// Writes `text` centred on the line whose top is `top`, in the 5×7 font enlarged `scale`
    /// times; what does not fit the width is cut.
    pub fn text_centred(&mut self, text: &str, top: u32, scale: u32) {
        let advance = 6 * scale;
        let fits = (self.width / advance) as usize;
        let glyphs: Vec<[u8; 7]> = text.chars().take(fits).map(glyph).collect();
        let width = glyphs.len() as u32 * advance;
        let left = self.width.saturating_sub(width) / 2;
        for (i, rows) in glyphs.iter().enumerate() {
            let x0 = left + i as u32 * advance;
            for (row, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                self.set(x0 + col * scale + dx, top + row as u32 * scale + dy, INK);
                            }
                        }
                    }
                }
            }
        }
    }

    pub fn png(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&self.pixels)
            .map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
        Ok(out)
    }

    pub fn jpeg(&self) -> Result<Vec<u8>, String> {
        let (Ok(w), Ok(h)) = (u16::try_from(self.width), u16::try_from(self.height)) else {
            return Err("too large for JPEG".into());
        };
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 85)
            .encode(&self.pixels, w, h, jpeg_encoder::ColorType::Rgb)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// A WebMercator tile, drawn: DEMO, its z/x/y, the place at its centre and the layer's name.
pub fn tile(layer: &str, z: u32, x: u32, y: u32) -> Canvas {
    let mut canvas = Canvas::new(256, 256, layer);
    canvas.grid(64);
    let n = f64::from(1u32 << z.min(30));
    let lon = (f64::from(x) + 0.5) / n * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * (f64::from(y) + 0.5) / n))
        .sinh()
        .atan()
        .to_degrees();
    canvas.text_centred("DEMO", 70, 4);
    canvas.text_centred(&format!("{z}/{x}/{y}"), 120, 2);
    canvas.text_centred(&place(lon, lat), 146, 2);
    canvas.text_centred(layer, 176, 1);
    canvas
}

/// A map of `width`×`height` for a bounding box, drawn the same way.
pub fn map(layer: &str, bbox: &str, width: u32, height: u32) -> Canvas {
    let mut canvas = Canvas::new(width, height, layer);
    canvas.grid(64);
    let middle = height / 2;
    canvas.text_centred("DEMO", middle.saturating_sub(40), 4);
    canvas.text_centred(layer, middle + 4, 1);
    canvas.text_centred(bbox, middle + 18, 1);
    canvas
}

/// "43.61N 3.88E".
fn place(lon: f64, lat: f64) -> String {
    let (ns, ew) = (
        if lat < 0.0 { 'S' } else { 'N' },
        if lon < 0.0 { 'W' } else { 'E' },
    );
    format!("{:.2}{ns} {:.2}{ew}", lat.abs(), lon.abs())
}

/// The 5×7 rows of a character (upper case; anything else is a question mark).
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ',' => [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        ' ' => [0; 7],
        _ => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tile_is_a_png_of_256_pixels_with_ink_on_it() {
        let canvas = tile("GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2", 12, 2101, 1497);
        let bytes = canvas.png().expect("encodes");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let reader = decoder.read_info().expect("decodes");
        assert_eq!((reader.info().width, reader.info().height), (256, 256));
        let ink = canvas.pixels.chunks(3).filter(|p| *p == INK).count();
        assert!(ink > 500, "the labels are drawn ({ink} pixels of ink)");
    }

    #[test]
    fn the_place_at_the_centre_of_a_tile_is_named() {
        // Tile 12/2092/1495 covers Montpellier.
        assert_eq!(place(3.88, 43.61), "43.61N 3.88E");
        assert_eq!(place(-1.5, -20.25), "20.25S 1.50W");
    }

    #[test]
    fn a_map_is_a_jpeg_when_asked() {
        let bytes = map("ORTHOIMAGERY.ORTHOPHOTOS", "0,0,1,1", 300, 200)
            .jpeg()
            .expect("encodes");
        assert_eq!(&bytes[..2], b"\xff\xd8");
    }
}
