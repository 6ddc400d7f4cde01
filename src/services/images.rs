//! Images from the upstream — WMTS tiles and WMS maps — through two caches: memory (moka, weighed
//! in bytes, concurrent misses coalesced) and the disk store (bounded, kept across restarts). A disk
//! copy past its time to live is still served when the upstream fails (stale-if-error), and at most
//! `upstream.max_tile_fetches` image requests are in flight upstream, so a pan storm or a seeding
//! run queues instead of opening hundreds of connections.
//!
//! Only real images are kept: a body must start with an image signature (PNG, JPEG, WebP, GIF,
//! TIFF, or SVG text), whatever its `Content-Type` says, so an error page sent as `image/png`
//! is a 502 and never poisons the caches; disk copies are checked again when read. When the
//! upstream hangs, a stale copy is served after [`STALE_DEADLINE`] instead of the full timeout.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use reqwest::header::HeaderValue;
use tokio::sync::Semaphore;

use super::ServiceError;
use crate::{
    cache::{
        disk::{DiskStore, Stored},
        CacheKind, CacheStatus, Cached, MemoryCache,
    },
    cluster::tiles::SharedTiles,
    upstream::{SharedUpstream, UpstreamError, UpstreamRequest, UpstreamResponse},
};

/// A tile (or map) as cached: its media type, bytes and a strong validator. The media type and
/// validator are kept as header values, so answering a cache hit copies nothing.
#[derive(Debug, Clone)]
pub struct Tile {
    pub content_type: HeaderValue,
    pub body: Bytes,
    pub etag: HeaderValue,
}

/// How long a request waits for the upstream before a stale disk copy is served instead (the
/// fetch goes on in the background and refreshes the caches when it ends).
pub const STALE_DEADLINE: Duration = Duration::from_secs(2);

/// The media type an image body's first bytes announce; `None` when they are not an image's.
pub fn sniff_image(body: &[u8]) -> Option<&'static str> {
    let text_start = || {
        let trimmed = body
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(body.len());
        &body[trimmed..]
    };
    match body {
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', ..] => Some("image/png"),
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        [b'G', b'I', b'F', b'8', ..] => Some("image/gif"),
        [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => Some("image/tiff"),
        _ if text_start().starts_with(b"<svg") || text_start().starts_with(b"<?xml") => {
            Some("image/svg+xml")
        }
        _ => None,
    }
}

/// The media type of a tile's bytes: an image's ([`sniff_image`]), or a Mapbox Vector Tile's — a
/// protocol buffer whose first field is a layer (`0x1a`), or gzip (`1f 8b`) as some servers store
/// them; `None` for anything else (an error page).
pub fn sniff_tile(body: &[u8]) -> Option<&'static str> {
    sniff_image(body).or(match body {
        [0x1a, ..] | [0x1f, 0x8b, ..] => Some(VECTOR_TILE),
        _ => None,
    })
}

/// The media type of a vector tile, as the Géoplateforme's TMS sends it.
pub const VECTOR_TILE: &str = "application/x-protobuf";

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Tile {
    /// An image as the upstream sent it (its body already in an allocation of its own size, see
    /// the upstream client), with a validator of its bytes.
    pub fn from_upstream(r: UpstreamResponse) -> Self {
        Tile::new(
            &r.content_type,
            &format!("\"{:016x}\"", fnv1a(&r.body)),
            r.body,
        )
    }

    fn new(content_type: &str, etag: &str, body: Bytes) -> Self {
        Tile {
            content_type: HeaderValue::from_str(content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            etag: HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\"")),
            body,
        }
    }

    /// A disk copy, if it is what `vet` asks (one written before tiles were checked may not be).
    fn from_disk(stored: Stored, vet: Vet) -> Option<Self> {
        vet.passes(&stored.body).then_some(())?;
        Some(Tile::new(&stored.content_type, &stored.etag, stored.body))
    }

    /// The tile as the replicas share it: media type and validator on a line each, then the
    /// bytes.
    fn to_shared(&self) -> Vec<u8> {
        let (content_type, etag) = (self.content_type.as_bytes(), self.etag.as_bytes());
        let mut bytes = Vec::with_capacity(content_type.len() + etag.len() + 2 + self.body.len());
        for part in [content_type, b"\n", etag, b"\n", &self.body[..]] {
            bytes.extend_from_slice(part);
        }
        bytes
    }

    /// A tile another replica shared, if it reads as one.
    fn from_shared(bytes: &[u8], vet: Vet) -> Option<Self> {
        let mut parts = bytes.splitn(3, |b| *b == b'\n');
        let content_type = std::str::from_utf8(parts.next()?).ok()?;
        let etag = std::str::from_utf8(parts.next()?).ok()?;
        let body = parts.next()?;
        vet.passes(body).then_some(())?;
        Some(Tile::new(content_type, etag, Bytes::copy_from_slice(body)))
    }

    fn to_disk(&self) -> Stored {
        Stored {
            content_type: self.content_type.to_str().unwrap_or_default().to_string(),
            etag: self.etag.to_str().unwrap_or_default().to_string(),
            fetched: SystemTime::now(),
            body: self.body.clone(),
        }
    }
}

