//! CQL2-text: a parser for the subset QGIS and people send (comparisons, AND/OR/NOT, LIKE, IN,
//! IS NULL, BETWEEN, S_INTERSECTS with a BBOX or a WKT geometry), and its translation to the ECQL
//! of GeoServer's `CQL_FILTER`. Pure: no HTTP, no upstream.

mod ecql;
mod parse;

pub use ecql::{bbox_polygon, to_ecql};
pub use parse::{parse, parse_wkt};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    /// A number, as written (so `007` or `1e3` round-trip as the user meant them).
    Num(String),
    Bool(bool),
    /// `DATE('…')` or `TIMESTAMP('…')`: the instant as text.
    Instant(String),
}

/// Coordinates of a WKT geometry, nested as the geometry nests them.
#[derive(Debug, Clone, PartialEq)]
pub enum Coords {
    Point(f64, f64),
    List(Vec<Coords>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    /// `BBOX(west, south, east, north)`.
    Bbox([f64; 4]),
    /// A WKT geometry: its type keyword (`POINT`, `POLYGON`…) and coordinates.
    Wkt(String, Coords),
}

impl Coords {
    fn to_json(&self) -> serde_json::Value {
        match self {
            Coords::Point(x, y) => serde_json::json!([x, y]),
            Coords::List(items) => items.iter().map(Coords::to_json).collect(),
        }
    }
}

impl Geometry {
    /// The geometry as GeoJSON (a box as its polygon), or None if its nesting does not fit its
    /// type.
    pub fn to_geojson(&self) -> Option<serde_json::Value> {
        let (kind, coords) = match self {
            Geometry::Bbox([w, s, e, n]) => {
                return Some(
                    serde_json::json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}),
                )
            }
            Geometry::Wkt(kind, coords) => (kind.as_str(), coords),
        };
        let (name, depth) = match kind {
            "POINT" => ("Point", 0),
            "LINESTRING" => ("LineString", 1),
            "POLYGON" => ("Polygon", 2),
            "MULTIPOINT" => ("MultiPoint", 1),
            "MULTILINESTRING" => ("MultiLineString", 2),
            "MULTIPOLYGON" => ("MultiPolygon", 3),
            _ => return None,
        };
        // WKT wraps a point's coordinates in parentheses: POINT (x y).
        let coords = match (depth, coords) {
            (0, Coords::List(items)) if items.len() == 1 => &items[0],
            _ => coords,
        };
        fn depth_of(c: &Coords) -> usize {
            match c {
                Coords::Point(..) => 0,
                Coords::List(items) => 1 + items.first().map_or(0, depth_of),
            }
        }
        // MULTIPOINT (1 2, 3 4) and MULTIPOINT ((1 2), (3 4)) are both WKT.
        let json = match (kind, coords) {
            ("MULTIPOINT", Coords::List(items)) => items
                .iter()
                .map(|c| match c {
                    Coords::List(inner) if inner.len() == 1 => inner[0].to_json(),
                    other => other.to_json(),
                })
                .collect(),
            _ if depth_of(coords) == depth => coords.to_json(),
            _ => return None,
        };
        Some(serde_json::json!({"type": name, "coordinates": json}))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Bool(bool),
    Compare {
        property: String,
        op: CmpOp,
        value: Literal,
    },
    Like {
        property: String,
        pattern: String,
        negated: bool,
    },
    In {
        property: String,
        values: Vec<Literal>,
        negated: bool,
    },
    IsNull {
        property: String,
        negated: bool,
    },
    Between {
        property: String,
        low: Literal,
        high: Literal,
        negated: bool,
    },
    Intersects {
        property: String,
        geometry: Geometry,
    },
}

impl Expr {
    /// Every property the expression names.
    pub fn properties(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.collect(out)),
            Expr::Not(e) => e.collect(out),
            Expr::Bool(_) => {}
            Expr::Compare { property, .. }
            | Expr::Like { property, .. }
            | Expr::In { property, .. }
            | Expr::IsNull { property, .. }
            | Expr::Between { property, .. }
            | Expr::Intersects { property, .. } => out.push(property),
        }
    }
}

/// A CQL2 text that could not be read: what, and where (a 0-based character offset).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct ParseError {
    pub message: String,
    pub position: usize,
}
