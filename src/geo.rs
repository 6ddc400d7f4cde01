//! Small pure geometry helpers shared by the edge and the services (WGS84 longitude/latitude).

/// A WGS84 box: west, south, east, north, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

/// Metres per degree of latitude (mean).
const M_PER_DEG_LAT: f64 = 111_132.0;
/// Metres per degree of longitude at the equator.
const M_PER_DEG_LON: f64 = 111_320.0;

impl Bbox {
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        lon >= self.min_lon && lon <= self.max_lon && lat >= self.min_lat && lat <= self.max_lat
    }

    /// Width and height in metres (at the box's middle latitude).
    pub fn size_m(&self) -> (f64, f64) {
        let mid = ((self.min_lat + self.max_lat) / 2.0).to_radians();
        let w = (self.max_lon - self.min_lon) * M_PER_DEG_LON * mid.cos();
        let h = (self.max_lat - self.min_lat) * M_PER_DEG_LAT;
        (w, h)
    }

    /// The part shared with `other` (edges included), if any.
    pub fn intersection(&self, other: &Bbox) -> Option<Bbox> {
        let i = Bbox {
            min_lon: self.min_lon.max(other.min_lon),
            min_lat: self.min_lat.max(other.min_lat),
            max_lon: self.max_lon.min(other.max_lon),
            max_lat: self.max_lat.min(other.max_lat),
        };
        (i.min_lon <= i.max_lon && i.min_lat <= i.max_lat).then_some(i)
    }

    pub fn center(&self) -> (f64, f64) {
        (
            (self.min_lon + self.max_lon) / 2.0,
            (self.min_lat + self.max_lat) / 2.0,
        )
    }

    /// The box as a closed GeoJSON Polygon.
    pub fn to_polygon(&self) -> serde_json::Value {
        let (w, s, e, n) = (self.min_lon, self.min_lat, self.max_lon, self.max_lat);
        serde_json::json!({
            "type": "Polygon",
            "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]
        })
    }

    /// The smallest box holding every point, if there is one.
    pub fn around(points: impl IntoIterator<Item = (f64, f64)>) -> Option<Bbox> {
        points.into_iter().fold(None, |acc, (x, y)| {
            Some(match acc {
                None => Bbox {
                    min_lon: x,
                    min_lat: y,
                    max_lon: x,
                    max_lat: y,
                },
                Some(b) => Bbox {
                    min_lon: b.min_lon.min(x),
                    min_lat: b.min_lat.min(y),
                    max_lon: b.max_lon.max(x),
                    max_lat: b.max_lat.max(y),
                },
            })
        })
    }
}

/// The coordinates of a GeoJSON Point geometry.
pub fn point_of(geometry: &serde_json::Value) -> Option<(f64, f64)> {
    if geometry.get("type")?.as_str()? != "Point" {
        return None;
    }
    let c = geometry.get("coordinates")?.as_array()?;
    Some((c.first()?.as_f64()?, c.get(1)?.as_f64()?))
}

/// The tile x/y of a lon/lat at zoom z (WebMercator).
pub fn tile_of(lon: f64, lat: f64, z: u32) -> (u64, u64) {
    let n = f64::from(1u32 << z.min(30));
    let lat = lat.clamp(-85.0511, 85.0511).to_radians();
    let x = ((lon + 180.0) / 360.0 * n).floor().clamp(0.0, n - 1.0);
    let y = ((1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * n)
        .floor()
        .clamp(0.0, n - 1.0);
    (x as u64, y as u64)
}

/// The bounds of the WebMercator tile z/x/y in EPSG:3857 metres: (min x, min y, max x, max y).
pub fn tile_bounds_3857(z: u32, x: u64, y: u64) -> (f64, f64, f64, f64) {
    const HALF: f64 = 20_037_508.342_789_244;
    let size = 2.0 * HALF / f64::from(1u32 << z.min(30));
    let minx = -HALF + x as f64 * size;
    let maxy = HALF - y as f64 * size;
    (minx, maxy - size, minx + size, maxy)
}

/// The corners of a bbox written `west,south,east,north` in any CRS: 4 numbers, or 6 with heights
/// (dropped). The error says what is wrong, for a 400 or a command-line message.
pub fn bbox_corners(v: &str) -> Result<(f64, f64, f64, f64), String> {
    let numbers: Vec<f64> = v
        .split(',')
        .map(|p| p.trim().parse::<f64>().ok().filter(|n| n.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("{v:?} is not a list of numbers"))?;
    match numbers.as_slice() {
        [w, s, e, n] | [w, s, _, e, n, _] => Ok((*w, *s, *e, *n)),
        other => Err(format!(
            "expected 4 or 6 numbers (west,south,east,north), got {}",
            other.len()
        )),
    }
}

/// A bbox in WGS84 degrees: corners within -180..180 and -90..90, west ≤ east, south ≤ north.
pub fn parse_wgs84_bbox(v: &str) -> Result<Bbox, String> {
    let (w, s, e, n) = bbox_corners(v)?;
    for (name, lat) in [("south", s), ("north", n)] {
        if !(-90.0..=90.0).contains(&lat) {
            return Err(format!("{name} latitude {lat} is outside -90..90"));
        }
    }
    for (name, lon) in [("west", w), ("east", e)] {
        if !(-180.0..=180.0).contains(&lon) {
            return Err(format!("{name} longitude {lon} is outside -180..180"));
        }
    }
    if s > n {
        return Err(format!("south {s} is greater than north {n}"));
    }
    if w > e {
        return Err(format!(
            "west {w} is greater than east {e} (boxes across the antimeridian are not supported)"
        ));
    }
    Ok(Bbox {
        min_lon: w,
        min_lat: s,
        max_lon: e,
        max_lat: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_montpellier_box_is_a_few_hundred_metres() {
        let b = Bbox {
            min_lon: 3.894,
            min_lat: 43.596,
            max_lon: 3.900,
            max_lat: 43.601,
        };
        let (w, h) = b.size_m();
        assert!((450.0..500.0).contains(&w), "{w}");
        assert!((540.0..570.0).contains(&h), "{h}");
        assert!(b.contains(3.8965, 43.5988));
        assert!(!b.contains(3.91, 43.5988));
    }
}
