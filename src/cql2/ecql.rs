//! CQL2 → GeoServer ECQL. Geometries in EPSG:4326 are written latitude first, the axis order
//! GeoServer applies to ECQL (a CQL2 geometry is longitude first).

use super::{Coords, Expr, Geometry, Literal};

fn property(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
    {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::Str(s) | Literal::Instant(s) => format!("'{}'", s.replace('\'', "''")),
        Literal::Num(n) => n.clone(),
        Literal::Bool(b) => b.to_string(),
    }
}

fn coords(c: &Coords, out: &mut String) {
    match c {
        // Latitude first: the axis order of EPSG:4326 in GeoServer's ECQL.
        Coords::Point(x, y) => out.push_str(&format!("{y} {x}")),
        Coords::List(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                coords(item, out);
            }
            out.push(')');
        }
    }
}

/// A geometry as ECQL WKT in EPSG:4326 (latitude first); a BBOX becomes its polygon.
pub fn geometry(g: &Geometry) -> String {
    let (kind, c) = match g {
        Geometry::Bbox([w, s, e, n]) => (
            "POLYGON".to_string(),
            Coords::List(vec![Coords::List(vec![
                Coords::Point(*w, *s),
                Coords::Point(*e, *s),
                Coords::Point(*e, *n),
                Coords::Point(*w, *n),
                Coords::Point(*w, *s),
            ])]),
        ),
        Geometry::Wkt(kind, c) => (kind.clone(), c.clone()),
    };
    let mut out = kind;
    // A bare POINT keeps one pair of parentheses.
    match &c {
        Coords::Point(..) => {
            out.push('(');
            coords(&c, &mut out);
            out.push(')');
        }
        list => coords(list, &mut out),
    }
    out
}

/// A box as an ECQL polygon: in EPSG:4326 latitude first; in a projected CRS (`srid`) easting
/// first, as EWKT (`SRID=2154;POLYGON(…)`).
pub fn bbox_polygon([w, s, e, n]: [f64; 4], srid: Option<u32>) -> String {
    match srid {
        None => geometry(&Geometry::Bbox([w, s, e, n])),
        Some(code) => format!("SRID={code};POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"),
    }
}

