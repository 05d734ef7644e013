//! The HTTP surface: GraphQL, GraphiQL, health, readiness and metrics.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::{ServerError, Value};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::admission::Admission;
use crate::graphql::limits::{Checked, check_document};
use crate::graphql::{self, DirectorySchema};
use app::auth;
use app::error::ApiError;
use app::state::{AppState, LogReads};

/// Request bodies above this size are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A single string value above this size is refused with BAD_INPUT.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;
/// The values a request's variables may hold, list items and object fields included.
pub const MAX_VARIABLE_VALUES: usize = 10_000;

#[derive(Clone)]
pub struct Http {
    pub state: Arc<AppState>,
    /// Who has been sending refused documents.
    pub throttle: Arc<crate::throttle::Throttle>,
    /// Staff requests: introspection and suggestions.
    pub schema: DirectorySchema,
    /// Everyone else: neither.
    pub public_schema: DirectorySchema,
    pub metrics: Option<PrometheusHandle>,
    pub issuer: Arc<documents::pdf::invoice::Issuer>,
    /// Who may work now (`admission`).
    pub admission: Admission,
}

pub fn router(state: Arc<AppState>, metrics: Option<PrometheusHandle>) -> Router {
    router_with(state, metrics, Admission::default())
}

/// As [`router`], with the server's own bound on the work it does at once.
pub fn router_with(state: Arc<AppState>, metrics: Option<PrometheusHandle>, admission: Admission) -> Router {
    let (schema, public_schema) = (graphql::build(state.clone()), graphql::build_public(state.clone()));
    // Documents do real work: they wait for a permit like GraphQL and the node API.
    let documents = Router::new()
        .route("/invoices/{file}", get(invoice_document))
        .route("/reports/sla/{project}/{file}", get(sla_document))
        .route("/keys/{project}/{file}", get(key_list))
        .route_layer(axum::middleware::from_fn_with_state(admission.clone(), crate::admission::layer));
    Router::new()
        .route("/graphql", get(|| async { graphiql("index.html") }).post(graphql_post))
        .route("/assets/graphiql-3.9.0/{file}", get(|Path(file): Path<String>| async move { graphiql(&file) }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .merge(documents)
        .route("/", get(|| async { page("text/html; charset=utf-8", include_str!("../assets/web/index.html")) }))
        .route(
            "/assets/app.js",
            get(|| async { page("text/javascript; charset=utf-8", include_str!("../assets/web/app.js")) }),
        )
        .route(
            "/assets/i18n.js",
            get(|| async { page("text/javascript; charset=utf-8", include_str!("../assets/web/i18n.js")) }),
        )
        .route(
            "/assets/style.css",
            get(|| async { page("text/css; charset=utf-8", include_str!("../assets/web/style.css")) }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Http {
            state: state.clone(),
            throttle: Arc::default(),
            schema,
            public_schema,
            metrics,
            issuer: Arc::new(documents::pdf::invoice::Issuer::from_env()),
            admission: admission.clone(),
        })
        .merge(crate::node::router(state, admission))
}

/// The portal's Content-Security-Policy: scripts, styles and connections to this server only.
const PORTAL_CSP: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";
/// The same for GraphiQL, whose stylesheet embeds its fonts as `data:` URIs.
const GRAPHIQL_CSP: &str = "default-src 'self'; img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'";

/// A page of the portal: embedded in the binary, scripts from this server only.
fn page(kind: &'static str, body: &'static str) -> Response {
    served(kind, body, PORTAL_CSP, "no-cache")
}

fn served(kind: &'static str, body: &'static str, csp: &'static str, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

/// GraphiQL, embedded in the binary (`assets/graphiql/README.md`): its own files change
/// with each build, the vendored ones only with their version, which names the path.
fn graphiql(file: &str) -> Response {
    const JS: &str = "text/javascript; charset=utf-8";
    const CSS: &str = "text/css; charset=utf-8";
    const FOREVER: &str = "public, max-age=31536000, immutable";
    let (kind, body, cache) = match file {
        "index.html" => ("text/html; charset=utf-8", include_str!("../assets/graphiql/index.html"), "no-cache"),
        "start.js" => (JS, include_str!("../assets/graphiql/start.js"), "no-cache"),
        "page.css" => (CSS, include_str!("../assets/graphiql/page.css"), "no-cache"),
        "graphiql.min.js" => (JS, include_str!("../assets/graphiql/graphiql.min.js"), FOREVER),
        "graphiql.min.css" => (CSS, include_str!("../assets/graphiql/graphiql.min.css"), FOREVER),
        "react.production.min.js" => (JS, include_str!("../assets/graphiql/react.production.min.js"), FOREVER),
        "react-dom.production.min.js" => (JS, include_str!("../assets/graphiql/react-dom.production.min.js"), FOREVER),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    served(kind, body, GRAPHIQL_CSP, cache)
}

fn authenticate(http: &Http, headers: &HeaderMap) -> Result<auth::Principal, Box<Response>> {
    let header = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok());
    let catalog = http.state.catalog();
    auth::authenticate(
        header,
        http.state.bootstrap_hash.as_deref(),
        &catalog,
        http.state.token_lifetime(),
        http.state.now(),
    )
    .map_err(|e| Box::new(refusal(StatusCode::UNAUTHORIZED, &e)))
}

/// One GraphQL request per body (no batch arrays), authenticated by bearer token.
async fn graphql_post(State(http): State<Http>, headers: HeaderMap, body: axum::body::Body) -> Response {
    let started = Instant::now();
    let principal = match authenticate(&http, &headers) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    // Whoever keeps sending refused documents waits before its next one is even read.
    let actor = principal.actor();
    if http.throttle.over_budget(&actor, Instant::now()) {
        tokio::time::sleep(crate::throttle::WAIT).await;
    }
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await;
    // Taken after the wait above, so that a throttled client never holds a permit idle.
    let _permit = match http.admission.enter().await {
        Ok(permit) => permit,
        Err(shed) => return shed,
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            let too_large =
                std::error::Error::source(&e).is_some_and(|inner| inner.is::<http_body_util::LengthLimitError>());
            let (status, message) = match too_large {
                true => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body is larger than {} KiB", MAX_BODY_BYTES / 1024),
                ),
                false => (StatusCode::BAD_REQUEST, "the request body could not be read".to_owned()),
            };
            http.throttle.refused(&actor, Instant::now());
            return refusal(status, &ApiError::BadInput(message));
        }
    };
    let (request, checked) = match admit(body).await {
        Ok(admitted) => admitted,
        Err((status, message)) => {
            http.throttle.refused(&actor, Instant::now());
            return refusal(status, &ApiError::BadInput(message));
        }
    };
    if http.state.bus.log.is_read_only() && checked.mutation {
        let message = "this server answers queries only (it reads a replica): send changes to the primary";
        return refusal(StatusCode::OK, &ApiError::Unavailable(message.into()));
    }
    let operation = checked.operation;
    let mut response = if principal.is_staff() {
        http.schema.execute(request.data(principal).data(LogReads::default())).await
    } else {
        http.public_schema.execute(request.disable_introspection().data(principal).data(LogReads::default())).await
    };
    for error in &mut response.errors {
        classify(error);
    }
    // Refused before anything ran (parse, validation, depth, complexity): counts as well.
    let refused = !response.errors.is_empty() && response.errors.iter().all(|e| e.path.is_empty());
    if refused && response.data == async_graphql::Value::Null {
        http.throttle.refused(&actor, Instant::now());
    }
    metrics::histogram!("directory_graphql_request_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
    Json(response).into_response()
}

/// The document's limits (`graphql::limits`). A long document is parsed on a blocking
/// thread, so that no request holds a runtime worker while it is looked at.
/// A body decoded and its document checked, or why not (with the status to answer). Small
/// bodies are handled at once; larger ones on the blocking pool, and no more of those at
/// once than leaves a core to the runtime, so that however many abusive documents arrive,
/// `/healthz` and everyone else's requests keep a core.
async fn admit(body: Bytes) -> Result<(async_graphql::Request, Checked), (StatusCode, String)> {
    const INLINE_BYTES: usize = 4 * 1024;
    static HEAVY: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))
    });
    if body.len() <= INLINE_BYTES {
        return admit_now(&body);
    }
    // The semaphore is never closed: a permit always comes.
    let _permit = HEAVY.acquire().await.ok();
    tokio::task::spawn_blocking(move || admit_now(&body))
        .await
        .unwrap_or_else(|_| Err((StatusCode::OK, "the query could not be checked".into())))
}

