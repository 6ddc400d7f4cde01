//! Capabilities parsers: what the Géoplateforme's OGC services offer, read with a streaming XML
//! parser into plain models (WMTS layers, WMS layers, WFS feature types and their schemas).

pub mod embedded;
pub mod tms;
pub mod wfs;
pub mod wms;
pub mod wmts;

use quick_xml::events::{BytesRef, BytesStart, Event};

/// The local part of a qualified XML name (`ows:Title` → `Title`).
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// The text of an entity or character reference (`&amp;`, `&#233;`).
fn reference(r: &BytesRef<'_>) -> String {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return c.to_string();
    }
    let name = r.xml10_content();
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_string)
        .unwrap_or_else(|| format!("&{name};"))
}

/// Appends the character data of `event` (text, CDATA, a reference) to `text`; false for any other
/// event.
fn append_text(event: &Event<'_>, text: &mut String) -> bool {
    match event {
        Event::Text(t) => text.push_str(&t.xml10_content()),
        Event::CData(t) => text.push_str(t.as_ref()),
        Event::GeneralRef(r) => text.push_str(&reference(r)),
        _ => return false,
    }
    true
}

/// An element's `xlink:href`.
fn href(e: &BytesStart<'_>) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| local(a.key.as_ref()) == "href")
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::default()).ok())
        .map(|v| v.into_owned())
}
