//! A MapLibre style as a QGIS vector tile renderer (`<renderer type="basic">`), for the kiosk's
//! layer definitions: QGIS applies no style URL from a `.qlr` (it reads the renderer written in it,
//! and refuses a vector tile layer without one), so the gateway writes the style's fills, lines and
//! circles as QGIS symbols — each with its source layer, zoom range and filter, colours, widths
//! following the zoom, dashes. Labels, icons and textures are left to QGIS's own converter (the
//! vector tile connections and the style URL), which needs the sprite and the fonts.
//!
//! The subset is the one the Géoplateforme's styles are written in (legacy filters `==`, `!=`,
//! `in`, `!in`, `has`, `all`, `any`, comparisons; zoom `stops`); a layer whose filter or paint is
//! outside it is left out rather than drawn wrong.

use std::fmt::Write;

use serde_json::Value;

/// QGIS's geometry types (`Qgis::GeometryType`): what a style of the basic renderer draws.
const POINT: u8 = 0;
const LINE: u8 = 1;
const POLYGON: u8 = 2;

/// The renderer drawing `style`'s fill, line and circle layers, and how many of its layers it
/// left out.
pub fn renderer(style: &Value) -> (String, usize) {
    let mut styles = String::new();
    let mut left_out = 0;
    let layers = style.get("layers").and_then(Value::as_array);
    for layer in layers.into_iter().flatten() {
        match convert(layer) {
            Some(xml) => styles.push_str(&xml),
            None => left_out += 1,
        }
    }
    (
        format!("<renderer type=\"basic\"><styles>{styles}</styles></renderer>"),
        left_out,
    )
}

/// One layer of the style as a `<style>` of the renderer, or `None` when it is not drawn this way.
fn convert(layer: &Value) -> Option<String> {
    let kind = layer.get("type")?.as_str()?;
    if layer.pointer("/layout/visibility").and_then(Value::as_str) == Some("none") {
        return None;
    }
    let source_layer = layer.get("source-layer")?.as_str()?;
    let paint = layer.get("paint").cloned().unwrap_or(Value::Null);
    let get = |k: &str| paint.get(k);
    let (geometry, symbol) = match kind {
        "fill" => (
            POLYGON,
            fill(
                get("fill-color")?,
                get("fill-opacity"),
                get("fill-outline-color"),
            )?,
        ),
        "line" => (
            LINE,
            line(
                get("line-color")?,
                get("line-width"),
                get("line-opacity"),
                get("line-dasharray"),
                layer.get("layout"),
            )?,
        ),
        "circle" => (
            POINT,
            circle(
                get("circle-color")?,
                get("circle-radius"),
                get("circle-opacity"),
                get("circle-stroke-color"),
                get("circle-stroke-width"),
            )?,
        ),
        _ => return None,
    };
    let expression = match layer.get("filter") {
        Some(f) => filter(f)?,
        None => String::new(),
    };
    let zoom = |k: &str| layer.get(k).and_then(Value::as_f64);
    let min_zoom = zoom("minzoom").map_or(-1, |z| z.floor() as i64);
    // MapLibre's maxzoom is exclusive, QGIS's inclusive.
    let max_zoom = zoom("maxzoom").map_or(-1, |z| (z.ceil() as i64 - 1).max(0));
    let name = layer
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(source_layer);
    Some(format!(
        "<style name=\"{}\" layer=\"{}\" geometry=\"{geometry}\" enabled=\"1\" expression=\"{}\" min-zoom=\"{min_zoom}\" max-zoom=\"{max_zoom}\"><symbols>{symbol}</symbols></style>",
        esc(name),
        esc(source_layer),
        esc(&expression),
    ))
}

fn fill(color: &Value, opacity: Option<&Value>, outline: Option<&Value>) -> Option<String> {
    let color = Paint::color(color, opacity)?;
    let mut options = vec![option("color", &color.value), option("style", "solid")];
    let mut defined = color.defined("fillColor");
    match outline.and_then(|o| Paint::color(o, opacity)) {
        Some(o) => {
            options.extend([
                option("outline_style", "solid"),
                option("outline_color", &o.value),
                option("outline_width", "1"),
                option("outline_width_unit", "Pixel"),
            ]);
            defined.extend(o.defined("outlineColor"));
        }
        None => options.push(option("outline_style", "no")),
    }
    Some(symbol("fill", "SimpleFill", &options, &defined))
}

