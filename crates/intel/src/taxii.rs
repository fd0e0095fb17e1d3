//! TAXII 2.1 client: discovery, API roots, collections, objects and manifests, with pagination and
//! `added_after` polling.
//!
//! - [`TaxiiClient`]: one server (an explicit base URL; there is no default remote), optional HTTP
//!   basic auth, one timeout for each whole request. Async (reqwest with rustls); run it on tokio.
//! - [`TaxiiClient::objects`] / [`TaxiiClient::manifest`] return one [`Page`];
//!   [`TaxiiClient::all_objects`] follows `more` / `next`; [`TaxiiClient::poll`] fetches what was
//!   added after a watermark and returns the new watermark (the last page's
//!   `X-TAXII-Date-Added-Last`).
//! - [`TaxiiError`]: 401 / 403 / 404 / 406 each have a variant carrying the server's TAXII error
//!   message; timeouts, transport, decoding and runaway pagination are distinct too.
//!
//! Invariants:
//! - Every request sends `Accept: application/taxii+json;version=2.1`.
//! - Credentials go only to the base URL's origin (scheme, host, port): an API root advertised by
//!   discovery on another server gets no `Authorization` header.
//! - Response bodies are read up to a limit ([`TaxiiClient::with_max_body_bytes`]) and pagination
//!   stops after [`TaxiiClient::with_max_pages`] pages, so a hostile
//!   server cannot make the client allocate without bound; an empty page that repeats its `next`
//!   token stops pagination.
//! - Timestamps (`added_after`, the `X-TAXII-Date-Added-*` headers) are kept as the server's
//!   strings and passed back verbatim: the server compares them, we never reformat them.
//!
//! Not here: writing objects (POST), status resources, object versions and deletion.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The TAXII 2.1 media type, sent as `Accept` on every request.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";

/// Response header: `date_added` of the first object of a page.
pub const HEADER_DATE_ADDED_FIRST: &str = "X-TAXII-Date-Added-First";
/// Response header: `date_added` of the last object of a page.
pub const HEADER_DATE_ADDED_LAST: &str = "X-TAXII-Date-Added-Last";

/// Default cap on one response body (64 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Default cap on the pages one [`TaxiiClient::all_objects`] call follows.
pub const DEFAULT_MAX_PAGES: usize = 10_000;

/// How much of an error body is kept in a [`TaxiiError`] message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
const ERROR_MESSAGE_CHARS: usize = 512;