fn admit_now(body: &[u8]) -> Result<(async_graphql::Request, Checked), (StatusCode, String)> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        let message = "batched requests are not accepted: send one GraphQL request per POST";
        return Err((StatusCode::BAD_REQUEST, message.into()));
    }
    let request: async_graphql::Request = serde_json::from_slice(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("the body must be one GraphQL request as JSON ({e})")))?;
    if let Some(why) = oversized(&request) {
        return Err((StatusCode::OK, why));
    }
    let checked = check_document(&request.query, request.operation_name.as_deref()).map_err(|m| (StatusCode::OK, m))?;
    Ok((request, checked))
}

/// Errors raised before a resolver ran (parse, validation, argument coercion) carry no
/// code: they are all bad input.
fn classify(error: &mut ServerError) {
    let has_code = error.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
    if !has_code {
        error.extensions.get_or_insert_with(Default::default).set("code", "BAD_INPUT");
    }
}

/// Why the request's variables are refused, if they are: a string over 64 KiB, or more
/// values than any form sends (each is converted and validated on the runtime).
fn oversized(request: &async_graphql::Request) -> Option<String> {
    fn walk(v: &Value, count: &mut usize) -> bool {
        *count += 1;
        match v {
            Value::String(s) => s.len() > MAX_FIELD_BYTES,
            Value::List(items) => items.iter().any(|v| walk(v, count)),
            Value::Object(fields) => fields.values().any(|v| walk(v, count)),
            _ => false,
        }
    }
    let mut count = 0;
    if request.variables.iter().any(|(_, v)| walk(v, &mut count)) {
        return Some(format!("a value in the request is larger than {} KiB", MAX_FIELD_BYTES / 1024));
    }
    (count > MAX_VARIABLE_VALUES).then(|| format!("the variables hold more than {MAX_VARIABLE_VALUES} values"))
}