fn line(
    color: &Value,
    width: Option<&Value>,
    opacity: Option<&Value>,
    dashes: Option<&Value>,
    layout: Option<&Value>,
) -> Option<String> {
    let color = Paint::color(color, opacity)?;
    let width = Paint::number_or(width, 1.0)?;
    let layout_word = |k: &str| layout.and_then(|l| l.get(k)).and_then(Value::as_str);
    let cap = match layout_word("line-cap") {
        Some("round") => "round",
        Some("square") => "square",
        _ => "flat",
    };
    let join = match layout_word("line-join") {
        Some("round") => "round",
        Some("bevel") => "bevel",
        _ => "miter",
    };
    let mut options = vec![
        option("line_color", &color.value),
        option("line_width", &width.value),
        option("line_width_unit", "Pixel"),
        option("line_style", "solid"),
        option("capstyle", cap),
        option("joinstyle", join),
    ];
    // Dashes are in line widths in MapLibre: in pixels at the width's first value.
    if let Some(Value::Array(d)) = dashes {
        let base = width.value.parse::<f64>().unwrap_or(1.0).max(0.1);
        let lengths: Option<Vec<String>> = d
            .iter()
            .map(|v| v.as_f64().map(|x| trim(x * base)))
            .collect();
        if let Some(lengths) = lengths.filter(|l| l.len() >= 2) {
            options.extend([
                option("use_custom_dash", "1"),
                option("customdash", &lengths.join(";")),
                option("customdash_unit", "Pixel"),
            ]);
        }
    }
    let mut defined = color.defined("outlineColor");
    defined.extend(width.defined("outlineWidth"));
    Some(symbol("line", "SimpleLine", &options, &defined))
}

fn circle(
    color: &Value,
    radius: Option<&Value>,
    opacity: Option<&Value>,
    stroke: Option<&Value>,
    stroke_width: Option<&Value>,
) -> Option<String> {
    let color = Paint::color(color, opacity)?;
    let radius = Paint::number_or(radius, 5.0)?;
    let diameter = Paint {
        value: trim(radius.value.parse::<f64>().unwrap_or(5.0) * 2.0),
        expression: radius.expression.map(|e| format!("2 * ({e})")),
    };
    let mut options = vec![
        option("name", "circle"),
        option("color", &color.value),
        option("size", &diameter.value),
        option("size_unit", "Pixel"),
    ];
    let stroke = stroke.and_then(|s| Paint::color(s, None));
    let stroke_width = stroke_width.and_then(Paint::number);
    match (stroke, stroke_width) {
        (Some(s), Some(w)) => options.extend([
            option("outline_style", "solid"),
            option("outline_color", &s.value),
            option("outline_width", &w.value),
            option("outline_width_unit", "Pixel"),
        ]),
        _ => options.push(option("outline_style", "no")),
    }
    let mut defined = color.defined("fillColor");
    defined.extend(diameter.defined("size"));
    Some(symbol("marker", "SimpleMarker", &options, &defined))
}

/// A paint value: its value at the lowest zoom, and when it follows the zoom, the QGIS expression
/// giving it at each (`@vector_tile_zoom`).
struct Paint {
    value: String,
    expression: Option<String>,
}

impl Paint {
    fn constant(x: f64) -> Self {
        Paint {
            value: trim(x),
            expression: None,
        }
    }

    /// [`Paint::number`] of `v`, or `default` when the style gives none.
    fn number_or(v: Option<&Value>, default: f64) -> Option<Paint> {
        v.map_or(Some(Paint::constant(default)), Paint::number)
    }

    /// A number, or `{"stops": [[zoom, number]…]}` (interpolated linearly between stops).
    fn number(v: &Value) -> Option<Paint> {
        if let Some(x) = v.as_f64() {
            return Some(Paint::constant(x));
        }
        let stops = stops(v, |s| s.as_f64())?;
        let mut case = String::from("CASE");
        for pair in stops.windows(2) {
            let ((z0, v0), (z1, v1)) = (pair[0], pair[1]);
            let _ = write!(
                case,
                " WHEN @vector_tile_zoom < {} THEN scale_linear(@vector_tile_zoom, {}, {}, {}, {})",
                trim(z1),
                trim(z0),
                trim(z1),
                trim(v0),
                trim(v1)
            );
        }
        let (z0, v0) = stops[0];
        let (_, last) = stops[stops.len() - 1];
        Some(Paint {
            value: trim(v0),
            expression: Some(format!(
                "CASE WHEN @vector_tile_zoom < {} THEN {} ELSE ({case} ELSE {} END) END",
                trim(z0),
                trim(v0),
                trim(last)
            )),
        })
    }