/// How an image was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileOrigin {
    pub cache_status: CacheStatus,
    /// Past its time to live, served because the upstream failed (stale-if-error).
    pub stale: bool,
}

impl TileOrigin {
    /// From memory.
    pub fn hit() -> Self {
        TileOrigin {
            cache_status: CacheStatus::Hit,
            stale: false,
        }
    }
}

/// The upstream client, behind the cap on image requests in flight.
#[derive(Clone)]
pub struct ImageFetcher {
    client: SharedUpstream,
    in_flight: Arc<Semaphore>,
}

impl ImageFetcher {
    pub fn new(client: SharedUpstream, max_in_flight: usize) -> Self {
        ImageFetcher {
            client,
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
        }
    }

    pub fn client(&self) -> &SharedUpstream {
        &self.client
    }

    /// The upstream's image (or vector tile) answer to `request`; anything else is a bad body.
    /// The media type is the one the bytes announce. A [`Vet::Resource`] is taken as it comes.
    pub async fn get(
        &self,
        request: &UpstreamRequest,
        vet: Vet,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| UpstreamError::Unreachable {
                api: request.api,
                reason: "the gateway is shutting down".into(),
            })?;
        let mut r = self.client.get(request).await?;
        if vet == Vet::Resource {
            return Ok(r);
        }
        let tile_type = r.content_type.starts_with("image/")
            || [
                VECTOR_TILE,
                "application/vnd.mapbox-vector-tile",
                "application/octet-stream",
            ]
            .iter()
            .any(|t| r.content_type.starts_with(t));
        if !tile_type {
            return Err(UpstreamError::BadBody {
                api: request.api,
                reason: format!("a {} answer instead of an image", r.content_type),
            });
        }
        match sniff_tile(&r.body) {
            Some(sniffed) => {
                if !r.content_type.starts_with(sniffed) {
                    r.content_type = sniffed.to_string();
                }
                Ok(r)
            }
            None => Err(UpstreamError::BadBody {
                api: request.api,
                reason: format!(
                    "a {} answer of {} bytes that is not an image",
                    r.content_type,
                    r.body.len()
                ),
            }),
        }
    }
}

/// What an answer must be to be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vet {
    /// An image or a vector tile, by its bytes (an error page sent as a 200 is refused).
    Image,
    /// A static resource a map needs (a style, a sprite, glyphs, a TileMap): any 2xx answer.
    Resource,
}

impl Vet {
    /// Whether `body` is what is asked.
    fn passes(self, body: &[u8]) -> bool {
        self == Vet::Resource || sniff_tile(body).is_some()
    }
}

/// The image caches shared by the tiles and the WMS maps, and the static resources the vector
/// styles need.
#[derive(Clone)]
pub struct ImageCache {
    fetcher: ImageFetcher,
    memory: MemoryCache<Tile>,
    disk: Option<Arc<DiskStore>>,
    /// How long a copy on disk is fresh (`cache.ttl.tiles`); older ones serve only when the
    /// upstream fails.
    fresh_for: Duration,
    /// Cluster mode: the replicas' shared level (Redis or object storage), behind memory and
    /// disk.
    shared: Option<Arc<SharedTiles>>,
}

fn origin(cache_status: CacheStatus, stale: bool) -> TileOrigin {
    TileOrigin {
        cache_status,
        stale,
    }
}

fn cached(tile: Tile) -> Cached<Tile> {
    Cached {
        kind: CacheKind::Tiles,
        weight: u32::try_from(tile.body.len()).unwrap_or(u32::MAX),
        value: tile,
        shared: false,
    }
}

impl ImageCache {
    pub fn new(
        fetcher: ImageFetcher,
        memory: MemoryCache<Tile>,
        disk: Option<DiskStore>,
        fresh_for: Duration,
    ) -> Self {
        ImageCache {
            fetcher,
            memory,
            disk: disk.map(Arc::new),
            fresh_for,
            shared: None,
        }
    }

    /// Shares tiles with the other replicas through `shared`.
    pub fn with_shared(mut self, shared: Option<Arc<SharedTiles>>) -> Self {
        self.shared = shared;
        self
    }

    /// The image `key` if it is in memory (counted as a hit); nothing else is tried.
    pub async fn cached(&self, key: &str) -> Option<Tile> {
        self.memory.get(key).await.map(|hit| hit.value.clone())
    }

    /// A copy another replica shared; kept on disk here too.
    async fn shared_copy(&self, key: &str, vet: Vet) -> Option<Tile> {
        let shared = self.shared.as_ref()?;
        let tile = Tile::from_shared(&shared.get(key, self.fresh_for).await?, vet)?;
        self.keep_on_disk(key, &tile).await;
        Some(tile)
    }

    /// Writes the image to the disk store, on a blocking thread.
    async fn keep_on_disk(&self, key: &str, tile: &Tile) {
        let Some(disk) = self.disk.clone() else {
            return;
        };
        let (key, stored) = (key.to_string(), tile.to_disk());
        let written = tokio::task::spawn_blocking(move || disk.put(&key, &stored)).await;
        if let Ok(Err(e)) = written {
            tracing::warn!(error = %e, "an image could not be written to the disk store");
        }
    }