/// The ECQL of an expression; `geometry_property` replaces the property named in spatial
/// predicates when the client named a generic one (`geometry`).
pub fn to_ecql(e: &Expr, geometry_property: &str) -> String {
    match e {
        Expr::And(items) => items
            .iter()
            .map(|i| format!("({})", to_ecql(i, geometry_property)))
            .collect::<Vec<_>>()
            .join(" AND "),
        Expr::Or(items) => items
            .iter()
            .map(|i| format!("({})", to_ecql(i, geometry_property)))
            .collect::<Vec<_>>()
            .join(" OR "),
        Expr::Not(inner) => format!("NOT ({})", to_ecql(inner, geometry_property)),
        Expr::Bool(true) => "INCLUDE".into(),
        Expr::Bool(false) => "EXCLUDE".into(),
        Expr::Compare {
            property: p,
            op,
            value,
        } => format!("{} {} {}", property(p), op.as_str(), literal(value)),
        Expr::Like {
            property: p,
            pattern,
            negated,
        } => {
            format!(
                "{} {}LIKE '{}'",
                property(p),
                if *negated { "NOT " } else { "" },
                pattern.replace('\'', "''")
            )
        }
        Expr::In {
            property: p,
            values,
            negated,
        } => format!(
            "{} {}IN ({})",
            property(p),
            if *negated { "NOT " } else { "" },
            values.iter().map(literal).collect::<Vec<_>>().join(", ")
        ),
        Expr::IsNull {
            property: p,
            negated,
        } => format!(
            "{} IS {}NULL",
            property(p),
            if *negated { "NOT " } else { "" }
        ),
        Expr::Between {
            property: p,
            low,
            high,
            negated,
        } => format!(
            "{} {}BETWEEN {} AND {}",
            property(p),
            if *negated { "NOT " } else { "" },
            literal(low),
            literal(high)
        ),
        Expr::Intersects { geometry: g, .. } => format!(
            "INTERSECTS({}, {})",
            property(geometry_property),
            geometry(g)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cql2::parse;
    use proptest::prelude::*;

    fn ecql(text: &str) -> String {
        to_ecql(&parse(text).unwrap(), "geometrie")
    }

    #[test]
    fn what_qgis_sends_is_translated() {
        assert_eq!(
            ecql("((code_insee = '29006') AND (population > 1000))"),
            "(code_insee = '29006') AND (population > 1000)"
        );
        assert_eq!(
            ecql("\"nom officiel\" LIKE 'Saint%'"),
            "\"nom officiel\" LIKE 'Saint%'"
        );
        assert_eq!(
            ecql("usage_1 IN ('Résidentiel', 'Annexe')"),
            "usage_1 IN ('Résidentiel', 'Annexe')"
        );
        assert_eq!(ecql("NOT hauteur IS NULL"), "NOT (hauteur IS NULL)");
        assert_eq!(
            ecql("hauteur NOT BETWEEN 5 AND 10.5"),
            "hauteur NOT BETWEEN 5 AND 10.5"
        );
        assert_eq!(ecql("nom = 'l''Île'"), "nom = 'l''Île'");
        assert_eq!(
            ecql("date_creation > DATE('2020-01-01')"),
            "date_creation > '2020-01-01'"
        );
    }

    #[test]
    fn geometries_are_written_latitude_first() {
        assert_eq!(
            ecql("S_INTERSECTS(geometry, POINT(-4.344 47.813))"),
            "INTERSECTS(geometrie, POINT(47.813 -4.344))"
        );
        assert_eq!(
            ecql("S_INTERSECTS(geom, BBOX(2.1, 48.5, 2.5, 48.9))"),
            "INTERSECTS(geometrie, POLYGON((48.5 2.1, 48.5 2.5, 48.9 2.5, 48.9 2.1, 48.5 2.1)))"
        );
        assert_eq!(
            ecql("s_intersects(g, LINESTRING(1 2, 3 4))"),
            "INTERSECTS(geometrie, LINESTRING(2 1, 4 3))"
        );
    }

    #[test]
    fn projected_boxes_keep_their_axis_order() {
        assert_eq!(
            bbox_polygon([1.0, 2.0, 3.0, 4.0], Some(2154)),
            "SRID=2154;POLYGON((1 2, 3 2, 3 4, 1 4, 1 2))"
        );
        assert_eq!(
            bbox_polygon([1.0, 2.0, 3.0, 4.0], None),
            "POLYGON((2 1, 2 3, 4 3, 4 1, 2 1))"
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("population >> 3").unwrap_err();
        assert_eq!(e.position, 12);
        let e = parse("population > 3 AND").unwrap_err();
        assert_eq!(e.position, 18);
        assert!(parse("nom = 'open")
            .unwrap_err()
            .message
            .contains("unterminated"));
        assert!(parse("S_WITHIN(g, POINT(1 2))")
            .unwrap_err()
            .message
            .contains("not supported"));
        assert!(parse("S_INTERSECTS(g, CIRCLE(1 2))")
            .unwrap_err()
            .message
            .contains("CIRCLE"));
        assert!(parse("").is_err());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,80}") {
            let _ = parse(&s);
        }

        #[test]
        fn comparisons_round_trip(name in "[a-z_][a-z0-9_]{0,12}", n in -1.0e6f64..1.0e6, s in "[A-Za-z' ]{0,10}") {
            prop_assume!(!["and", "or", "not", "true", "false", "is", "in", "like", "between", "date", "timestamp"].contains(&name.as_str()));
            let text = format!("{name} >= {n} AND {name} <> '{}'", s.replace('\'', "''"));
            let e = parse(&text).unwrap();
            prop_assert_eq!(e.properties(), vec![name.as_str(), name.as_str()]);
        }
    }
}