    /// A colour, or `{"stops": [[zoom, colour]…]}` (each from its zoom on), its alpha times
    /// `opacity` (a number; the first value of zoom stops).
    fn color(v: &Value, opacity: Option<&Value>) -> Option<Paint> {
        let alpha = match opacity {
            None => 1.0,
            Some(o) => o
                .as_f64()
                .or_else(|| stops(o, |s| s.as_f64()).map(|s| s[0].1))?,
        };
        let rgba = |s: &Value| {
            s.as_str()
                .and_then(parse_color)
                .map(|c| qgis_color(c, alpha))
        };
        if let Some(c) = rgba(v) {
            return Some(Paint {
                value: c,
                expression: None,
            });
        }
        let stops = stops(v, rgba)?;
        let mut case = String::from("CASE");
        for pair in stops.windows(2) {
            let _ = write!(
                case,
                " WHEN @vector_tile_zoom < {} THEN '{}'",
                trim(pair[1].0),
                pair[0].1
            );
        }
        let _ = write!(case, " ELSE '{}' END", stops[stops.len() - 1].1);
        Some(Paint {
            value: stops[0].1.clone(),
            expression: Some(case),
        })
    }

    /// The data-defined property `name` when the value follows the zoom.
    fn defined(&self, name: &str) -> Vec<(String, String)> {
        self.expression
            .iter()
            .map(|e| (name.to_string(), e.clone()))
            .collect()
    }
}

/// `{"stops": [[zoom, value]…]}` as (zoom, value) pairs, in zoom order.
fn stops<T>(v: &Value, value: impl Fn(&Value) -> Option<T>) -> Option<Vec<(f64, T)>> {
    let list = v.get("stops")?.as_array()?;
    let pairs: Option<Vec<(f64, T)>> = list
        .iter()
        .map(|s| Some((s.get(0)?.as_f64()?, value(s.get(1)?)?)))
        .collect();
    pairs.filter(|p| !p.is_empty())
}

/// A CSS colour (`#rgb`, `#rrggbb`, `#rrggbbaa`, `rgb()`, `rgba()`, `hsl()`, `hsla()`, a few
/// names) as red, green, blue (0–255) and alpha (0–1).
fn parse_color(text: &str) -> Option<(u8, u8, u8, f64)> {
    let t = text.trim().to_ascii_lowercase();
    if let Some(hex) = t.strip_prefix('#') {
        let digit = |i: usize, n: usize| u8::from_str_radix(hex.get(i..i + n)?, 16).ok();
        return match hex.len() {
            3 => Some((digit(0, 1)? * 17, digit(1, 1)? * 17, digit(2, 1)? * 17, 1.0)),
            6 => Some((digit(0, 2)?, digit(2, 2)?, digit(4, 2)?, 1.0)),
            8 => Some((
                digit(0, 2)?,
                digit(2, 2)?,
                digit(4, 2)?,
                f64::from(digit(6, 2)?) / 255.0,
            )),
            _ => None,
        };
    }
    let (name, args) = t.split_once('(')?;
    let args: Vec<&str> = args.strip_suffix(')')?.split(',').map(str::trim).collect();
    let number = |s: &str| s.trim_end_matches('%').parse::<f64>().ok();
    let alpha = match args.get(3) {
        Some(a) => number(a)?.clamp(0.0, 1.0),
        None => 1.0,
    };
    let byte = |x: f64| x.round().clamp(0.0, 255.0) as u8;
    match (name, args.len()) {
        ("rgb" | "rgba", 3 | 4) => Some((
            byte(number(args[0])?),
            byte(number(args[1])?),
            byte(number(args[2])?),
            alpha,
        )),
        ("hsl" | "hsla", 3 | 4) => {
            let (h, s, l) = (
                number(args[0])?,
                number(args[1])? / 100.0,
                number(args[2])? / 100.0,
            );
            let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
            let hp = (h.rem_euclid(360.0)) / 60.0;
            let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
            let (r, g, b) = match hp as u32 {
                0 => (c, x, 0.0),
                1 => (x, c, 0.0),
                2 => (0.0, c, x),
                3 => (0.0, x, c),
                4 => (x, 0.0, c),
                _ => (c, 0.0, x),
            };
            let m = l - c / 2.0;
            Some((
                byte((r + m) * 255.0),
                byte((g + m) * 255.0),
                byte((b + m) * 255.0),
                alpha,
            ))
        }
        _ => None,
    }
}