/// HTTP basic-auth credentials. `Debug` does not print the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl BasicAuth {
    /// Credentials from a user name and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What failed in a TAXII exchange.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaxiiError {
    /// A base URL, API root or collection id that cannot be turned into a request URL.
    #[error("invalid TAXII URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL or path as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The HTTP client could not be built (TLS backend setup).
    #[error("building the TAXII HTTP client failed: {0}")]
    Client(String),
    /// 401: credentials missing or wrong.
    #[error("401 Unauthorized from {url}: wrong or missing credentials (server said: {message})")]
    Unauthorized {
        /// Request URL.
        url: String,
        /// The server's error message.
        message: String,
    },
    /// 403: authenticated but not allowed (e.g. a collection with `can_read: false`).
    #[error("403 Forbidden from {url}: {message}")]
    Forbidden {
        /// Request URL.
        url: String,
        /// The server's error message.
        message: String,
    },
    /// 404: no such API root, collection or object.
    #[error("404 Not Found from {url}: {message}")]
    NotFound {
        /// Request URL.
        url: String,
        /// The server's error message.
        message: String,
    },
    /// 406: the server does not serve `application/taxii+json;version=2.1` here.
    #[error("406 Not Acceptable from {url}: the server does not accept {TAXII_MEDIA_TYPE} (server said: {message})")]
    NotAcceptable {
        /// Request URL.
        url: String,
        /// The server's error message.
        message: String,
    },
    /// Any other non-success status.
    #[error("HTTP {status} from {url}: {message}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// Request URL.
        url: String,
        /// The server's error message.
        message: String,
    },
    /// No complete response within the client's timeout.
    #[error("TAXII request to {url} timed out after {timeout:?}")]
    Timeout {
        /// Request URL.
        url: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// Connection, TLS or protocol failure.
    #[error("TAXII request to {url} failed: {message}")]
    Transport {
        /// Request URL.
        url: String,
        /// What the HTTP stack reported.
        message: String,
    },
    /// A response body larger than the configured limit.
    #[error("TAXII response from {url} exceeds {limit} bytes")]
    TooLarge {
        /// Request URL.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A success response that is not the expected TAXII JSON resource.
    #[error("TAXII response from {url} is not a valid {resource}: {message}")]
    Decode {
        /// Request URL.
        url: String,
        /// Which resource was expected.
        resource: &'static str,
        /// The JSON error.
        message: String,
    },
    /// Pagination could not continue safely.
    #[error("TAXII pagination of {url} stopped: {reason}")]
    Pagination {
        /// The endpoint being paged.
        url: String,
        /// Why it stopped.
        reason: String,
    },
}

/// The discovery resource (`GET /taxii2/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// Server title.
    pub title: String,
    /// Server description.
    #[serde(default)]
    pub description: Option<String>,
    /// Contact information.
    #[serde(default)]
    pub contact: Option<String>,
    /// The default API root (absolute or relative URL), if any.
    #[serde(default)]
    pub default: Option<String>,
    /// Advertised API roots (absolute or relative URLs, possibly on other servers).
    #[serde(default)]
    pub api_roots: Vec<String>,
}

/// An API root's information resource (`GET <api-root>/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRoot {
    /// API root title.
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Supported TAXII media types.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Largest request body the server accepts, in bytes.
    #[serde(default)]
    pub max_content_length: u64,
}

/// A collection resource (`GET <api-root>/collections/<id>/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// Collection id (used in URLs).
    pub id: String,
    /// Human-readable title.
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Optional alias.
    #[serde(default)]
    pub alias: Option<String>,
    /// Whether the requester may read objects.
    #[serde(default)]
    pub can_read: bool,
    /// Whether the requester may add objects.
    #[serde(default)]
    pub can_write: bool,
    /// Media types of the objects.
    #[serde(default)]
    pub media_types: Vec<String>,
}

/// One manifest entry: an object version and when the collection received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// STIX id.
    pub id: String,
    /// When the collection received this version (server timestamp string).
    pub date_added: String,
    /// The object version (its `modified`).
    pub version: String,
    /// Media type.
    #[serde(default)]
    pub media_type: Option<String>,
}

/// One page of an objects or manifest response.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The page's items.
    pub objects: Vec<T>,
    /// Whether the server has more items for this query.
    pub more: bool,
    /// Token for the next page (send as `next` with the same filters).
    pub next: Option<String>,
    /// `X-TAXII-Date-Added-First`, if sent.
    pub date_added_first: Option<String>,
    /// `X-TAXII-Date-Added-Last`, if sent.
    pub date_added_last: Option<String>,
}

/// A page of STIX objects (raw JSON; parse with the `stix` module).
pub type ObjectsPage = Page<Value>;
/// A page of manifest entries.
pub type ManifestPage = Page<ManifestEntry>;

/// Filters and paging for objects and manifest requests. `Default` asks for everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectsQuery {
    /// Only items added strictly after this timestamp (server format, passed verbatim).
    pub added_after: Option<String>,
    /// Page size; the server may lower it (medallion caps it at `max_page_size`).
    pub limit: Option<u32>,
    /// Continuation token from a previous page.
    pub next: Option<String>,
    /// `match[type]`: STIX types (joined with commas).
    pub match_type: Vec<String>,
    /// `match[id]`: STIX ids (joined with commas).
    pub match_id: Vec<String>,
}