fn refusal(status: StatusCode, e: &ApiError) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": e.message(), "extensions": { "code": e.code() } }] });
    (status, Json(body)).into_response()
}

#[derive(serde::Deserialize)]
struct AsOfParam {
    #[serde(rename = "asOf")]
    as_of: Option<String>,
}

/// `GET /invoices/{id}.pdf` and `GET /invoices/{id}.xml`: an issued invoice (or
/// cancellation invoice) as a PDF or as XRechnung (CII), for staff and for the customer's
/// own people; `?asOf=` answers as recorded then.
async fn invoice_document(
    State(http): State<Http>,
    headers: HeaderMap,
    Path(file): Path<String>,
    axum::extract::Query(query): axum::extract::Query<AsOfParam>,
) -> Response {
    let principal = match authenticate(&http, &headers) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let not_found = || refusal(StatusCode::NOT_FOUND, &ApiError::NotFound(format!("no invoice document {file:?}")));
    let (stem, xml) = match (file.strip_suffix(".pdf"), file.strip_suffix(".xml")) {
        (Some(stem), _) => (stem, false),
        (_, Some(stem)) => (stem, true),
        _ => return not_found(),
    };
    let Ok(id) = stem.parse::<domain::InvoiceId>() else { return not_found() };
    let position = match query.as_of.as_deref().map(str::parse::<chrono::DateTime<chrono::Utc>>) {
        None => None,
        Some(Ok(at)) => match http.state.position_at(at).await {
            Ok(p) => Some(p),
            Err(e) => return refusal(StatusCode::SERVICE_UNAVAILABLE, &e),
        },
        Some(Err(_)) => {
            return refusal(StatusCode::BAD_REQUEST, &ApiError::BadInput("asOf: an RFC 3339 instant".into()));
        }
    };
    let (invoice, buyer_email) = {
        let catalog = http.state.catalog();
        let view = position.map_or_else(|| catalog.live(), |p| catalog.at(p));
        let invoice = view
            .invoice(&id)
            .filter(|i| i.number.is_some())
            .filter(|i| app::policy::may_read_invoice(&principal, i))
            .cloned();
        // The buyer's electronic address: the customer's first person by name.
        let email = invoice.as_ref().and_then(|i| i.content.as_ref()).and_then(|c| {
            let mut people: Vec<_> = view.people_of(c.customer_id).filter_map(|p| view.person(&p)).collect();
            people.sort_by(|a, b| a.name.cmp(&b.name));
            people.first().map(|p| p.email.clone())
        });
        (invoice, email)
    };
    let Some(invoice) = invoice else { return not_found() };
    let issuer = http.issuer.clone();
    let number = invoice.number.clone().unwrap_or_default();
    if xml {
        return match documents::xrechnung::render(&invoice, &issuer, buyer_email.as_deref()) {
            Some(text) => {
                let named = file_name(&number, "xml");
                (
                    [(header::CONTENT_TYPE, "application/xml; charset=utf-8"), (header::CONTENT_DISPOSITION, &named)],
                    text,
                )
                    .into_response()
            }
            None => not_found(),
        };
    }
    let bytes = match tokio::task::spawn_blocking(move || {
        documents::pdf::invoice::render(&invoice, &issuer, buyer_email.as_deref())
    })
    .await
    {
        Ok(bytes) => bytes,
        Err(_) => return refusal(StatusCode::SERVICE_UNAVAILABLE, &ApiError::Unavailable("rendering failed".into())),
    };
    ([(header::CONTENT_TYPE, "application/pdf"), (header::CONTENT_DISPOSITION, &file_name(&number, "pdf"))], bytes)
        .into_response()
}