/// `r,g,b,a` as QGIS writes colours, the alpha times `opacity`.
fn qgis_color((r, g, b, a): (u8, u8, u8, f64), opacity: f64) -> String {
    let alpha = (a * opacity.clamp(0.0, 1.0) * 255.0).round() as u8;
    format!("{r},{g},{b},{alpha}")
}

/// A legacy MapLibre filter as a QGIS expression; `None` for what the subset does not cover.
fn filter(f: &Value) -> Option<String> {
    let items = f.as_array()?;
    let op = items.first()?.as_str()?;
    let args = &items[1..];
    let key = || args.first()?.as_str().map(field);
    let joined = |glue: &str| -> Option<String> {
        let parts: Option<Vec<String>> = args.iter().map(filter).collect();
        let parts = parts?;
        Some(if parts.is_empty() {
            "TRUE".into()
        } else {
            format!("({})", parts.join(glue))
        })
    };
    // The geometry type is the style's own (one per geometry): always true here.
    if args.first().and_then(Value::as_str) == Some("$type") {
        return Some("TRUE".into());
    }
    Some(match op {
        "all" => joined(" AND ")?,
        "any" => joined(" OR ")?,
        "none" => format!("NOT {}", joined(" OR ")?),
        "has" => format!("{} IS NOT NULL", key()?),
        "!has" => format!("{} IS NULL", key()?),
        "==" | "!=" | "<" | "<=" | ">" | ">=" if args.len() == 2 => {
            let (k, v) = (key()?, literal(&args[1])?);
            match op {
                "==" => format!("{k} IS {v}"),
                "!=" => format!("{k} IS NOT {v}"),
                cmp => format!("{k} {cmp} {v}"),
            }
        }
        "in" | "!in" if !args.is_empty() => {
            let values: Option<Vec<String>> = args[1..].iter().map(literal).collect();
            let values = values?;
            let not = if op == "!in" { "NOT " } else { "" };
            if values.is_empty() {
                return Some(if op == "in" { "FALSE" } else { "TRUE" }.into());
            }
            format!("{} {not}IN ({})", key()?, values.join(", "))
        }
        _ => return None,
    })
}

/// A field name as a QGIS expression names it.
fn field(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A filter's value as a QGIS literal.
fn literal(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(format!("'{}'", s.replace('\'', "''"))),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "TRUE" } else { "FALSE" }.into()),
        Value::Null => Some("NULL".into()),
        _ => None,
    }
}

/// One symbol layer of class `class` in a symbol of type `kind`, with its options and its
/// data-defined properties (name, expression).
fn symbol(kind: &str, class: &str, options: &[String], defined: &[(String, String)]) -> String {
    let properties: String = defined
        .iter()
        .map(|(name, expression)| {
            format!(
                "<Option type=\"Map\" name=\"{name}\"><Option type=\"bool\" name=\"active\" value=\"true\"/><Option type=\"QString\" name=\"expression\" value=\"{}\"/><Option type=\"int\" name=\"type\" value=\"3\"/></Option>",
                esc(expression)
            )
        })
        .collect();
    format!(
        "<symbol type=\"{kind}\" name=\"0\" alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\"><layer class=\"{class}\" enabled=\"1\" pass=\"0\" locked=\"0\"><Option type=\"Map\">{}</Option><data_defined_properties><Option type=\"Map\"><Option type=\"QString\" name=\"name\" value=\"\"/><Option type=\"Map\" name=\"properties\">{properties}</Option><Option type=\"QString\" name=\"type\" value=\"collection\"/></Option></data_defined_properties></layer></symbol>",
        options.concat()
    )
}