/// The result of [`TaxiiClient::poll`].
#[derive(Debug, Clone, PartialEq)]
pub struct Poll {
    /// Objects added after the previous watermark, in server order.
    pub objects: Vec<Value>,
    /// The watermark for the next poll: the last page's `X-TAXII-Date-Added-Last`, or the
    /// previous watermark when nothing new arrived (or the server sent no such header).
    pub since: Option<String>,
}

/// A TAXII 2.1 client for one server.
#[derive(Debug)]
pub struct TaxiiClient {
    http: reqwest::Client,
    base: Url,
    auth: Option<BasicAuth>,
    timeout: Duration,
    max_body_bytes: usize,
    max_pages: usize,
    requests: AtomicU64,
}

impl TaxiiClient {
    /// A client for the server at `base_url` (e.g. `https://taxii.example.org/`; discovery is
    /// `<base_url>/taxii2/`). Credentials belong in `auth`, not in the URL. `timeout` bounds each
    /// whole request (connect, headers and body).
    pub fn new(
        base_url: &str,
        auth: Option<BasicAuth>,
        timeout: Duration,
    ) -> Result<Self, TaxiiError> {
        let mut base = Url::parse(base_url).map_err(|e| TaxiiError::InvalidUrl {
            url: base_url.to_owned(),
            reason: e.to_string(),
        })?;
        check_http(&base, base_url)?;
        if !base.username().is_empty() || base.password().is_some() {
            return Err(TaxiiError::InvalidUrl {
                url: redact_userinfo(&base),
                reason: "credentials in the URL; pass them as BasicAuth".to_owned(),
            });
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("shrike-intel/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TaxiiError::Client(e.to_string()))?;
        Ok(Self {
            http,
            base,
            auth,
            timeout,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_pages: DEFAULT_MAX_PAGES,
            requests: AtomicU64::new(0),
        })
    }

    /// Caps each response body at `bytes`.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Caps the pages one paginated call follows.
    pub fn with_max_pages(mut self, pages: usize) -> Self {
        self.max_pages = pages.max(1);
        self
    }

    /// The normalized base URL (always ends with `/`).
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// HTTP requests sent so far by this client (including failed ones).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Resolves an API root or other TAXII URL: absolute `http(s)` URLs as they are, anything
    /// else relative to the base URL (so `"/shrike/"` and `"shrike/"` work).
    pub fn resolve(&self, url: &str) -> Result<Url, TaxiiError> {
        // Not parseable on its own means relative (or garbage, which join rejects too).
        let resolved = match Url::parse(url) {
            Ok(abs) => abs,
            Err(_) => self.base.join(url).map_err(|e| TaxiiError::InvalidUrl {
                url: url.to_owned(),
                reason: e.to_string(),
            })?,
        };
        check_http(&resolved, url)?;
        Ok(resolved)
    }

    /// `GET <base>/taxii2/`: the server's title and advertised API roots.
    pub async fn discovery(&self) -> Result<Discovery, TaxiiError> {
        let url = self.resolve("taxii2/")?;
        self.get_json(url, "discovery resource").await.map(|r| r.1)
    }

    /// `GET <api-root>/`: an API root's information.
    pub async fn api_root(&self, api_root: &str) -> Result<ApiRoot, TaxiiError> {
        let url = self.endpoint(api_root, &[])?;
        self.get_json(url, "API root resource").await.map(|r| r.1)
    }

    /// `GET <api-root>/collections/`: the collections of an API root.
    pub async fn collections(&self, api_root: &str) -> Result<Vec<Collection>, TaxiiError> {
        #[derive(Deserialize)]
        struct Collections {
            #[serde(default)]
            collections: Option<Vec<Collection>>,
        }
        let url = self.endpoint(api_root, &["collections"])?;
        let (_, c): (_, Collections) = self.get_json(url, "collections resource").await?;
        Ok(c.collections.unwrap_or_default())
    }

    /// `GET <api-root>/collections/<id>/`: one collection.
    pub async fn collection(&self, api_root: &str, id: &str) -> Result<Collection, TaxiiError> {
        let url = self.endpoint(api_root, &["collections", id])?;
        self.get_json(url, "collection resource").await.map(|r| r.1)
    }

    /// `GET <api-root>/collections/<id>/objects/`: one page of objects.
    pub async fn objects(
        &self,
        api_root: &str,
        collection: &str,
        query: &ObjectsQuery,
    ) -> Result<ObjectsPage, TaxiiError> {
        let url = self.endpoint(api_root, &["collections", collection, "objects"])?;
        self.page(url, query, "objects envelope").await
    }

    /// `GET <api-root>/collections/<id>/manifest/`: one page of manifest entries.
    pub async fn manifest(
        &self,
        api_root: &str,
        collection: &str,
        query: &ObjectsQuery,
    ) -> Result<ManifestPage, TaxiiError> {
        let url = self.endpoint(api_root, &["collections", collection, "manifest"])?;
        self.page(url, query, "manifest resource").await
    }

    /// All objects matching `query`, following `more` / `next` from `query.next` on.
    pub async fn all_objects(
        &self,
        api_root: &str,
        collection: &str,
        query: &ObjectsQuery,
    ) -> Result<Vec<Value>, TaxiiError> {
        let url = self.endpoint(api_root, &["collections", collection, "objects"])?;
        self.paginate(url, query, "objects envelope")
            .await
            .map(|(objects, _)| objects)
    }

    /// All manifest entries matching `query`, following `more` / `next`.
    pub async fn all_manifest(
        &self,
        api_root: &str,
        collection: &str,
        query: &ObjectsQuery,
    ) -> Result<Vec<ManifestEntry>, TaxiiError> {
        let url = self.endpoint(api_root, &["collections", collection, "manifest"])?;
        self.paginate(url, query, "manifest resource")
            .await
            .map(|(entries, _)| entries)
    }

    /// Everything added to `collection` after `since` (everything when `None`), with the
    /// watermark to pass as `since` next time. Objects already seen are not returned again as
    /// long as the server keeps `date_added` (TAXII compares `added_after` strictly).
    pub async fn poll(
        &self,
        api_root: &str,
        collection: &str,
        since: Option<&str>,
    ) -> Result<Poll, TaxiiError> {
        let url = self.endpoint(api_root, &["collections", collection, "objects"])?;
        let query = ObjectsQuery {
            added_after: since.map(str::to_owned),
            ..ObjectsQuery::default()
        };
        let (objects, last) = self.paginate(url, &query, "objects envelope").await?;
        Ok(Poll {
            objects,
            since: last.or_else(|| since.map(str::to_owned)),
        })
    }

    /// `<api-root>/<segments…>/` with each segment percent-encoded (a collection id cannot
    /// escape its path segment).
    fn endpoint(&self, api_root: &str, segments: &[&str]) -> Result<Url, TaxiiError> {
        let mut url = self.resolve(api_root)?;
        url.set_query(None);
        url.set_fragment(None);
        for s in segments {
            if s.is_empty() || *s == "." || *s == ".." {
                return Err(TaxiiError::InvalidUrl {
                    url: (*s).to_owned(),
                    reason: "empty or relative path segment".to_owned(),
                });
            }
        }
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| TaxiiError::InvalidUrl {
                    url: api_root.to_owned(),
                    reason: "URL cannot have a path".to_owned(),
                })?;
            path.pop_if_empty();
            path.extend(segments);
            path.push("");
        }
        Ok(url)
    }