/// Shown in the browser, saved under its own name (`RE-2026-00001.pdf`). The name is made
/// of letters, digits, `-` and `_` only, so that it needs no quoting rules of its own.
fn file_name(stem: &str, extension: &str) -> String {
    let stem: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("inline; filename=\"{stem}.{extension}\"")
}

/// `GET /reports/sla/{projectId}/{YYYY-MM}.pdf`: a project's monthly SLA report, for staff
/// and for the customer's own people; `?asOf=` answers as recorded then.
async fn sla_document(
    State(http): State<Http>,
    headers: HeaderMap,
    Path((project, file)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<AsOfParam>,
) -> Response {
    let principal = match authenticate(&http, &headers) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let not_found = || refusal(StatusCode::NOT_FOUND, &ApiError::NotFound(format!("no SLA report {project}/{file}")));
    let Ok(id) = project.parse::<domain::ProjectId>() else { return not_found() };
    let month = match file.strip_suffix(".pdf").map(crate::graphql::sla::month) {
        Some(Ok(m)) => m,
        Some(Err(e)) => return refusal(StatusCode::BAD_REQUEST, &e),
        None => return not_found(),
    };
    let (position, as_of) = match query.as_of.as_deref().map(str::parse::<chrono::DateTime<chrono::Utc>>) {
        None => (None, http.state.now()),
        Some(Ok(at)) => match http.state.position_at(at).await {
            Ok(p) => (Some(p), at),
            Err(e) => return refusal(StatusCode::SERVICE_UNAVAILABLE, &e),
        },
        Some(Err(_)) => {
            return refusal(StatusCode::BAD_REQUEST, &ApiError::BadInput("asOf: an RFC 3339 instant".into()));
        }
    };
    let position = {
        let catalog = http.state.catalog();
        let at = position.map_or_else(|| catalog.live(), |p| catalog.at(p));
        let visible = at.project(&id).is_some_and(|p| app::policy::may_read_project(&principal, p));
        visible.then(|| at.position())
    };
    let Some(position) = position else { return not_found() };
    let reads = app::state::LogReads::default();
    let report = match app::sla::report_of(&http.state, position, id, month, &reads).await {
        Ok(Some(report)) => report,
        Ok(None) => return not_found(),
        Err(e) => return refusal(StatusCode::SERVICE_UNAVAILABLE, &e),
    };
    let found = {
        let catalog = http.state.catalog();
        let at = catalog.at(position);
        at.project(&id).map(|p| {
            let customer = p.customer_id.and_then(|c| at.customer(&c)).map(|c| c.name.clone()).unwrap_or_default();
            let path = at.ancestry(id).iter().rev().filter_map(|a| at.project(a).map(|x| x.name.clone())).collect();
            let monitors = report
                .incidents
                .iter()
                .filter_map(|i| {
                    let url = at.monitor(&i.monitor_id)?.config.as_ref().map(|c| c.url.clone());
                    Some((i.monitor_id.to_string(), url.unwrap_or_default()))
                })
                .collect();
            (report, documents::pdf::sla::Context { project: p.name.clone(), customer, path, monitors, as_of })
        })
    };
    let Some((report, cx)) = found else { return not_found() };
    let named = file_name(&format!("SLA-{}-{month}", cx.project), "pdf");
    match tokio::task::spawn_blocking(move || documents::pdf::sla::render(&report, &cx)).await {
        Ok(bytes) => {
            ([(header::CONTENT_TYPE, "application/pdf"), (header::CONTENT_DISPOSITION, &named)], bytes).into_response()
        }
        Err(_) => refusal(StatusCode::SERVICE_UNAVAILABLE, &ApiError::Unavailable("rendering failed".into())),
    }
}

/// `GET /keys/{projectId}/{deployment}.pub`: the OpenSSH public keys that may decrypt the
/// deployment's secrets, one per line by fingerprint (a key `age` cannot use as a `#`
/// line that names it and why), with an ETag of the list (so it changes only when the set
/// does) and `If-None-Match` answered with 304.
async fn key_list(
    State(http): State<Http>,
    headers: HeaderMap,
    Path((project, file)): Path<(String, String)>,
) -> Response {
    let principal = match authenticate(&http, &headers) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let not_found = || refusal(StatusCode::NOT_FOUND, &ApiError::NotFound(format!("no key list {project}/{file}")));
    let (Ok(id), Some(deployment)) = (project.parse::<domain::ProjectId>(), file.strip_suffix(".pub")) else {
        return not_found();
    };
    let body = {
        let catalog = http.state.catalog();
        let at = catalog.live();
        if !app::policy::may_see_key_list(at, &principal, id) {
            return not_found();
        }
        // `age -R` reads this file: it takes what it can encrypt to and ignores `#` lines,
        // so a key it cannot use is named in a comment instead of breaking the whole list.
        match at.recipients(id, deployment) {
            Some(keys) => keys
                .iter()
                .map(|r| match r.key.unusable_for_secrets() {
                    None => format!("{}\n", r.key.public_key),
                    Some(why) => format!("# skipped {} ({}): {why}\n", r.key.fingerprint, r.key.algorithm),
                })
                .collect::<String>(),
            None => return not_found(),
        }
    };
    let etag = {
        use sha2::{Digest, Sha256};
        format!("\"{}\"", hex::encode(&Sha256::digest(body.as_bytes())[..16]))
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()), (header::ETAG, etag)], body).into_response()
}

