//! The gateway's own QGIS plugin repository: `/qgis/plugins.xml` (what QGIS's plugin manager reads
//! from a repository added under *Settings → Manage and Install Plugins → Settings → Add…*) and
//! `/qgis/geopf_gateway.zip`, the launcher plugin (`plugin-stub/geopf_gateway`, embedded in the
//! binary) with the gateway's public URL written in its `gateway.json`: a team installs the plugin
//! from its own server and is connected to that server, with nothing to type.
//!
//! The zip carries no gateway binary (the server is the gateway); the per-platform zips with one
//! (`plugin-stub/release/`) are for a desktop without a shared gateway.

use std::io::Write;

use axum::{
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};

use crate::{error::ApiError, http::base_url::BaseUrl};

/// The plugin's files, as its folder holds them (a test checks that none is missing).
pub const FILES: &[(&str, &[u8])] = &[
    (
        "__init__.py",
        include_bytes!("../../plugin-stub/geopf_gateway/__init__.py"),
    ),
    (
        "connections.py",
        include_bytes!("../../plugin-stub/geopf_gateway/connections.py"),
    ),
    (
        "discovery.py",
        include_bytes!("../../plugin-stub/geopf_gateway/discovery.py"),
    ),
    (
        "gateway.py",
        include_bytes!("../../plugin-stub/geopf_gateway/gateway.py"),
    ),
    (
        "icon.png",
        include_bytes!("../../plugin-stub/geopf_gateway/icon.png"),
    ),
    (
        "locator.py",
        include_bytes!("../../plugin-stub/geopf_gateway/locator.py"),
    ),
    (
        "maptool.py",
        include_bytes!("../../plugin-stub/geopf_gateway/maptool.py"),
    ),
    (
        "metadata.txt",
        include_bytes!("../../plugin-stub/geopf_gateway/metadata.txt"),
    ),
    (
        "plugin.py",
        include_bytes!("../../plugin-stub/geopf_gateway/plugin.py"),
    ),
    (
        "processing_provider.py",
        include_bytes!("../../plugin-stub/geopf_gateway/processing_provider.py"),
    ),
];

/// The plugin's folder name, which QGIS installs it under.
const PLUGIN: &str = "geopf_gateway";

/// A value of the plugin's `metadata.txt` (`key=value` lines).
fn metadata(key: &str) -> String {
    let text = FILES
        .iter()
        .find(|(name, _)| *name == "metadata.txt")
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .unwrap_or_default();
    text.lines()
        .find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// `GET /qgis/plugins.xml`: the repository's one plugin, its zip at this gateway.
pub async fn plugins_xml(base: BaseUrl) -> Response {
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let version = metadata("version");
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<plugins>
  <pyqgis_plugin name="{name}" version="{version}" plugin_id="1">
    <description>{description}</description>
    <about>{about}</about>
    <version>{version}</version>
    <qgis_minimum_version>{min}</qgis_minimum_version>
    <qgis_maximum_version>3.99</qgis_maximum_version>
    <homepage>{homepage}</homepage>
    <file_name>{PLUGIN}.zip</file_name>
    <icon>{icon}</icon>
    <author_name>{author}</author_name>
    <download_url>{download}</download_url>
    <uploaded_by>geopf-gateway</uploaded_by>
    <experimental>{experimental}</experimental>
    <deprecated>False</deprecated>
    <tracker>{tracker}</tracker>
    <repository>{repository}</repository>
    <tags>{tags}</tags>
  </pyqgis_plugin>
</plugins>
"#,
        name = esc(&metadata("name")),
        description = esc(&metadata("description")),
        about = esc(&metadata("about")),
        version = esc(&version),
        min = esc(&metadata("qgisMinimumVersion")),
        homepage = esc(&metadata("homepage")),
        icon = esc(&base.join("/qgis/icon.png")),
        author = esc(&metadata("author")),
        download = esc(&base.join(&format!("/qgis/{PLUGIN}.zip"))),
        experimental = esc(&metadata("experimental")),
        tracker = esc(&metadata("tracker")),
        repository = esc(&metadata("repository")),
        tags = esc(&metadata("tags")),
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        )],
        xml,
    )
        .into_response()
}

/// `GET /qgis/icon.png`: the plugin's icon, for the plugin manager's list.
pub async fn icon() -> Response {
    let png = FILES
        .iter()
        .find(|(name, _)| *name == "icon.png")
        .map_or(&[][..], |(_, bytes)| bytes);
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("image/png"))],
        png,
    )
        .into_response()
}

/// `GET /qgis/geopf_gateway.zip`: the plugin, connected to this gateway.
pub async fn plugin_zip(base: BaseUrl) -> Result<Response, ApiError> {
    let zip = build_zip(&base.0)
        .map_err(|e| ApiError::internal(format!("the plugin's zip could not be written: {e}")))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"geopf_gateway.zip\""),
            ),
        ],
        zip,
    )
        .into_response())
}

/// The plugin's zip: its files under `geopf_gateway/`, and `gateway.json` naming `url`.
pub fn build_zip(url: &str) -> zip::result::ZipResult<Vec<u8>> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in FILES {
        out.start_file(format!("{PLUGIN}/{name}"), options)?;
        out.write_all(bytes)?;
    }
    out.start_file(format!("{PLUGIN}/gateway.json"), options)?;
    out.write_all(
        serde_json::json!({ "url": url.trim_end_matches('/') })
            .to_string()
            .as_bytes(),
    )?;
    Ok(out.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_plugin_is_embedded() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin-stub/geopf_gateway");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".py") || n.ends_with(".txt") || n.ends_with(".png"))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn the_metadata_is_read() {
        assert_eq!(metadata("version"), env!("CARGO_PKG_VERSION"));
        assert_eq!(metadata("qgisMinimumVersion"), "3.22");
    }
}