    async fn page<T: DeserializeOwned>(
        &self,
        mut url: Url,
        query: &ObjectsQuery,
        resource: &'static str,
    ) -> Result<Page<T>, TaxiiError> {
        #[derive(Deserialize)]
        struct Envelope<T> {
            #[serde(default)]
            more: bool,
            #[serde(default)]
            next: Option<String>,
            // No `#[serde(default)]`: it would demand `T: Default`; a missing Option is None.
            objects: Option<Vec<T>>,
        }
        set_query(&mut url, query);
        let (headers, env): (_, Envelope<T>) = self.get_json(url, resource).await?;
        Ok(Page {
            objects: env.objects.unwrap_or_default(),
            more: env.more,
            next: env.next.filter(|n| !n.is_empty()),
            date_added_first: header(&headers, HEADER_DATE_ADDED_FIRST),
            date_added_last: header(&headers, HEADER_DATE_ADDED_LAST),
        })
    }

    /// Follows pages; returns the items and the last `X-TAXII-Date-Added-Last` seen.
    async fn paginate<T: DeserializeOwned>(
        &self,
        url: Url,
        query: &ObjectsQuery,
        resource: &'static str,
    ) -> Result<(Vec<T>, Option<String>), TaxiiError> {
        let stop = |reason: String| TaxiiError::Pagination {
            url: url.to_string(),
            reason,
        };
        let mut query = query.clone();
        let mut items = Vec::new();
        let mut last = None;
        for _ in 0..self.max_pages {
            let page: Page<T> = self.page(url.clone(), &query, resource).await?;
            let page_len = page.objects.len();
            items.extend(page.objects);
            if page.date_added_last.is_some() {
                last.clone_from(&page.date_added_last);
            }
            if !page.more {
                return Ok((items, last));
            }
            match (page.next, page.date_added_last) {
                (Some(next), _) => {
                    // A token may name a server-side session and repeat (medallion's does);
                    // only an empty page that makes no progress is a loop.
                    if page_len == 0 && query.next.as_deref() == Some(next.as_str()) {
                        return Err(stop(format!(
                            "more=true with an empty page and the same next token {next:?}"
                        )));
                    }
                    query.next = Some(next);
                    // Follow-up requests always carry `limit`: the server's own page size when
                    // the caller set none. medallion 3.0.0 answers `next` without `limit` with
                    // a 500 (KeyError 'limit' in its memory backend's get_next).
                    if query.limit.is_none() {
                        query.limit = u32::try_from(page_len).ok().filter(|&n| n > 0);
                    }
                }
                // TAXII 2.1 allows paging by date: re-ask with added_after = the last date seen.
                (None, Some(d)) if query.added_after.as_deref() != Some(d.as_str()) => {
                    query.next = None;
                    query.added_after = Some(d);
                }
                (None, _) => {
                    return Err(stop(
                        "more=true without a next token or a new X-TAXII-Date-Added-Last"
                            .to_owned(),
                    ))
                }
            }
        }
        Err(stop(format!("more than {} pages", self.max_pages)))
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        resource: &'static str,
    ) -> Result<(HeaderMap, T), TaxiiError> {
        let (headers, body) = self.get(url.clone()).await?;
        let value = serde_json::from_slice(&body).map_err(|e| TaxiiError::Decode {
            url: url.to_string(),
            resource,
            message: e.to_string(),
        })?;
        Ok((headers, value))
    }