    /// The disk copy of `key`, however old, read on a blocking thread.
    async fn on_disk(&self, key: &str) -> Option<Stored> {
        let disk = self.disk.clone()?;
        let key = key.to_string();
        tokio::task::spawn_blocking(move || disk.get(&key))
            .await
            .ok()
            .flatten()
    }

    pub fn client(&self) -> &SharedUpstream {
        self.fetcher.client()
    }

    /// Bytes held in memory.
    pub fn memory_bytes(&self) -> u64 {
        self.memory.weighted_size()
    }

    /// The disk store, if there is one.
    pub fn disk(&self) -> Option<&DiskStore> {
        self.disk.as_deref()
    }

    /// A copy on disk younger than the time to live.
    async fn fresh_on_disk(&self, key: &str, vet: Vet) -> Option<Tile> {
        let stored = self
            .on_disk(key)
            .await
            .filter(|s| s.age() < self.fresh_for)?;
        Tile::from_disk(stored, vet)
    }

    /// Fetches the image and keeps it on disk.
    async fn fetch_to_disk(
        &self,
        key: &str,
        request: &UpstreamRequest,
        vet: Vet,
    ) -> Result<Tile, UpstreamError> {
        let tile = Tile::from_upstream(self.fetcher.get(request, vet).await?);
        self.keep_on_disk(key, &tile).await;
        if let Some(shared) = &self.shared {
            shared.put(key, tile.to_shared(), self.fresh_for).await;
        }
        Ok(tile)
    }

    /// The image `key` (what `request` fetches): from memory, else from disk while fresh, else
    /// from the upstream once for any number of concurrent requests; an old disk copy when the
    /// upstream fails, or when it has not answered within [`STALE_DEADLINE`].
    pub async fn get(
        &self,
        key: String,
        request: &UpstreamRequest,
    ) -> Result<(Tile, TileOrigin), ServiceError> {
        self.lookup(key, request, Vet::Image).await
    }

    /// A static resource (see [`Vet::Resource`]), kept as the images are.
    pub async fn resource(
        &self,
        request: &UpstreamRequest,
    ) -> Result<(Tile, TileOrigin), ServiceError> {
        self.lookup(request.cache_key(), request, Vet::Resource)
            .await
    }

    async fn lookup(
        &self,
        key: String,
        request: &UpstreamRequest,
        vet: Vet,
    ) -> Result<(Tile, TileOrigin), ServiceError> {
        if let Some(hit) = self.memory.get(&key).await {
            return Ok((hit.value.clone(), origin(CacheStatus::Hit, false)));
        }
        let this = self.clone();
        let (k, req) = (key.clone(), request.clone());
        let mut lookup = Box::pin(async move {
            let fetch = async {
                if let Some(tile) = this.fresh_on_disk(&k, vet).await {
                    return Ok(cached(tile));
                }
                if let Some(tile) = this.shared_copy(&k, vet).await {
                    return Ok(Cached {
                        shared: true,
                        ..cached(tile)
                    });
                }
                this.fetch_to_disk(&k, &req, vet).await.map(cached)
            };
            this.memory.get_or_fetch(k.clone(), fetch).await
        });
        let result = match tokio::time::timeout(STALE_DEADLINE, lookup.as_mut()).await {
            Ok(result) => result,
            Err(_) => match self.stale_on_disk(&key, vet).await {
                Some(tile) => {
                    tracing::warn!(key = %key, "the upstream is slow: serving a stale image");
                    // The fetch goes on, and fills the caches when the upstream answers.
                    tokio::spawn(lookup);
                    return Ok((tile, origin(CacheStatus::Hit, true)));
                }
                None => lookup.await,
            },
        };
        match result {
            Ok((t, status)) => Ok((t.value.clone(), origin(status, false))),
            Err(e) => match self.stale_on_disk(&key, vet).await {
                // stale-if-error: an old copy beats no map.
                Some(tile) => {
                    tracing::warn!(error = %e, "serving a stale image");
                    Ok((tile, origin(CacheStatus::Hit, true)))
                }
                None => Err(ServiceError::Upstream((*e).clone())),
            },
        }
    }

    /// A copy on disk, however old.
    async fn stale_on_disk(&self, key: &str, vet: Vet) -> Option<Tile> {
        Tile::from_disk(self.on_disk(key).await?, vet)
    }

    /// Puts the image `key` on disk unless a fresh copy is there: `None` then, else the bytes
    /// fetched. Bypasses the memory cache (seeding).
    pub async fn seed(
        &self,
        key: &str,
        request: &UpstreamRequest,
        vet: Vet,
    ) -> Result<Option<usize>, ServiceError> {
        if self.fresh_on_disk(key, vet).await.is_some() {
            return Ok(None);
        }
        let tile = self.fetch_to_disk(key, request, vet).await?;
        Ok(Some(tile.body.len()))
    }
}
