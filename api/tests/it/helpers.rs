//! A Directory on a fresh store, driven over HTTP in-process.

use std::sync::Arc;

use app::clock::SystemClock;
use app::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use store::EventLog;
use store::testing::TempStore;
use tower::ServiceExt;

pub const BOOT: &str = "test-bootstrap-token";

pub struct TestApp {
    pub router: Router,
    pub state: Arc<AppState>,
    store: TempStore,
}

impl TestApp {
    pub async fn start(kind: &str) -> TestApp {
        let store = TempStore::of_kind(kind).await;
        let log = EventLog::connect(&store.url).await.expect("store");
        let state = Arc::new(AppState::start(log, Arc::new(SystemClock), Some(BOOT)).await.expect("state"));
        TestApp { router: api::http::router(state.clone(), api::telemetry::metrics()), state, store }
    }

    /// The store's URL, for a test that reaches the database directly.
    pub fn url(&self) -> &str {
        &self.store.url
    }

    /// A second server on the same store, as another process would be.
    pub async fn second_server(&self) -> Arc<AppState> {
        self.server_with_clock(Arc::new(SystemClock)).await
    }

    /// Another server on the same store, with its own clock.
    pub async fn server_with_clock(&self, clock: Arc<dyn app::clock::Clock>) -> Arc<AppState> {
        let log = EventLog::connect(&self.store.url).await.expect("store");
        Arc::new(AppState::start(log, clock, Some(BOOT)).await.expect("state"))
    }

    pub async fn stop(self) {
        self.store.remove().await;
    }

    /// Posts a body; answers the status and the JSON body.
    pub async fn post(&self, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
        let mut req = Request::post("/graphql").header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let res = self.router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let res = self.router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A GET with a bearer token; answers the status, the content type and the body bytes.
    pub async fn get_as(&self, token: Option<&str>, path: &str) -> (StatusCode, String, Vec<u8>) {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let res = self.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let status = res.status();
        let kind = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, kind, bytes.to_vec())
    }

    /// A GET's header (empty when absent).
    pub async fn header_of(&self, token: &str, path: &str, name: &str) -> String {
        let req = Request::get(path).header("authorization", format!("Bearer {token}"));
        let res = self.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    /// A GET with a bearer token and an `If-None-Match`; answers the status and the ETag.
    pub async fn get_etag(&self, token: &str, path: &str, if_none_match: Option<&str>) -> (StatusCode, String) {
        let mut req = Request::get(path).header("authorization", format!("Bearer {token}"));
        if let Some(tag) = if_none_match {
            req = req.header("if-none-match", tag);
        }
        let res = self.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let tag = res.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        (res.status(), tag)
    }

    /// Runs a GraphQL operation; answers the whole response (data and errors).
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Value {
        let body = serde_json::to_vec(&json!({ "query": query, "variables": variables })).unwrap();
        let (status, value) = self.post(Some(token), body).await;
        assert_eq!(status, StatusCode::OK, "{value}");
        value
    }

    /// Runs an operation that must succeed; answers its data.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let res = self.gql(token, query, variables).await;
        assert!(res.get("errors").is_none(), "unexpected errors: {res}");
        res["data"].clone()
    }

    /// Runs an operation that must be refused; answers its error code.
    pub async fn code(&self, token: &str, query: &str, variables: Value) -> String {
        let res = self.gql(token, query, variables).await;
        res["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("expected an error: {res}")).to_owned()
    }

    pub async fn head(&self) -> i64 {
        self.state.bus.log.head().await.unwrap().position
    }
}

/// A GraphQL request as staff to one server's router (another server on the store, say).
pub async fn ask(router: &axum::Router, query: &str, variables: Value) -> Value {
    let body = serde_json::to_vec(&json!({"query": query, "variables": variables})).unwrap();
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {BOOT}"))
        .body(Body::from(body))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The text of a PDF, as `pdftotext -layout` extracts it.
pub fn pdftotext(pdf: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("pdftotext")
        .args(["-layout", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("pdftotext (poppler-utils) is installed");
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8(out.stdout).unwrap()
}

/// What a PDF tool (poppler's `pdffonts`, `pdfdetach`, …, and `qpdf`) prints of a PDF.
pub fn pdf_tool(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("directory-{}-{tool}-{}.pdf", std::process::id(), pdf.len()));
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new(tool).args(args).arg(&path).output();
    let _ = std::fs::remove_file(&path);
    let out = out.unwrap_or_else(|e| panic!("{tool} (poppler-utils, qpdf) is installed: {e}"));
    assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Validates a Cross Industry Invoice as a German public-sector receiver would
/// (`validate_einvoice.py`: the EN 16931 CII schema, the EN 16931 Schematron, the XRechnung
/// CIUS rules); answers the warnings, or every error with the warnings.
pub fn validate_cii(xml: &[u8]) -> Result<Vec<String>, String> {
    validate_einvoice(xml, &[])
}

/// Validates a hybrid invoice PDF: its Factur-X container declarations, then the XML it
/// carries under the EN 16931 profile; answers as [`validate_cii`].
pub fn validate_hybrid(pdf: &[u8]) -> Result<Vec<String>, String> {
    validate_einvoice(pdf, &["--pdf"])
}

fn validate_einvoice(input: &[u8], args: &[&str]) -> Result<Vec<String>, String> {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/validate_einvoice.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with factur-x, saxonche and verifyhash-einvoice is installed");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the validator ran: {}", String::from_utf8_lossy(&out.stderr));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the validator answers JSON");
    let list = |key: &str| -> Vec<String> {
        found[key].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect()
    };
    let (errors, warnings) = (list("errors"), list("warnings"));
    if errors.is_empty() { Ok(warnings) } else { Err(format!("errors: {errors:#?}\nwarnings: {warnings:#?}")) }
}

/// Runs one async test body against both stores.
macro_rules! both_stores {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = TestApp::start("sqlite").await;
                ($body)(&app).await;
                app.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = TestApp::start("postgres").await;
                ($body)(&app).await;
                app.stop().await;
            }
        }
    };
}
pub(crate) use both_stores;