    async fn get(&self, url: Url) -> Result<(HeaderMap, Vec<u8>), TaxiiError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self.http.get(url.clone()).header(ACCEPT, TAXII_MEDIA_TYPE);
        if let Some(auth) = &self.auth {
            if url.origin() == self.base.origin() {
                request = request.basic_auth(&auth.username, Some(&auth.password));
            }
        }
        let mut response = request.send().await.map_err(|e| self.transport(&url, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            let (body, truncated) = self
                .read_body(&mut response, &url, self.max_body_bytes)
                .await?;
            if truncated {
                return Err(TaxiiError::TooLarge {
                    url: url.to_string(),
                    limit: self.max_body_bytes,
                });
            }
            return Ok((headers, body));
        }
        // A failed body read must not hide the status: fall back to an empty message.
        let body = self
            .read_body(&mut response, &url, ERROR_BODY_LIMIT)
            .await
            .map(|(b, _)| b)
            .unwrap_or_default();
        Err(status_error(status.as_u16(), url.as_str(), &body))
    }

    /// Reads at most `limit` bytes; the flag says whether the body was longer.
    async fn read_body(
        &self,
        response: &mut reqwest::Response,
        url: &Url,
        limit: usize,
    ) -> Result<(Vec<u8>, bool), TaxiiError> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(url, e))? {
            let room = limit.saturating_sub(body.len());
            if chunk.len() > room {
                body.extend_from_slice(chunk.get(..room).unwrap_or_default());
                return Ok((body, true));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, false))
    }

    fn transport(&self, url: &Url, e: reqwest::Error) -> TaxiiError {
        if e.is_timeout() {
            TaxiiError::Timeout {
                url: url.to_string(),
                timeout: self.timeout,
            }
        } else {
            // The source chain carries the useful part ("connection refused", TLS errors).
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message.push_str(": ");
                message.push_str(&s.to_string());
                source = s.source();
            }
            TaxiiError::Transport {
                url: url.to_string(),
                message,
            }
        }
    }
}