fn option(name: &str, value: &str) -> String {
    format!(
        "<Option type=\"QString\" name=\"{name}\" value=\"{}\"/>",
        esc(value)
    )
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// A number without a needless fraction (`2`, `1.5`).
fn trim(x: f64) -> String {
    let rounded = (x * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_lines_and_circles_with_their_filters_and_zooms() {
        let style = json!({"layers": [
            {"id": "fond", "type": "background", "paint": {"background-color": "#fff"}},
            {"id": "eau", "type": "fill", "source-layer": "hydro", "minzoom": 5, "maxzoom": 14,
             "filter": ["all", ["==", "symbo", "EAU"], ["!=", "nature", "O'Neil"]],
             "paint": {"fill-color": "#AAD3DF", "fill-opacity": 0.5}},
            {"id": "routes", "type": "line", "source-layer": "troncon",
             "filter": ["in", "symbo", "A", "B"],
             "layout": {"line-cap": "round"},
             "paint": {"line-color": "rgb(255, 0, 0)", "line-width": {"stops": [[10, 1], [14, 3]]},
                       "line-dasharray": [2, 1]}},
            {"id": "noms", "type": "symbol", "source-layer": "toponyme", "layout": {"text-field": "{nom}"}},
            {"id": "odd", "type": "line", "source-layer": "x", "filter": ["==", ["get", "a"], 1],
             "paint": {"line-color": "#000"}},
            {"id": "pts", "type": "circle", "source-layer": "p", "paint": {"circle-color": "hsl(0, 100%, 50%)", "circle-radius": 3}}
        ]});
        let (xml, left_out) = renderer(&style);
        // The background, the labels and the expression filter are left out.
        assert_eq!(left_out, 3, "{xml}");
        assert!(xml.starts_with("<renderer type=\"basic\"><styles>"));
        assert!(xml.contains(r#"<style name="eau" layer="hydro" geometry="2" enabled="1" expression="(&quot;symbo&quot; IS &apos;EAU&apos; AND &quot;nature&quot; IS NOT &apos;O&apos;&apos;Neil&apos;)" min-zoom="5" max-zoom="13">"#), "{xml}");
        assert!(
            xml.contains(r#"name="color" value="170,211,223,128""#),
            "{xml}"
        );
        assert!(xml.contains(r#"expression="&quot;symbo&quot; IN (&apos;A&apos;, &apos;B&apos;)""#));
        assert!(xml.contains(r#"name="line_color" value="255,0,0,255""#));
        assert!(xml.contains(r#"name="capstyle" value="round""#));
        assert!(xml.contains(r#"name="customdash" value="2;1""#), "{xml}");
        assert!(
            xml.contains("scale_linear(@vector_tile_zoom, 10, 14, 1, 3)"),
            "{xml}"
        );
        assert!(xml.contains(r#"name="outlineWidth""#));
        assert!(xml.contains(r#"<style name="pts" layer="p" geometry="0""#));
        assert!(xml.contains(r#"name="size" value="6""#));
        assert!(xml.contains(r#"value="255,0,0,255""#));
    }

    #[test]
    fn colours_in_every_css_form() {
        assert_eq!(parse_color("#D6E5BA"), Some((0xd6, 0xe5, 0xba, 1.0)));
        assert_eq!(parse_color("#fff"), Some((255, 255, 255, 1.0)));
        assert_eq!(parse_color("rgba(10,20,30,0.5)"), Some((10, 20, 30, 0.5)));
        assert_eq!(parse_color("hsl(120, 100%, 25%)"), Some((0, 128, 0, 1.0)));
        assert_eq!(parse_color("chartreuse"), None);
        assert_eq!(parse_color("#12345"), None);
    }

    #[test]
    fn colour_stops_change_with_the_zoom() {
        let p = Paint::color(&json!({"stops": [[5, "#000000"], [10, "#ffffff"]]}), None).unwrap();
        assert_eq!(p.value, "0,0,0,255");
        assert_eq!(
            p.expression.unwrap(),
            "CASE WHEN @vector_tile_zoom < 10 THEN '0,0,0,255' ELSE '255,255,255,255' END"
        );
    }

    #[test]
    fn the_real_plan_ign_style_is_mostly_drawn() {
        let text = include_str!("../../tests/fixtures/annexes/plan-ign-standard.json");
        let style: Value = serde_json::from_str(text).unwrap();
        let (xml, left_out) = renderer(&style);
        let drawn = xml.matches("<style ").count();
        // 422 layers: 153 labels and icons (symbol) and 10 textures (fill-pattern: sprite images)
        // are QGIS's own converter's; every other fill, line and circle is here.
        assert_eq!(drawn + left_out, 422);
        assert_eq!(drawn, 422 - 153 - 10, "{left_out} left out");
    }
}