/// How long another session may hold the log head idle before this server says it is not
/// ready: an append transaction takes milliseconds, so seconds mean a stuck session.
const HEAD_HELD_LIMIT_SECONDS: f64 = 2.0;

/// Ready when the store answers, nothing holds the log back and the read models have
/// caught up with the log. Anyone may ask, so the answer says only ready or not; why not
/// goes to the log (and the gauges of `/metrics`).
async fn readyz(State(http): State<Http>) -> Response {
    match not_ready(&http).await {
        None => (StatusCode::OK, "ready").into_response(),
        Some(why) => {
            tracing::warn!(why, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
        }
    }
}

async fn not_ready(http: &Http) -> Option<String> {
    let log = &http.state.bus.log;
    let head = match log.head().await {
        Ok(h) => h.position,
        Err(e) => return Some(format!("store not reachable: {e}")),
    };
    match log.head_holder().await {
        Ok(Some(holder)) if holder.open_seconds >= HEAD_HELD_LIMIT_SECONDS => {
            return Some(format!(
                "log head held by an idle transaction (database pid {}) for {:.0} s: appends wait",
                holder.pid, holder.open_seconds
            ));
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "lock view not readable"),
    }
    let folded = http.state.bus.projector.position();
    (folded < head).then(|| format!("read models at {folded} of {head}"))
}

/// The gauges that are read when scraped: how far the log and its readers are held back.
async fn sample_lag(http: &Http) {
    let log = &http.state.bus.log;
    let folded = http.state.bus.projector.position();
    if let Ok(head) = log.head().await {
        metrics::gauge!("directory_projection_lag_events").set((head.position - folded).max(0) as f64);
    }
    let held = log.head_holder().await.ok().flatten().map_or(0.0, |h| h.open_seconds);
    metrics::gauge!("directory_log_head_held_seconds").set(held);
    let waiting = log.append_waiting().map_or(0.0, |d| d.as_secs_f64());
    metrics::gauge!("directory_append_waiting_seconds").set(waiting);
}

/// `/metrics`: for the metrics token (a scraper) or a staff member's token.
async fn metrics_text(State(http): State<Http>, headers: HeaderMap) -> Response {
    let header = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok());
    let scraper = http.state.metrics_token_hash.get().is_some_and(|hash| {
        let token = header.and_then(|h| h.trim_start().split_once(' ')).map(|(_, t)| t.trim()).unwrap_or_default();
        !token.is_empty() && app::auth::token_hash(token) == *hash
    });
    if !scraper {
        match authenticate(&http, &headers) {
            Ok(principal) if principal.is_staff() => {}
            Ok(_) => return refusal(StatusCode::FORBIDDEN, &ApiError::forbidden()),
            Err(response) => return *response,
        }
    }
    match &http.metrics {
        Some(handle) => {
            sample_lag(&http).await;
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
        }
        None => (StatusCode::NOT_FOUND, "metrics are not enabled").into_response(),
    }
}