fn check_http(url: &Url, given: &str) -> Result<(), TaxiiError> {
    match url.scheme() {
        "http" | "https" if url.has_host() => Ok(()),
        _ => Err(TaxiiError::InvalidUrl {
            url: given.to_owned(),
            reason: "not an http(s) URL with a host".to_owned(),
        }),
    }
}

fn redact_userinfo(url: &Url) -> String {
    let mut u = url.clone();
    // Both setters only fail for URLs without a host, which check_http already rejected.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

fn set_query(url: &mut Url, q: &ObjectsQuery) {
    url.set_query(None);
    let mut pairs = url.query_pairs_mut();
    if let Some(a) = &q.added_after {
        pairs.append_pair("added_after", a);
    }
    if let Some(l) = q.limit {
        pairs.append_pair("limit", &l.to_string());
    }
    if let Some(n) = &q.next {
        pairs.append_pair("next", n);
    }
    if !q.match_type.is_empty() {
        pairs.append_pair("match[type]", &q.match_type.join(","));
    }
    if !q.match_id.is_empty() {
        pairs.append_pair("match[id]", &q.match_id.join(","));
    }
    drop(pairs);
    if url.query() == Some("") {
        url.set_query(None);
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Maps a non-success status and its body to an error, keeping the TAXII error message
/// (`title: description`) or, for non-TAXII bodies, the start of the text.
fn status_error(status: u16, url: &str, body: &[u8]) -> TaxiiError {
    let message = error_message(body);
    let url = url.to_owned();
    match status {
        401 => TaxiiError::Unauthorized { url, message },
        403 => TaxiiError::Forbidden { url, message },
        404 => TaxiiError::NotFound { url, message },
        406 => TaxiiError::NotAcceptable { url, message },
        status => TaxiiError::Status {
            status,
            url,
            message,
        },
    }
}

fn error_message(body: &[u8]) -> String {
    if let Ok(Value::Object(err)) = serde_json::from_slice::<Value>(body) {
        let field = |k: &str| err.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let text = match (field("title"), field("description")) {
            (Some(t), Some(d)) => Some(format!("{t}: {d}")),
            (Some(t), None) => Some(t.to_owned()),
            (None, Some(d)) => Some(d.to_owned()),
            (None, None) => None,
        };
        if let Some(text) = text {
            return clean(&text);
        }
    }
    let text = clean(&String::from_utf8_lossy(body));
    if text.is_empty() {
        "(empty body)".to_owned()
    } else {
        text
    }
}

/// One line, printable, bounded: server text ends up in logs.
fn clean(s: &str) -> String {
    let mut out: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(ERROR_MESSAGE_CHARS)
        .collect();
    if s.chars().count() > ERROR_MESSAGE_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> TaxiiClient {
        TaxiiClient::new(base, None, Duration::from_secs(1)).expect("valid base URL")
    }

    #[test]
    fn endpoints_resolve_relative_and_absolute_api_roots() {
        let c = client("http://127.0.0.1:5000");
        assert_eq!(c.base_url().as_str(), "http://127.0.0.1:5000/");
        let u = c.endpoint("/shrike/", &["collections", "abc", "objects"]);
        assert_eq!(
            u.expect("endpoint").as_str(),
            "http://127.0.0.1:5000/shrike/collections/abc/objects/"
        );
        let u = c.endpoint("https://other.example/root", &["collections"]);
        assert_eq!(
            u.expect("endpoint").as_str(),
            "https://other.example/root/collections/"
        );
        let u = c.endpoint("shrike/", &[]).expect("endpoint");
        assert_eq!(u.as_str(), "http://127.0.0.1:5000/shrike/");
    }

    #[test]
    fn collection_ids_cannot_escape_their_segment() {
        let c = client("http://h/");
        let u = c
            .endpoint("/r/", &["collections", "a/../b?x#y", "objects"])
            .expect("endpoint");
        assert_eq!(
            u.as_str(),
            "http://h/r/collections/a%2F..%2Fb%3Fx%23y/objects/"
        );
        assert!(matches!(
            c.endpoint("/r/", &["collections", ".."]),
            Err(TaxiiError::InvalidUrl { .. })
        ));
        assert!(matches!(
            c.endpoint("/r/", &["collections", ""]),
            Err(TaxiiError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn bad_base_urls_are_rejected() {
        for bad in [
            "",
            "not a url",
            "ftp://h/",
            "file:///etc/passwd",
            "mailto:a@b",
        ] {
            assert!(
                matches!(
                    TaxiiClient::new(bad, None, Duration::from_secs(1)),
                    Err(TaxiiError::InvalidUrl { .. })
                ),
                "{bad:?} accepted"
            );
        }
        let err = TaxiiClient::new("https://u:secret@h/", None, Duration::from_secs(1))
            .expect_err("userinfo rejected");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn query_parameters_are_encoded() {
        let mut u = Url::parse("http://h/r/collections/c/objects/").expect("url");
        set_query(
            &mut u,
            &ObjectsQuery {
                added_after: Some("2026-08-01T00:00:00Z".into()),
                limit: Some(5),
                next: Some("a b&c".into()),
                match_type: vec!["indicator".into(), "malware".into()],
                match_id: vec![],
            },
        );
        assert_eq!(
            u.query(),
            Some("added_after=2026-08-01T00%3A00%3A00Z&limit=5&next=a+b%26c&match%5Btype%5D=indicator%2Cmalware")
        );
        set_query(&mut u, &ObjectsQuery::default());
        assert_eq!(u.query(), None);
    }

    #[test]
    fn status_errors_keep_the_taxii_message() {
        let body = br#"{"title": "ProcessingError", "description": "Media type in the Accept header is invalid or not found.", "http_status": "406"}"#;
        let e = status_error(406, "http://h/taxii2/", body);
        assert!(matches!(e, TaxiiError::NotAcceptable { .. }));
        assert_eq!(
            e.to_string(),
            "406 Not Acceptable from http://h/taxii2/: the server does not accept \
             application/taxii+json;version=2.1 (server said: ProcessingError: Media type in the \
             Accept header is invalid or not found.)"
        );
        let e = status_error(401, "http://h/", b"Unauthorized Access");
        assert!(e.to_string().starts_with("401 Unauthorized"), "{e}");
        assert!(e.to_string().contains("Unauthorized Access"), "{e}");
        let e = status_error(500, "http://h/", b"");
        assert_eq!(e.to_string(), "HTTP 500 from http://h/: (empty body)");
        let e = status_error(502, "http://h/", "x\u{1b}[31m\ny".repeat(400).as_bytes());
        let s = e.to_string();
        assert!(
            !s.contains('\u{1b}') && !s.contains('\n') && s.ends_with('…'),
            "{s}"
        );
    }

    #[test]
    fn basic_auth_debug_hides_the_password() {
        let a = BasicAuth::new("shrike", "hunter2");
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
